import type { CategoryId, EventContext } from './types.js'
import { CATEGORIES } from './categories.js'
import { STALL_CATEGORY, STALL_RULE } from './stall.js'

// The failure lifecycle of one mailbox in one batch, as a fold over its events in occurredAt
// order. The repositories keep the folded state; when an event arrives out of order they
// replay the mailbox's history instead, so the result never depends on arrival order.

export type FailureStatus = 'open' | 'resolved'
export type Outcome = 'failed' | 'synced'

/** One stored event, as the fold needs it. */
export interface LifecycleEvent {
  seq: number
  occurredAt: number
  outcome: Outcome
  category: CategoryId | null
  rule: string | null
  code: string | null
  message: string | null
  context: EventContext
}

export interface FailureState {
  category: CategoryId
  status: FailureStatus
  firstSeenAt: number
  lastSeenAt: number
  occurrences: number
  reopenCount: number
  lastCode: string | null
  lastMessage: string
  rule: string
  resolvedAt: number | null
  /** What the engines said about the migration, latest value of each field. */
  context: EventContext
  /** seq of the last event that changed this failure. */
  seq: number
}

export interface MailboxState {
  firstEventAt: number
  lastEventAt: number
  lastSyncedAt: number | null
  lastFailedAt: number | null
  eventCount: number
  failures: FailureState[]
}

/** A lifecycle change: the one domain event that notifications and streams consume. */
export interface LifecycleChange {
  kind: 'opened' | 'reopened' | 'resolved'
  category: CategoryId
  at: number
}

/** Events in the order the lifecycle is defined by: occurredAt, then arrival. */
export function compareEvents (a: LifecycleEvent, b: LifecycleEvent): number {
  return a.occurredAt - b.occurredAt || a.seq - b.seq
}

/** True when `event` comes after everything already folded into `state`. */
export function isInOrder (state: MailboxState | null, event: LifecycleEvent): boolean {
  return state === null || event.occurredAt >= state.lastEventAt
}

function mergeContext (previous: EventContext, next: EventContext): EventContext {
  const merged: EventContext = { ...previous }
  for (const [key, value] of Object.entries(next) as Array<[keyof EventContext, string | undefined]>) {
    if (value !== undefined) (merged as Record<string, string>)[key] = value
  }
  return merged
}

function applyFailed (failures: FailureState[], event: LifecycleEvent): FailureState[] {
  const category = event.category ?? 'unclassified'
  const existing = failures.find((failure) => failure.category === category)
  const message = event.message ?? ''
  if (existing === undefined) {
    return [...failures, {
      category,
      status: 'open',
      firstSeenAt: event.occurredAt,
      lastSeenAt: event.occurredAt,
      occurrences: 1,
      reopenCount: 0,
      lastCode: event.code,
      lastMessage: message,
      rule: event.rule ?? 'explicit',
      resolvedAt: null,
      context: mergeContext({}, event.context),
      seq: event.seq
    }]
  }
  const reopened = existing.status === 'resolved'
  const updated: FailureState = {
    ...existing,
    status: 'open',
    lastSeenAt: Math.max(existing.lastSeenAt, event.occurredAt),
    occurrences: existing.occurrences + 1,
    reopenCount: existing.reopenCount + (reopened ? 1 : 0),
    lastCode: event.code,
    lastMessage: message,
    rule: event.rule ?? existing.rule,
    resolvedAt: null,
    context: mergeContext(existing.context, event.context),
    seq: event.seq
  }
  return failures.map((failure) => failure === existing ? updated : failure)
}

/**
 * True for a failure that explains a held-up mailbox by itself: a blocking category other than
 * a stall. While one is open, a stall the service detected does not apply (it stands aside).
 */
export function explainsStall (category: CategoryId): boolean {
  return category !== STALL_CATEGORY && CATEGORIES[category].blocking
}

function isDetectedStall (failure: FailureState): boolean {
  return failure.category === STALL_CATEGORY && failure.rule === STALL_RULE
}

/**
 * An open detected stall resolves once a blocking failure explains the mailbox from `at` on:
 * never before the stall's own start (the last sync), so resolvedAt >= firstSeenAt.
 */
function standAside (failures: FailureState[], at: number, seq: number): FailureState[] {
  return failures.map((failure) => failure.status === 'open' && isDetectedStall(failure)
    ? { ...failure, status: 'resolved', resolvedAt: Math.max(at, failure.firstSeenAt), seq }
    : failure)
}

function applySynced (failures: FailureState[], event: LifecycleEvent): FailureState[] {
  return failures.map((failure) => failure.status === 'open'
    ? { ...failure, status: 'resolved', resolvedAt: event.occurredAt, seq: event.seq }
    : failure)
}

/** Folds one event into a mailbox's state. The event must not be older than the state. */
export function applyEvent (state: MailboxState | null, event: LifecycleEvent): MailboxState {
  const base: MailboxState = state ?? {
    firstEventAt: event.occurredAt,
    lastEventAt: event.occurredAt,
    lastSyncedAt: null,
    lastFailedAt: null,
    eventCount: 0,
    failures: []
  }
  const failed = event.outcome === 'failed'
  return {
    firstEventAt: Math.min(base.firstEventAt, event.occurredAt),
    lastEventAt: Math.max(base.lastEventAt, event.occurredAt),
    lastSyncedAt: failed ? base.lastSyncedAt : event.occurredAt,
    lastFailedAt: failed ? event.occurredAt : base.lastFailedAt,
    eventCount: base.eventCount + 1,
    failures: failed ? applyFailedEvent(base.failures, event) : applySynced(base.failures, event)
  }
}

