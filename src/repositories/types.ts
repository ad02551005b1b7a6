import type { CategoryId, EventContext } from '../domain/types.js'
import type { Change, ChangeQuery } from '../domain/changes.js'
import type { BatchKey } from './change-rows.js'
import type { SweepChunkResult } from './stall-sweep.js'
import type { PurgeChunkResult } from './retention.js'

export type { BatchKey, PurgeChunkResult, SweepChunkResult }
import type {
  BatchCounts, ClassifiedEvent, FailureState, FailureStatus, LifecycleEvent, StallDetection
} from '../domain/index.js'

export type { BatchCounts, ClassifiedEvent, StallDetection }

/** Background jobs of which one instance of a deployment runs at a time (each has its lease). */
export type BackgroundJob = 'stall-sweep' | 'retention'

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
  /** Lifecycle changes this write caused, as the change feed stored them (same transaction). */
  changes: Change[]
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
  /** When the service received the batch's first event (server clock); never changes. */
  createdAt: number
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
  /** Mailboxes whose (lower-cased) address contains this text, taken literally; absent or null: any. */
  mailboxContains?: string | null
  /** lastSeenAt at or after this time (inclusive). */
  since: number | null
  /** lastSeenAt before this time (exclusive). */
  until: number | null
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

/** Position in the batch list: creation (createdAt) descending, then batchId. */
export interface BatchPosition {
  createdAt: number
  batchId: string
}

export interface BatchPage {
  items: BatchRecord[]
  next: BatchPosition | null
}

export interface MailboxRecord {
  batchId: string
  mailbox: string
  firstEventAt: number
  lastEventAt: number
  lastSyncedAt: number | null
  lastFailedAt: number | null
  eventCount: number
}

/** One stored event of a mailbox, as its history shows it. */
export interface EventRecord extends LifecycleEvent {
  id: string
  receivedAt: number
}

/** Position in a mailbox's history: occurredAt descending, then seq descending. */
export interface EventPosition {
  occurredAt: number
  seq: number
}

export interface EventPage {
  items: EventRecord[]
  next: EventPosition | null
}

/** The open blocking failure that has held new mail up longest. */
export interface HeldUpFailure {
  failure: FailureRecord
  /** The later of the failure's firstSeenAt and the mailbox's last sync. */
  heldUpSince: number
}

export interface ReadinessState {
  reachable: boolean
  migrated: boolean
  /** False while writes cannot commit because the disk is full; absent when nothing is known against it. */
  writable?: boolean
  detail?: string
}

/** True for a driver error that says the database's disk is full (SQLite SQLITE_FULL, PostgreSQL 53100). */
export function isStorageFull (error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'SQLITE_FULL' || code === '53100'
}

/** Connections of a PostgreSQL pool right now. */
export interface PoolStats {
  max: number
  total: number
  idle: number
  waiting: number
}

export interface FailureRepository {
  readonly dialect: 'sqlite' | 'postgres'
  /** Stores events and advances their failures in one transaction: all or nothing. */
  recordEvents (tenantId: string, events: ClassifiedEvent[], receivedAt: number): Promise<RecordResult>
  findBatch (tenantId: string, batchId: string): Promise<BatchRecord | null>
  /** Highest event seq committed so far: the snapshot a cursor walk is consistent with. */
  currentSeq (): Promise<number>
  /**
   * One page of a batch's failures in report order. Failures changed after `snapshotSeq` are
   * placed where they stood at that snapshot, so a cursor walk meets each failure once.
   */
  listFailures (tenantId: string, batchId: string, request: FailurePageRequest): Promise<FailurePage>
  /** Up to `limit` batches of every tenant after `after`, in (tenant, batch) order: the stall sweep's walk. */
  listSweepBatches (after: BatchKey | null, limit: number): Promise<BatchKey[]>
  /**
   * One bounded chunk of the stall sweep over a batch (see sweepChunk), in one transaction,
   * its failure.stalled changes included. Safe when several instances sweep at once.
   */
  sweepStalls (tenantId: string, batchId: string, after: string | null, detection: StallDetection, limit: number): Promise<SweepChunkResult>
  /** Runs `work` while this instance holds the job's lease; false (and nothing run) while another holds it. */
  withLease (job: BackgroundJob, work: () => Promise<void>): Promise<boolean>
  /**
   * One bounded chunk of the retention purge (see purgeChunk): at most `limit` rows of failures
   * resolved before `resolvedBefore` and their events, in one transaction.
   */
  purgeResolved (resolvedBefore: number, limit: number): Promise<PurgeChunkResult>
  /** Gives the space purges freed back to the file system (SQLite, auto_vacuum INCREMENTAL); null where the store does not. */
  reclaimSpace (): Promise<{ pages: number } | null>
  /** The tenant's changes after `query.after`, seq ascending. */
  listChanges (tenantId: string, query: ChangeQuery): Promise<Change[]>
  /** The tenant's last change seq; 0 when none. */
  latestChangeSeq (tenantId: string): Promise<number>
  /** Called after a commit that appended changes of a tenant (on PostgreSQL also for other instances' commits). */
  onChangesAppended (listener: (tenantId: string) => void): () => void
  /** Deletes up to `limit` changes recorded before `recordedBefore`; returns how many. */
  purgeChanges (recordedBefore: number, limit: number): Promise<number>
  /** The tenant's batches, newest (createdAt) first, then by batchId: a key no event changes, so paging meets each batch once. */
  listBatches (tenantId: string, after: BatchPosition | null, limit: number): Promise<BatchPage>
  /** Mailbox and open-failure counts of each listed batch that exists, from the counters its writes keep. */
  countBatches (tenantId: string, batchIds: string[]): Promise<Map<string, BatchCounts>>
  /** The same counts recounted from the stored rows, a scan of each batch: for the backfill and as the tests' reference. */
  recountBatches (tenantId: string, batchIds: string[]): Promise<Map<string, BatchCounts>>
  /** The open failure of a blocking category with the earliest heldUpSince, or null. */
  oldestBlockingFailure (tenantId: string, batchId: string): Promise<HeldUpFailure | null>
  findMailbox (tenantId: string, batchId: string, mailbox: string): Promise<MailboxRecord | null>
  /** lastSyncedAt of each of these mailboxes of the batch that exists (null: never synced). */
  lastSyncs (tenantId: string, batchId: string, mailboxes: string[]): Promise<Map<string, number | null>>
  /** One page of a mailbox's events, newest (occurredAt, then seq) first. */
  listMailboxEvents (tenantId: string, batchId: string, mailbox: string, after: EventPosition | null, limit: number): Promise<EventPage>
  /** Up to `limit` distinct mailboxes after `after` (by name) with an open failure of these categories. */
  listMailboxesWithOpenFailures (tenantId: string, batchId: string, categories: CategoryId[], after: string | null, limit: number): Promise<string[]>
  /** Open failures of every tenant per category (at most one row per category). */
  countOpenFailuresByCategory (): Promise<Array<{ category: string, count: number }>>
  /** The connection pool's use; null on SQLite (one connection, no pool). */
  poolStats (): PoolStats | null
  readiness (): Promise<ReadinessState>
  close (): Promise<void>
}

export type { EventContext }
