import { draftFromStall, type Change, type ChangeDraft } from '../domain/changes.js'
import type { CategoryId, FailureState, StallDetection } from '../domain/index.js'
import { isStale, type SweepMailboxRow } from './change-rows.js'

// One chunk of the background stall sweep, shared by both dialects (as event-recorder.ts is for
// writes): a dialect supplies the statements and runs this inside one transaction.

export interface SweepingTx {
  /** Up to `limit` mailboxes of the batch after `after` in name order (primary-key order). */
  nextMailboxes (tenantId: string, batchId: string, after: string | null, limit: number): Promise<SweepMailboxRow[]>
  /** Holds these mailboxes against concurrent writers until the transaction ends; returns them as they are now. */
  holdMailboxes (tenantId: string, batchId: string, rows: SweepMailboxRow[]): Promise<SweepMailboxRow[]>
  /** The mailboxes among `names` with an open failure of one of `categories`. */
  blockedMailboxes (tenantId: string, batchId: string, names: string[], categories: readonly CategoryId[]): Promise<Set<string>>
  /** Opens (or reopens) the stall of each mailbox; returns the failures it opened or reopened. */
  openStalls (detection: StallDetection, tenantId: string, batchId: string, names: string[]): Promise<Array<FailureState & { batchId: string, mailbox: string }>>
  appendChanges (tenantId: string, drafts: ChangeDraft[], recordedAt: number): Promise<Change[]>
}

export interface SweepChunkResult {
  /** Where the next chunk starts, or null when the batch is done. */
  next: string | null
  changes: Change[]
}

/**
 * Sweeps the next `limit` mailboxes of one batch: each one whose last sync (or first event) is
 * older than the cutoff and that has no open blocking failure (an open stall is one) gets a
 * stall, and each stall opened is a failure.stalled change. The work is bounded by `limit`
 * whatever the batch's size: keys by primary key, then lookups by primary-key prefix.
 */
export async function sweepChunk (
  tx: SweepingTx, tenantId: string, batchId: string, after: string | null, detection: StallDetection, limit: number
): Promise<SweepChunkResult> {
  const rows = await tx.nextMailboxes(tenantId, batchId, after, limit)
  const next = rows.length < limit ? null : rows[rows.length - 1].mailbox
  const stale = rows.filter((row) => isStale(row, detection.cutoff))
  if (stale.length === 0) return { next, changes: [] }
  const held = (await tx.holdMailboxes(tenantId, batchId, stale)).filter((row) => isStale(row, detection.cutoff))
  const blocked = await tx.blockedMailboxes(tenantId, batchId, held.map((row) => row.mailbox), detection.blockingCategories)
  const toStall = held.map((row) => row.mailbox).filter((mailbox) => !blocked.has(mailbox))
  if (toStall.length === 0) return { next, changes: [] }
  const opened = await tx.openStalls(detection, tenantId, batchId, toStall)
  if (opened.length === 0) return { next, changes: [] }
  const now = detection.cutoff + detection.stallAfterMs
  const changes = await tx.appendChanges(tenantId, opened.map((failure) => draftFromStall(failure, failure)), now)
  return { next, changes }
}
