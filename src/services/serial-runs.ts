/**
 * The runs of a background job, one after the other: a call while a run is under way waits for
 * it and then runs again, so what was true when it was called is covered. Each finished run is
 * told to `onRun` with how long it took (metrics).
 */
export class SerialRuns<R> {
  private running: Promise<R> | null = null

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

  /** Resolves when no run is under way. */
  async idle (): Promise<void> {
    while (this.running !== null) await this.running.catch(() => undefined)
  }
}
