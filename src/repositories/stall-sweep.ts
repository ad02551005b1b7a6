import { draftFromStall, type Change, type ChangeDraft } from '../domain/changes.js'
import { CounterDeltas, heldUpSince, type CategoryId, type CounterDelta, type FailureState, type StallDetection } from '../domain/index.js'
import { isStale, type SweepMailboxRow } from './change-rows.js'
import type { MailboxHeldUp } from './stored-rows.js'

// One chunk of the background stall sweep, shared by both dialects (as event-recorder.ts is for
// writes): a dialect supplies the statements and runs this inside one transaction.

export interface SweepingTx {
  /** Up to `limit` mailboxes of the batch after `after` in name order (primary-key order). */
  nextMailboxes (tenantId: string, batchId: string, after: string | null, limit: number): Promise<SweepMailboxRow[]>
  /** Holds these mailboxes against concurrent writers until the transaction ends; returns them as they are now. */
  holdMailboxes (tenantId: string, batchId: string, rows: SweepMailboxRow[]): Promise<SweepMailboxRow[]>
  /** The categories of the open failures of each mailbox among `names` that has any. */
  openCategories (tenantId: string, batchId: string, names: string[]): Promise<Map<string, CategoryId[]>>
  /** Opens (or reopens) the stall of each mailbox; returns the failures it opened or reopened. */
  openStalls (detection: StallDetection, tenantId: string, batchId: string, names: string[]): Promise<Array<FailureState & { batchId: string, mailbox: string }>>
  /** Sets these mailboxes' heldUpSince (see heldUpSet). */
  setHeldUp (tenantId: string, batchId: string, heldUp: MailboxHeldUp[]): Promise<void>
  addCounters (tenantId: string, deltas: CounterDelta[]): Promise<void>
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
  const open = await tx.openCategories(tenantId, batchId, held.map((row) => row.mailbox))
  const toStall = held.map((row) => row.mailbox)
    .filter((mailbox) => !(open.get(mailbox) ?? []).some((category) => detection.blockingCategories.includes(category)))
  if (toStall.length === 0) return { next, changes: [] }
  const opened = await tx.openStalls(detection, tenantId, batchId, toStall)
  if (opened.length === 0) return { next, changes: [] }
  // The batch's counters and the mailboxes' heldUpSince move in the same transaction.
  const counters = new CounterDeltas()
  for (const failure of opened) {
    const before = (open.get(failure.mailbox) ?? []).map((category) => ({ category, status: 'open' as const }))
    counters.add(batchId, before, [...before, { category: failure.category, status: 'open' }])
  }
  // A stalled mailbox had no open blocking failure: the stall is its only one, so its heldUpSince
  // is the stall's, computed here rather than looked up again among the batch's failures.
  const lastSync = new Map(held.map((row) => [row.mailbox, row.lastSyncedAt]))
  await tx.setHeldUp(tenantId, batchId, opened.flatMap((failure) => {
    const since = heldUpSince(failure, lastSync.get(failure.mailbox) ?? null)
    return since === null ? [] : [{ mailbox: failure.mailbox, heldUpSince: since }]
  }))
  await tx.addCounters(tenantId, counters.rows())
  const now = detection.cutoff + detection.stallAfterMs
  const changes = await tx.appendChanges(tenantId, opened.map((failure) => draftFromStall(failure, failure)), now)
  return { next, changes }
}
