import { CATEGORIES } from './categories.js'
import type { FailureStatus } from './lifecycle.js'
import { heldUpSince } from './report.js'
import { STALL_CATEGORY, type BatchCounts } from './stall.js'
import type { CategoryId } from './types.js'

// Batch summaries kept by the writes that change them. Each mailbox adds a few named counts to
// its batch (seen, with an open failure, blocked, stalled, one per open category); a write adds
// what the mailboxes it changed add now minus what they added before, in its own transaction,
// so reading a summary costs a handful of rows whatever the batch's size.

/** The failures of a mailbox as far as its counts go. */
export type CountedFailures = ReadonlyArray<{ category: CategoryId, status: FailureStatus }>

const SEEN = 'mailboxesSeen'
const WITH_OPEN = 'mailboxesWithOpenFailures'
const BLOCKED = 'mailboxesBlocked'
const STALLED = 'mailboxesStalled'
const OPEN_PREFIX = 'open:'

/** The prefix of the counters of open failures (open:<category>). */
export const OPEN_COUNTER_PREFIX = OPEN_PREFIX

/** Name of the counter of a batch's open failures of one category. */
export function openCounter (category: CategoryId): string {
  return `${OPEN_PREFIX}${category}`
}

/** The counter every stored mailbox adds 1 to: a batch that has a row of it has counters. */
export const SEEN_COUNTER = SEEN

/** The named counts one mailbox adds to its batch; a mailbox not stored (null) adds nothing. */
export function mailboxCounters (failures: CountedFailures | null): Array<[string, number]> {
  if (failures === null) return []
  const open = failures.filter((failure) => failure.status === 'open')
  const counters: Array<[string, number]> = [[SEEN, 1]]
  if (open.length > 0) counters.push([WITH_OPEN, 1])
  if (open.some((failure) => CATEGORIES[failure.category].blocking)) counters.push([BLOCKED, 1])
  if (open.some((failure) => failure.category === STALL_CATEGORY)) counters.push([STALLED, 1])
  for (const failure of open) counters.push([openCounter(failure.category), 1])
  return counters
}

/** One counter's change in one batch. */
export interface CounterDelta {
  batchId: string
  name: string
  delta: number
}

/** What a transaction adds to its batches' counters, mailbox by mailbox. */
export class CounterDeltas {
  private readonly byBatch = new Map<string, Map<string, number>>()

  /** A mailbox of `batchId` went from `before` to `after` (null: not stored). */
  add (batchId: string, before: CountedFailures | null, after: CountedFailures | null): void {
    let counters = this.byBatch.get(batchId)
    if (counters === undefined) {
      counters = new Map()
      this.byBatch.set(batchId, counters)
    }
    for (const [name, value] of mailboxCounters(after)) counters.set(name, (counters.get(name) ?? 0) + value)
    for (const [name, value] of mailboxCounters(before)) counters.set(name, (counters.get(name) ?? 0) - value)
  }

  /** The changes that are not zero, in (batch, name) order: concurrent writers lock the rows in one order. */
  rows (): CounterDelta[] {
    const rows: CounterDelta[] = []
    for (const [batchId, counters] of this.byBatch) {
      for (const [name, delta] of counters) if (delta !== 0) rows.push({ batchId, name, delta })
    }
    return rows.sort((a, b) => a.batchId < b.batchId ? -1 : a.batchId > b.batchId ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  }
}

/** A batch's counts from its stored counters (absent ones are zero; categories with none open are left out). */
export function countsFromCounters (rows: Iterable<{ name: string, value: number }>): BatchCounts {
  const counts: BatchCounts = {
    mailboxesSeen: 0, mailboxesWithOpenFailures: 0, mailboxesBlocked: 0, mailboxesStalled: 0, openFailures: 0, byCategory: {}
  }
  for (const { name, value } of rows) {
    if (name === SEEN) counts.mailboxesSeen = value
    else if (name === WITH_OPEN) counts.mailboxesWithOpenFailures = value
    else if (name === BLOCKED) counts.mailboxesBlocked = value
    else if (name === STALLED) counts.mailboxesStalled = value
    else if (name.startsWith(OPEN_PREFIX) && value > 0) {
      counts.byCategory[name.slice(OPEN_PREFIX.length) as CategoryId] = value
      counts.openFailures += value
    }
  }
  return counts
}

/** The stored counters that give `counts` (see countsFromCounters), as deltas from nothing. */
export function countersOf (batchId: string, counts: BatchCounts): CounterDelta[] {
  const named: Array<[string, number]> = [
    [SEEN, counts.mailboxesSeen], [WITH_OPEN, counts.mailboxesWithOpenFailures], [BLOCKED, counts.mailboxesBlocked], [STALLED, counts.mailboxesStalled],
    ...Object.entries(counts.byCategory).map(([category, value]): [string, number] => [openCounter(category as CategoryId), value ?? 0])
  ]
  return named.filter(([name, value]) => value !== 0 || name === SEEN).map(([name, delta]) => ({ batchId, name, delta }))
}

/**
 * The earliest heldUpSince of the mailbox's open blocking failures, or null when none is open:
 * stored on the mailbox, so the batch's oldest blocking failure is one index lookup away.
 */
export function mailboxHeldUpSince (
  failures: ReadonlyArray<{ category: CategoryId, status: FailureStatus, firstSeenAt: number }>, lastSyncedAt: number | null
): number | null {
  let earliest: number | null = null
  for (const failure of failures) {
    const since = heldUpSince(failure, lastSyncedAt)
    if (since !== null && (earliest === null || since < earliest)) earliest = since
  }
  return earliest
}
