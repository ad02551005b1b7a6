import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { stallDetection } from '../domain/index.js'
import type { BatchKey, FailureRepository } from '../repositories/types.js'
import { SerialRuns } from './serial-runs.js'

// The background stall sweep: every batch of every tenant, in bounded chunks that yield to the
// event loop between them, one sweeper per deployment (the store's lease). Reads never sweep.

/**
 * Mailboxes one sweep transaction reads and stalls at most, per store. A SQLite chunk is one
 * synchronous transaction: nothing else runs on the event loop from its BEGIN to its COMMIT, so
 * its chunk is small (at 500, bench/sweep.js measured about 80 ms of CPU a chunk and an event-loop
 * delay p99 of 397 ms over a 100,000-mailbox sweep). PostgreSQL's statements are awaited: the
 * loop serves requests while they run, so a bigger chunk costs fewer round trips.
 */
export const SWEEP_CHUNK = { sqlite: 100, postgres: 500 } as const
const BATCH_PAGE = 100

export interface SweepRun {
  /** False when another instance held the lease and this one did nothing. */
  swept: boolean
  batches: number
  stalled: number
}

export interface StallSweepOptions {
  repository: FailureRepository
  clock: () => number
  stallAfterMs: number
  chunk?: number
  /** Told of every finished run and how long it took (metrics). */
  onRun?: (run: SweepRun, seconds: number) => void
}

export class StallSweep {
  private readonly runs: SerialRuns<SweepRun>
  private readonly chunk: number

  constructor (private readonly options: StallSweepOptions) {
    this.chunk = options.chunk ?? SWEEP_CHUNK[options.repository.dialect]
    this.runs = new SerialRuns(async () => await this.sweep(), options.onRun)
  }

  /**
   * Sweeps everything once, as of the clock's now. A call while a run is under way waits for
   * it and then runs again, so what was true when it was called is swept.
   */
  async runOnce (): Promise<SweepRun> {
    return await this.runs.runOnce()
  }

  /** Resolves when no run is under way. */
  async idle (): Promise<void> {
    await this.runs.idle()
  }

  /** Ends the run under way after its current chunk (see SerialRuns.stop); idle() then resolves. */
  stop (): void {
    this.runs.stop()
  }

  private async sweep (): Promise<SweepRun> {
    const { repository, clock, stallAfterMs } = this.options
    const detection = stallDetection(clock(), stallAfterMs)
    const run: SweepRun = { swept: false, batches: 0, stalled: 0 }
    run.swept = await repository.withLease('stall-sweep', async () => {
      let after: BatchKey | null = null
      for (;;) {
        const page = await repository.listSweepBatches(after, BATCH_PAGE)
        for (const { tenantId, batchId } of page) {
          let mailbox: string | null = null
          do {
            const chunk = await repository.sweepStalls(tenantId, batchId, mailbox, detection, this.chunk)
            run.stalled += chunk.changes.length
            mailbox = chunk.next
            if (this.runs.stopping) return
            // Other requests run between chunks.
            await yieldToLoop()
          } while (mailbox !== null)
          run.batches += 1
        }
        if (page.length < BATCH_PAGE) break
        after = page[page.length - 1]
      }
    })
    return run
  }
}

/** Runs `work` every `intervalMs` (first after one interval) until stopped; never keeps the process alive. */
export class BackgroundTimer {
  private timer: NodeJS.Timeout | null = null
  private current: Promise<unknown> | null = null
  private stopped = false

  constructor (private readonly intervalMs: number, private readonly work: () => Promise<unknown>, private readonly onError: (error: unknown) => void) {}

  start (): void {
    if (this.stopped || this.timer !== null) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.current = this.work().catch(this.onError).finally(() => {
        this.current = null
        this.start()
      })
    }, this.intervalMs)
    this.timer.unref()
  }

  /** Stops the timer and waits for a run under way. */
  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    await this.current
  }
}
