import type { CategoryId, EventContext } from '../domain/types.js'
import type { ClassifiedEvent, FailureState, FailureStatus, LifecycleChange } from '../domain/index.js'

export type { ClassifiedEvent }

export interface RecordOutcome {
  id: string
  duplicate: boolean
  category: CategoryId | null
  rule: string | null
  /** Status of the event's failure once the event is applied; null for a `synced` event. */
  failureStatus: FailureStatus | null
}

export interface RecordResult {
  outcomes: RecordOutcome[]
  /** Lifecycle changes this write caused, per mailbox, for the consumers of domain events. */
  changes: Array<LifecycleChange & { batchId: string, mailbox: string }>
}

/** Thrown when an event id was already stored with different content; nothing is written. */
export class EventConflictError extends Error {
  override name = 'EventConflictError'
  constructor (readonly index: number, readonly eventId: string) {
    super(`event "${eventId}" was already recorded with different content`)
  }
}

/**
 * The store cannot be reached (down, restarting, failing over, out of connections). The
 * request may succeed when retried later; HTTP answers 503 with retry-after.
 */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError'
  readonly statusCode = 503
  constructor (cause: unknown) {
    super('the database is unavailable', { cause })
  }
}

export interface BatchRecord {
  batchId: string
  firstEventAt: number
  lastEventAt: number
}

export interface FailureRecord extends FailureState {
  batchId: string
  mailbox: string
}

export interface BatchSummary {
  openFailures: number
  mailboxesFailing: number
  byCategory: Partial<Record<CategoryId, number>>
}

export type StatusFilter = FailureStatus | 'all'

export interface FailureFilter {
  status: StatusFilter
  categories: CategoryId[]
  mailbox: string | null
}

/** Position in the report order: lastSeenAt descending, then mailbox, then category. */
export interface ReportPosition {
  lastSeenAt: number
  mailbox: string
  category: string
}

export interface FailurePageRequest {
  filter: FailureFilter
  after: ReportPosition | null
  /** Events with a higher seq arrived after the first page; see listFailures. */
  snapshotSeq: number
  limit: number
}

export interface FailurePage {
  items: FailureRecord[]
  /** Where the next page starts, or null on the last page. */
  next: ReportPosition | null
}

export interface ReadinessState {
  reachable: boolean
  migrated: boolean
  detail?: string
}

export interface FailureRepository {
  readonly dialect: 'sqlite' | 'postgres'
  /** Stores events and advances their failures in one transaction: all or nothing. */
  recordEvents (tenantId: string, events: ClassifiedEvent[], receivedAt: number): Promise<RecordResult>
  findBatch (tenantId: string, batchId: string): Promise<BatchRecord | null>
  summarizeBatch (tenantId: string, batchId: string): Promise<BatchSummary>
  /** Highest event seq committed so far: the snapshot a cursor walk is consistent with. */
  currentSeq (): Promise<number>
  /**
   * One page of a batch's failures in report order. Failures changed after `snapshotSeq` are
   * placed where they stood at that snapshot, so a cursor walk meets each failure once.
   */
  listFailures (tenantId: string, batchId: string, request: FailurePageRequest): Promise<FailurePage>
  readiness (): Promise<ReadinessState>
  close (): Promise<void>
}

export type { EventContext }
