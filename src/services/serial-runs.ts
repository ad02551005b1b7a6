/**
 * The runs of a background job, one after the other: a call while a run is under way waits for
 * it and then runs again, so what was true when it was called is covered. Each finished run is
 * told to `onRun` with how long it took (metrics).
 */
export class SerialRuns<R> {
  private running: Promise<R> | null = null
  private stopRequested = false

  constructor (private readonly work: () => Promise<R>, private readonly onRun?: (result: R, seconds: number) => void) {}

  async runOnce (): Promise<R> {
    const previous = this.running
    const run = (async () => {
      if (previous !== null) await previous.catch(() => undefined)
      const started = performance.now()
      const result = await this.work()
      this.onRun?.(result, (performance.now() - started) / 1000)
      return result
    })()
    this.running = run
    try {
      return await run
    } finally {
      if (this.running === run) this.running = null
    }
  }

  /**
   * Asks the run under way, and every later one, to end at its next chunk boundary: a job checks
   * `stopping` between chunks, so the service's shutdown waits for one chunk, not for the rest of
   * a sweep over every batch (which outlasted the shutdown grace period at 10,000 mailboxes).
   */
  stop (): void {
    this.stopRequested = true
  }

  get stopping (): boolean {
    return this.stopRequested
  }

  /** Resolves when no run is under way. */
  async idle (): Promise<void> {
    while (this.running !== null) await this.running.catch(() => undefined)
  }
}
