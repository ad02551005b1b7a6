import { setImmediate as yieldToLoop } from 'node:timers/promises'
import type { FailureRepository } from '../repositories/types.js'
import { SerialRuns } from './serial-runs.js'

// The retention purge (RETENTION_RESOLVED): failures resolved longer ago than the retention,
// and their events, deleted in bounded chunks that yield to the event loop between them, by
// one instance per deployment at a time (the store's lease). What a chunk deletes and why the
// reports stay the same: src/repositories/retention.ts.

/** Rows (failures and events together) one purge transaction deletes at most. */
export const PURGE_CHUNK = 500

export interface PurgeRun {
  /** False when another instance held the lease and this one did nothing. */
  purged: boolean
  failures: number
  events: number
  /** Transactions the run took. */
  chunks: number
  /** Pages given back to the file system (SQLite with auto_vacuum INCREMENTAL); null where the store does not. */
  reclaimedPages: number | null
}

export interface RetentionPurgeOptions {
  repository: FailureRepository
  clock: () => number
  /** Resolved failures older than this (resolvedAt before now minus it) are purged. */
  retentionMs: number
  chunk?: number
  /** Told of every finished run and how long it took (metrics). */
  onRun?: (run: PurgeRun, seconds: number) => void
}

export class RetentionPurge {
  private readonly runs: SerialRuns<PurgeRun>
  private readonly chunk: number

  constructor (private readonly options: RetentionPurgeOptions) {
    this.chunk = options.chunk ?? PURGE_CHUNK
    this.runs = new SerialRuns(async () => await this.purge(), options.onRun)
  }

  /** Purges everything resolved before the clock's now minus the retention, then gives the space back. */
  async runOnce (): Promise<PurgeRun> {
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

  private async purge (): Promise<PurgeRun> {
    const { repository, clock, retentionMs } = this.options
    const resolvedBefore = clock() - retentionMs
    const run: PurgeRun = { purged: false, failures: 0, events: 0, chunks: 0, reclaimedPages: null }
    run.purged = await repository.withLease('retention', async () => {
      for (;;) {
        const chunk = await repository.purgeResolved(resolvedBefore, this.chunk)
        run.chunks += 1
        run.failures += chunk.failures
        run.events += chunk.events
        if (!chunk.more) break
        if (this.runs.stopping) return
        // Other requests run between chunks.
        await yieldToLoop()
      }
      // Also gives back what other purges (change feed, webhook deliveries) freed.
      run.reclaimedPages = (await repository.reclaimSpace())?.pages ?? null
    })
    return run
  }
}
