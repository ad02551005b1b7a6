// How far a change-feed consumer (the webhook dispatcher, the e-mail digester) is behind, as
// its passes see it: each subscription, when a pass starts reading it, is behind by the changes
// after its cursor up to the tenant's newest and by the age of the first of them, both from the
// first chunk the pass reads anyway; only a subscription a whole chunk behind costs one more
// read (the tenant's row of change_counters).

/** A consumer's lag as its last pass saw it, the worst of its subscriptions. */
export interface FeedLagReading {
  /** Changes after the cursor, up to the newest, when the pass started on the subscription. */
  changes: number
  /** Age in seconds of the first of those changes when the pass reached it (0 when there were none). */
  seconds: number
  /** When the pass ended (ms, the service's clock). */
  at: number
}

/** Collects one pass's lag, subscription by subscription. */
export class FeedLagPass {
  private changes = 0
  private seconds = 0

  constructor (private readonly clock: () => number) {}

  /**
   * A subscription of the pass: `chunk` is the first read after its cursor (at most `limit`
   * changes). A chunk short of the limit reached the newest change; only a full one asks
   * `latestSeq` for the tenant's newest seq.
   */
  async observe (cursor: number, chunk: ReadonlyArray<{ seq: number, recordedAt: number }>, limit: number, latestSeq: () => Promise<number>): Promise<void> {
    if (chunk.length === 0) return
    const last = chunk[chunk.length - 1].seq
    const newest = chunk.length < limit ? last : Math.max(await latestSeq(), last)
    this.changes = Math.max(this.changes, newest - cursor)
    this.seconds = Math.max(this.seconds, (this.clock() - chunk[0].recordedAt) / 1000)
  }

  finish (): FeedLagReading {
    return { changes: this.changes, seconds: this.seconds, at: this.clock() }
  }
}
