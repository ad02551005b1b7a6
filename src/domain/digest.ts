import type { CategoryId } from './types.js'
import type { Change, ChangeType } from './changes.js'

// Digest grouping, shared by webhook digests and e-mail digests: changes are grouped per batch;
// a quiet group's first message waits groupWait (so a burst arrives as one message), later
// ones come at most every groupInterval. Pure: the callers keep the state and the clock.

export interface DigestTiming {
  groupWaitMs: number
  groupIntervalMs: number
}

export interface DigestGroupState {
  /** When the oldest change not yet sent was recorded; null when nothing is pending. */
  firstPendingAt: number | null
  /** When the group's last message was sent; null before the first. */
  lastSentAt: number | null
}

/**
 * When the group's next message is due: null when nothing is pending. First message of a quiet
 * group at firstPendingAt + groupWait; later ones no sooner than lastSentAt + groupInterval.
 * A group counts as quiet again once a whole groupInterval passed since its last message with
 * nothing pending, so the first change after a calm is not held back by an old message.
 */
export function digestDueAt (state: DigestGroupState, timing: DigestTiming): number | null {
  if (state.firstPendingAt === null) return null
  const firstDue = state.firstPendingAt + timing.groupWaitMs
  if (state.lastSentAt === null || state.firstPendingAt >= state.lastSentAt + timing.groupIntervalMs) return firstDue
  return Math.max(firstDue, state.lastSentAt + timing.groupIntervalMs)
}

export interface DigestSummary {
  batchId: string
  total: number
  /** At most `max`, newest last. */
  changes: Change[]
  /** Changes left out of `changes`: total - changes.length. */
  more: number
  byCategory: Partial<Record<CategoryId, number>>
  byType: Partial<Record<ChangeType, number>>
}

export const DIGEST_MAX_CHANGES = 100

/**
 * One digest message of a batch's pending changes: totals over all of them, and the newest
 * `max` in seq order (the latest state of a flood matters most; the totals count the rest).
 */
export function summarizeDigest (batchId: string, changes: Change[], max = DIGEST_MAX_CHANGES): DigestSummary {
  const ordered = [...changes].sort((a, b) => a.seq - b.seq)
  const byCategory: Partial<Record<CategoryId, number>> = {}
  const byType: Partial<Record<ChangeType, number>> = {}
  for (const change of ordered) {
    byCategory[change.category] = (byCategory[change.category] ?? 0) + 1
    byType[change.type] = (byType[change.type] ?? 0) + 1
  }
  const listed = max <= 0 ? [] : ordered.slice(-max)
  return { batchId, total: ordered.length, changes: listed, more: ordered.length - listed.length, byCategory, byType }
}

/**
 * Folds more of a batch's pending changes (later seqs than those already folded) into a
 * summary, so a large group can be summarised chunk by chunk in bounded memory.
 */
export function foldDigest (summary: DigestSummary, changes: Change[], max = DIGEST_MAX_CHANGES): DigestSummary {
  const added = summarizeDigest(summary.batchId, changes, max)
  const byCategory = { ...summary.byCategory }
  for (const [category, count] of Object.entries(added.byCategory) as Array<[CategoryId, number]>) byCategory[category] = (byCategory[category] ?? 0) + count
  const byType = { ...summary.byType }
  for (const [type, count] of Object.entries(added.byType) as Array<[ChangeType, number]>) byType[type] = (byType[type] ?? 0) + count
  const listed = max <= 0 ? [] : [...summary.changes, ...added.changes].sort((a, b) => a.seq - b.seq).slice(-max)
  const total = summary.total + added.total
  return { batchId: summary.batchId, total, changes: listed, more: total - listed.length, byCategory, byType }
}
