import { CATEGORY_IDS, type CategoryId } from './types.js'
import { CATEGORIES } from './categories.js'
import type { FailureStatus } from './lifecycle.js'

// The seed's fourth failure, detected by the service itself: a mailbox that has not synced for
// longer than STALL_AFTER, and that no other blocking failure explains, is no longer being
// synchronised. There is no event for it, so the stores sweep for it at read time with an
// idempotent upsert; a `synced` event resolves it like any other failure.

/** Rule id of a stall the service detected (engines may also report `sync_stalled` themselves). */
export const STALL_RULE = 'service.stall-detection'
export const STALL_CATEGORY: CategoryId = 'sync_stalled'

/** Categories whose open failure stops new mail; sync_stalled is one of them. */
export const BLOCKING_CATEGORIES: readonly CategoryId[] = Object.freeze(CATEGORY_IDS.filter((id) => CATEGORIES[id].blocking))

/** What a store needs to sweep a batch for stalls, as of one moment. */
export interface StallDetection {
  /**
   * A mailbox whose last sync (or, if it never synced, first event) is before this time is
   * stalled, unless it has an open failure of `blockingCategories`.
   */
  cutoff: number
  stallAfterMs: number
  blockingCategories: readonly CategoryId[]
  rule: string
  message: string
}

const UNITS: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]]

/** The shortest exact STALL_AFTER-style spelling of a duration: 26h, 90m, 1500ms. */
export function formatDuration (ms: number): string {
  for (const [unit, size] of UNITS) if (ms % size === 0) return `${ms / size}${unit}`
  return `${ms}ms`
}

/**
 * The stall failure's fields, as a store writes them: firstSeenAt is the mailbox's last sync
 * (since then new mail has been held up), lastSeenAt the moment it became stalled. Both
 * follow from stored data only, so every instance writes the same row.
 */
export function stallDetection (now: number, stallAfterMs: number): StallDetection {
  return {
    cutoff: now - stallAfterMs,
    stallAfterMs,
    blockingCategories: BLOCKING_CATEGORIES,
    rule: STALL_RULE,
    message: `No successful sync for longer than ${formatDuration(stallAfterMs)} (STALL_AFTER); ` +
      'new mail is no longer reaching the cloud mailbox.'
  }
}

export type MailboxSyncState = 'syncing' | 'failing' | 'stalled'

/**
 * stalled: an open sync_stalled failure; failing: another open blocking failure; syncing:
 * no open blocking failure (non-blocking ones such as items_skipped do not stop new mail).
 */
export function mailboxSyncState (failures: ReadonlyArray<{ category: CategoryId, status: FailureStatus }>): MailboxSyncState {
  const open = failures.filter((failure) => failure.status === 'open')
  if (open.some((failure) => failure.category === STALL_CATEGORY)) return 'stalled'
  if (open.some((failure) => CATEGORIES[failure.category].blocking)) return 'failing'
  return 'syncing'
}

/** Open-failure counts of one batch, as a store computes them. */
export interface BatchCounts {
  mailboxesSeen: number
  /** Mailboxes with at least one open failure, blocking or not. */
  mailboxesWithOpenFailures: number
  /** Mailboxes with an open failure of a blocking category (sync_stalled included). */
  mailboxesBlocked: number
  /** Mailboxes with an open sync_stalled failure. */
  mailboxesStalled: number
  openFailures: number
  byCategory: Partial<Record<CategoryId, number>>
}

export interface BatchMailboxCounts {
  mailboxesSeen: number
  mailboxesSynced: number
  mailboxesFailing: number
  mailboxesStalled: number
}

/** Mailboxes per sync state; the three states add up to mailboxesSeen. */
export function mailboxCounts (counts: BatchCounts): BatchMailboxCounts {
  return {
    mailboxesSeen: counts.mailboxesSeen,
    mailboxesSynced: counts.mailboxesSeen - counts.mailboxesBlocked,
    mailboxesFailing: counts.mailboxesBlocked - counts.mailboxesStalled,
    mailboxesStalled: counts.mailboxesStalled
  }
}
