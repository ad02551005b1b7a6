import type { CategoryId, EventContext } from './types.js'
import type { FailureState, FailureStatus, LifecycleChange } from './lifecycle.js'
import { isoTime as iso } from './report.js'

// The change feed's vocabulary: every lifecycle change of a failure, as one durable fact with a
// per-tenant sequence number. Pure types and helpers; the stores write and read the rows.

export const CHANGE_TYPES = ['failure.opened', 'failure.reopened', 'failure.resolved', 'failure.stalled'] as const
export type ChangeType = typeof CHANGE_TYPES[number]

/** The failure as it stands right after the change. */
export interface ChangeFailure {
  firstSeenAt: number
  lastSeenAt: number
  occurrences: number
  reopenCount: number
  lastCode: string | null
  lastMessage: string
  resolvedAt: number | null
  context: EventContext
}

export interface Change {
  /** Per tenant, strictly increasing, committed in order (no gap that later fills in). */
  seq: number
  tenantId: string
  type: ChangeType
  batchId: string
  mailbox: string
  category: CategoryId
  rule: string
  /** The failure's status after the change. */
  status: FailureStatus
  /** Epoch ms: when the lifecycle moment happened (event time, or the moment a mailbox became stalled). */
  occurredAt: number
  /** Epoch ms: when the change was committed. */
  recordedAt: number
  failure: ChangeFailure
}

export interface ChangeQuery {
  after: number
  batchId?: string | null
  types?: ChangeType[]
  limit: number
}

/** A change as a write computes it, before the store numbers and stamps it. */
export type ChangeDraft = Omit<Change, 'seq' | 'tenantId' | 'recordedAt'>

export function isChangeType (value: string): value is ChangeType {
  return (CHANGE_TYPES as readonly string[]).includes(value)
}

export function changeFailure (failure: FailureState): ChangeFailure {
  return {
    firstSeenAt: failure.firstSeenAt,
    lastSeenAt: failure.lastSeenAt,
    occurrences: failure.occurrences,
    reopenCount: failure.reopenCount,
    lastCode: failure.lastCode,
    lastMessage: failure.lastMessage,
    resolvedAt: failure.resolvedAt,
    context: failure.context
  }
}

const TYPE_OF_KIND: Record<LifecycleChange['kind'], ChangeType> = {
  opened: 'failure.opened',
  reopened: 'failure.reopened',
  resolved: 'failure.resolved'
}

/** The feed's draft of a lifecycle change that an event write caused, from the failure as it is after it. */
export function draftFromLifecycle (change: LifecycleChange, where: { batchId: string, mailbox: string }, failure: FailureState): ChangeDraft {
  return {
    type: TYPE_OF_KIND[change.kind],
    batchId: where.batchId,
    mailbox: where.mailbox,
    category: failure.category,
    rule: failure.rule,
    status: failure.status,
    occurredAt: change.at,
    failure: changeFailure(failure)
  }
}

/** The draft of a stall the sweep opened or reopened: it happened when the mailbox crossed STALL_AFTER (lastSeenAt). */
export function draftFromStall (where: { batchId: string, mailbox: string }, failure: FailureState): ChangeDraft {
  return {
    type: 'failure.stalled',
    batchId: where.batchId,
    mailbox: where.mailbox,
    category: failure.category,
    rule: failure.rule,
    status: failure.status,
    occurredAt: failure.lastSeenAt,
    failure: changeFailure(failure)
  }
}

/** Numbers drafts from `firstSeq` on, in order, as one commit appends them. */
export function numberChanges (tenantId: string, drafts: ChangeDraft[], firstSeq: number, recordedAt: number): Change[] {
  return drafts.map((draft, index) => ({ ...draft, seq: firstSeq + index, tenantId, recordedAt }))
}

/** A change as the API and webhooks show it: times as RFC 3339, no tenant (the key implies it). */
export interface ChangeBody {
  seq: number
  type: ChangeType
  batchId: string
  mailbox: string
  category: CategoryId
  rule: string
  status: FailureStatus
  occurredAt: string
  recordedAt: string
  failure: Omit<ChangeFailure, 'firstSeenAt' | 'lastSeenAt' | 'resolvedAt'> & { firstSeenAt: string, lastSeenAt: string, resolvedAt: string | null }
}

export function changeBody (change: Change): ChangeBody {
  const { failure } = change
  return {
    seq: change.seq,
    type: change.type,
    batchId: change.batchId,
    mailbox: change.mailbox,
    category: change.category,
    rule: change.rule,
    status: change.status,
    occurredAt: iso(change.occurredAt),
    recordedAt: iso(change.recordedAt),
    failure: {
      firstSeenAt: iso(failure.firstSeenAt),
      lastSeenAt: iso(failure.lastSeenAt),
      occurrences: failure.occurrences,
      reopenCount: failure.reopenCount,
      lastCode: failure.lastCode,
      lastMessage: failure.lastMessage,
      resolvedAt: failure.resolvedAt === null ? null : iso(failure.resolvedAt),
      context: failure.context
    }
  }
}