function applyFailedEvent (failures: FailureState[], event: LifecycleEvent): FailureState[] {
  const applied = applyFailed(failures, event)
  return explainsStall(event.category ?? 'unclassified') ? standAside(applied, event.occurredAt, event.seq) : applied
}

/**
 * Since when a blocking failure other than a stall has explained the mailbox without a break:
 * the earliest such failed event after the last sync (no sync resolved it since), or null.
 */
export function blockedSince (events: readonly LifecycleEvent[]): number | null {
  const ordered = [...events].sort(compareEvents)
  let since: number | null = null
  for (const event of ordered) {
    if (event.outcome === 'synced') since = null
    else if (since === null && explainsStall(event.category ?? 'unclassified')) since = event.occurredAt
  }
  return since
}

/** The state a mailbox's whole history produces, whatever order the events arrived in. */
export function replayEvents (events: readonly LifecycleEvent[]): MailboxState | null {
  return [...events].sort(compareEvents).reduce<MailboxState | null>(applyEvent, null)
}

/**
 * Folds newly arrived events into a mailbox: incrementally when they are all newer than what
 * was folded before, otherwise by replaying the whole history (`loadHistory` gives every
 * stored event of the mailbox, the new ones included).
 */
export async function advanceMailbox (
  state: MailboxState | null,
  arrived: readonly LifecycleEvent[],
  loadHistory: () => Promise<LifecycleEvent[]>
): Promise<MailboxState> {
  const ordered = [...arrived].sort(compareEvents)
  if (ordered.length === 0) throw new Error('advanceMailbox needs at least one event')
  if (isInOrder(state, ordered[0])) {
    return ordered.reduce<MailboxState | null>(applyEvent, state) as MailboxState
  }
  const history = await loadHistory()
  const seq = Math.max(...ordered.map((event) => event.seq))
  const replayed = keepAggregates(state as MailboxState, replayEvents(history) as MailboxState, ordered.length)
  return keepDetectedFailures(state, replayed, blockedSince(history), seq)
}

function latest (a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b)
}

/**
 * The mailbox's own figures (first and last event, last sync and failure, event count) cover
 * every event it ever received, also those the retention purge deleted since: a replay folds
 * only the stored ones, so they are carried over from the state before it. With the whole
 * history stored the result is the same as the replay's.
 */
function keepAggregates (before: MailboxState, replayed: MailboxState, arrived: number): MailboxState {
  return {
    ...replayed,
    firstEventAt: Math.min(before.firstEventAt, replayed.firstEventAt),
    lastEventAt: Math.max(before.lastEventAt, replayed.lastEventAt),
    lastSyncedAt: latest(before.lastSyncedAt, replayed.lastSyncedAt),
    lastFailedAt: latest(before.lastFailedAt, replayed.lastFailedAt),
    eventCount: before.eventCount + arrived
  }
}

/**
 * Stalls the service detected have no events, so a replay cannot rebuild them: they carry
 * over. A sync newer than every sync known before resolves an open one; so does a blocking
 * failure that explains the mailbox (`blocked`, see blockedSince), placed by its occurredAt
 * like any other event, whether it is newer than the stall or arrived late.
 */
export function keepDetectedFailures (before: MailboxState | null, after: MailboxState, blocked: number | null = null, seq?: number): MailboxState {
  if (before === null) return after
  const rebuilt = new Set(after.failures.map((failure) => failure.category))
  const lastSyncedAt = after.lastSyncedAt
  const newSync = lastSyncedAt !== null && (before.lastSyncedAt === null || lastSyncedAt > before.lastSyncedAt)
  const carried = before.failures
    .filter((failure) => failure.rule === STALL_RULE && !rebuilt.has(failure.category))
    .map((failure): FailureState => {
      if (failure.status !== 'open') return failure
      if (newSync) return { ...failure, status: 'resolved', resolvedAt: lastSyncedAt }
      if (blocked !== null) return standAside([failure], blocked, seq ?? failure.seq)[0]
      return failure
    })
  return carried.length === 0 ? after : { ...after, failures: [...after.failures, ...carried] }
}

function sameFailure (a: FailureState, b: FailureState): boolean {
  return a.status === b.status && a.lastSeenAt === b.lastSeenAt && a.firstSeenAt === b.firstSeenAt &&
    a.occurrences === b.occurrences && a.reopenCount === b.reopenCount && a.lastCode === b.lastCode &&
    a.lastMessage === b.lastMessage && a.rule === b.rule && a.resolvedAt === b.resolvedAt &&
    JSON.stringify(a.context) === JSON.stringify(b.context)
}

/** Failures of `after` that differ from `before`, and the lifecycle changes between them. */
export function diffMailbox (before: MailboxState | null, after: MailboxState): {
  changed: FailureState[]
  changes: LifecycleChange[]
} {
  const previous = new Map((before?.failures ?? []).map((failure) => [failure.category, failure]))
  const changed: FailureState[] = []
  const changes: LifecycleChange[] = []
  for (const failure of after.failures) {
    const old = previous.get(failure.category)
    if (old !== undefined && sameFailure(old, failure)) continue
    changed.push(failure)
    if (old === undefined) {
      changes.push({ kind: 'opened', category: failure.category, at: failure.firstSeenAt })
    } else if (old.status !== failure.status) {
      changes.push(failure.status === 'open'
        ? { kind: 'reopened', category: failure.category, at: failure.lastSeenAt }
        : { kind: 'resolved', category: failure.category, at: failure.resolvedAt ?? failure.lastSeenAt })
    }
  }
  return { changed, changes }
}
