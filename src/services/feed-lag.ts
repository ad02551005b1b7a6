// How far a change-feed consumer (the webhook dispatcher, the e-mail digester) is behind, as
// its passes see it: each subscription, when a pass starts reading it, is behind by the changes
// after its cursor up to the tenant's newest (change_counters, one row) and by the age of the
// first of them (the first change the pass reads anyway). No extra read when it is up to date.

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
   * A subscription of the pass: `first` is the first change after its cursor (undefined when
   * there is none); `latestSeq` reads the tenant's newest seq, called only when there is one.
   */
  async observe (cursor: number, first: { seq: number, recordedAt: number } | undefined, latestSeq: () => Promise<number>): Promise<void> {
    if (first === undefined) return
    this.changes = Math.max(this.changes, Math.max(await latestSeq(), first.seq) - cursor)
    this.seconds = Math.max(this.seconds, (this.clock() - first.recordedAt) / 1000)
  }

  finish (): FeedLagReading {
    return { changes: this.changes, seconds: this.seconds, at: this.clock() }
  }
}
