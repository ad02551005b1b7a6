import type Database from 'better-sqlite3'
import { and, eq, getTableColumns, is, Param, Placeholder, sql, type SQL, type Table } from 'drizzle-orm'
import {
  countersOf, SEEN_COUNTER, type BatchCounts, type CategoryId, type CounterDelta, type LifecycleEvent, type MailboxState, type StallDetection
} from '../domain/index.js'
import { numberChanges, type Change, type ChangeQuery } from '../domain/changes.js'
import { INCREMENTAL_VACUUM, openSqlite, type SqliteDb } from '../db/sqlite.js'
import { journalLength } from '../db/migrations.js'
import { WalCheckpointer, type CheckpointResult } from '../db/checkpointer.js'
import * as schema from '../db/schema.sqlite.js'
import { batchCounters, changes, events, failures, mailboxes } from '../db/schema.sqlite.js'
import { ReadQueries, reportPageOf, reportScan, type SelectQuery } from './read-queries.js'
import {
  mailboxKey, recordEvents,
  type MailboxKey, type MailboxWrite, type RecordingTx, type SharedWrite, type StoredEventFingerprint
} from './event-recorder.js'
import {
  AppendedListeners, changeValues, type BatchKey, type SweepMailboxRow
} from './change-rows.js'
import { openStalls, sweepChunk, type SweepChunkResult, type SweepingTx } from './stall-sweep.js'
import { purgeChunk, type PurgeChunkResult } from './retention.js'
import {
  addBatchCounts, chunks, eventValues, failureValues, firstCopies,
  heldUpRefresh, heldUpSet, mailboxValues, placeholderFilter, readinessFrom, takeExcluded,
  type BoundFilter, type BoundPosition, type MailboxHeldUp,
  toFailureRecord, toLifecycleEvent, toMailboxState,
  type StoredEventRow, type StoredFailureRow, type StoredMailboxRow,
  openCategoriesOf
} from './stored-rows.js'
import type {
  BatchPage, BatchPosition, BatchRecord, ClassifiedEvent, EventPage, EventPosition,
  BackgroundJob, FailurePage, FailurePageRequest, FailureRecord, FailureRepository, HeldUpFailure, MailboxRecord, ReadinessState, RecordResult
} from './types.js'
import { isStorageFull } from './types.js'
import { statfsSync } from 'node:fs'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { dirname } from 'node:path'

/** Serialises write transactions: one better-sqlite3 connection runs one transaction at a time. */
class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve()
  async run<T> (work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work)
    this.tail = result.catch(() => undefined)
    return await result
  }
}

type Statement = Database.Statement

const EVENT_COLUMNS = 'seq, occurred_at as occurredAt, outcome, category, rule, code, message, context'

type Values = Record<string, unknown>

/**
 * The parameters of a query drizzle built, as a function from named values to the positional
 * list better-sqlite3 binds. It does what drizzle's fillPlaceholders does, but works out once
 * which parameter is which: fillPlaceholders, which checks every parameter on every call, cost
 * about 6 us a bulk event, and binding by name 7 us a 15-column row (both measured).
 */
function positional (params: unknown[]): (values: Values) => unknown[] {
  const slots = params.map((param): (values: Values) => unknown => {
    if (is(param, Placeholder)) return (values) => values[param.name]
    if (is(param, Param) && is(param.value, Placeholder)) {
      const { value: { name }, encoder } = param
      return (values) => encoder.mapToDriverValue(values[name])
    }
    return () => param
  })
  return (values) => slots.map((slot) => slot(values))
}

interface BuiltQuery { toSQL: () => { sql: string, params: unknown[] } }

/** A write drizzle built with placeholders, prepared once and run with a row's named values. */
function preparedWrite (client: Database.Database, query: BuiltQuery): { run: (values: Values) => void, get: (values: Values) => unknown } {
  const { sql: text, params } = query.toSQL()
  const statement = client.prepare(text)
  const bind = positional(params)
  return { run: (values) => { statement.run(bind(values)) }, get: (values) => statement.get(bind(values)) }
}

/** Every column of `table` but `omit` as a placeholder named after its key, for an insert's values. */
function placeholdersFor<T extends Table> (table: T, omit: Array<keyof T['$inferInsert']> = []): { [K in keyof T['$inferInsert']]: Placeholder } {
  return Object.fromEntries(Object.keys(getTableColumns(table)).filter((key) => !omit.includes(key))
    .map((key) => [key, sql.placeholder(key)])) as unknown as { [K in keyof T['$inferInsert']]: Placeholder }
}

/**
 * The write path's statements, prepared once per connection and run row by row: on the hot
 * path, building SQL text per call (as the query builder does) cost more than running it.
 */
class WriteStatements {
  readonly insertEvent: ReturnType<typeof preparedWrite>
  readonly findEvent: Statement
  readonly findMailbox: Statement
  readonly findFailures: (values: Values) => unknown[][]
  readonly history: Statement
  readonly upsertMailbox: ReturnType<typeof preparedWrite>
  readonly upsertFailure: ReturnType<typeof preparedWrite>
  readonly touchBatch: Statement
  readonly bumpCounter: Statement
  readonly addCounter: Statement
  readonly insertChange: ReturnType<typeof preparedWrite>
  readonly begin: Statement
  readonly savepoint: Statement
  readonly release: Statement
  readonly rollbackTo: Statement
  readonly commit: Statement
  readonly rollback: Statement

  constructor (db: SqliteDb) {
    const client = db.$client
    this.begin = client.prepare('BEGIN IMMEDIATE')
    this.savepoint = client.prepare('SAVEPOINT request')
    this.release = client.prepare('RELEASE request')
    this.rollbackTo = client.prepare('ROLLBACK TO request')
    this.commit = client.prepare('COMMIT')
    this.rollback = client.prepare('ROLLBACK')
    // seq is left to SQLite (autoincrement).
    this.insertEvent = preparedWrite(client, db.insert(events).values(placeholdersFor(events, ['seq']))
      .onConflictDoNothing().returning({ seq: events.seq }))
    this.findEvent = client.prepare(`select content_hash as contentHash, batch_id as batchId, mailbox, category, rule
      from events where tenant_id = ? and event_id = ?`)
    this.findMailbox = client.prepare(`select first_event_at as firstEventAt, last_event_at as lastEventAt,
        last_synced_at as lastSyncedAt, last_failed_at as lastFailedAt, event_count as eventCount
      from mailboxes where tenant_id = ? and batch_id = ? and mailbox = ?`)
    this.findFailures = rawQuery(client, db.select().from(failures).where(and(eq(failures.tenantId, sql.placeholder('tenantId')),
      eq(failures.batchId, sql.placeholder('batchId')), eq(failures.mailbox, sql.placeholder('mailbox')))))
    this.history = client.prepare(`select ${EVENT_COLUMNS} from events where tenant_id = ? and batch_id = ? and mailbox = ?`)
    this.upsertMailbox = preparedWrite(client, db.insert(mailboxes).values(placeholdersFor(mailboxes))
      .onConflictDoUpdate({ target: [mailboxes.tenantId, mailboxes.batchId, mailboxes.mailbox], set: takeExcluded(mailboxes, ['tenantId', 'batchId', 'mailbox']) }))
    this.upsertFailure = preparedWrite(client, db.insert(failures).values(placeholdersFor(failures))
      .onConflictDoUpdate({
        target: [failures.tenantId, failures.batchId, failures.mailbox, failures.category],
        set: takeExcluded(failures, ['tenantId', 'batchId', 'mailbox', 'category'])
      }))
    this.touchBatch = client.prepare(`insert into batches (tenant_id, batch_id, first_event_at, last_event_at, created_at)
      values (?, ?, ?, ?, ?)
      on conflict (tenant_id, batch_id) do update set first_event_at = min(first_event_at, excluded.first_event_at),
        last_event_at = max(last_event_at, excluded.last_event_at)`)
    this.bumpCounter = client.prepare(`insert into change_counters (tenant_id, last_seq) values (?, ?)
      on conflict (tenant_id) do update set last_seq = last_seq + excluded.last_seq returning last_seq`).pluck()
    this.insertChange = preparedWrite(client, db.insert(changes).values(placeholdersFor(changes)))
    this.addCounter = client.prepare(`insert into batch_counters (tenant_id, batch_id, name, value) values (?, ?, ?, ?)
      on conflict (tenant_id, batch_id, name) do update set value = value + excluded.value`)
  }

  addCounters (tenantId: string, deltas: CounterDelta[]): void {
    for (const { batchId, name, delta } of deltas) this.addCounter.run(tenantId, batchId, name, delta)
  }
}

/** Numbers and stores a write's changes: the tenant's counter moves by as many as are appended. */
/** A write's SharedWrite, in its lock order (one writer at a time here: the order only keeps the dialects alike). */
function finishWrite (statements: WriteStatements, tenantId: string, { batches, deltas, drafts, recordedAt }: SharedWrite): Change[] {
  for (const batch of batches) statements.touchBatch.run(tenantId, batch.batchId, batch.firstEventAt, batch.lastEventAt, recordedAt)
  if (deltas.length > 0) statements.addCounters(tenantId, deltas)
  if (drafts.length === 0) return []
  const last = statements.bumpCounter.get(tenantId, drafts.length) as number
  const numbered = numberChanges(tenantId, drafts, last - drafts.length + 1, recordedAt)
  for (const change of numbered) statements.insertChange.run(changeValues(change) as unknown as Values)
  return numbered
}

/** The snapshot clock as one value, and readiness's migration count, prepared once. */
function prepareReads (client: Database.Database, queries: ReadQueries) {
  const currentSeq = rawQuery(client, queries.currentSeqQuery())
  return {
    currentSeq: (): number => currentSeq({})[0][0] as number,
    // Prepared after the migrations ran (openSqlite), so the journal table exists.
    migrationsApplied: client.prepare('select count(*) from __drizzle_migrations').pluck()
  }
}

// The failures columns in the order drizzle selects them (the table's own order).
const FAILURE_FIELDS = Object.keys(getTableColumns(failures)) as Array<keyof StoredFailureRow>

/** An array row as the object it stands for, fields in select order. */
function rowOf<R> (fields: ReadonlyArray<keyof R>, values: unknown[]): R {
  const row: Record<string, unknown> = {}
  for (let index = 0; index < fields.length; index++) row[fields[index] as string] = values[index]
  return row as R
}

function failureRow (values: unknown[]): StoredFailureRow {
  return rowOf(FAILURE_FIELDS, values)
}

/** Runs a read synchronously: SQLite's builders run with all(), inside a synchronous transaction too. */
function allRows<R> (query: SelectQuery<R>): R[] {
  return (query as unknown as { all: () => R[] }).all()
}

/**
 * A query drizzle built, run straight on better-sqlite3 with rows as arrays: on a report page
 * drizzle's per-field row mapping cost more than the query.
 */
function rawQuery (client: Database.Database, query: BuiltQuery): (values: Values) => unknown[][] {
  const { sql: text, params } = query.toSQL()
  const statement = client.prepare(text).raw()
  const bind = positional(params)
  return (values) => statement.all(bind(values)) as unknown[][]
}

/** The report's two queries (see ReadQueries.reportQueries) for one filter shape, prepared with rows as arrays. */
function prepareReportQueries (db: SqliteDb, queries: ReadQueries, filter: BoundFilter, after: BoundPosition | null) {
  const { unchanged, moved } = queries.reportQueries(sql.placeholder('tenantId'), sql.placeholder('batchId'), filter, after, sql.placeholder('snapshotSeq'), sql.placeholder('limit'))
  return { unchanged: rawQuery(db.$client, unchanged), moved: rawQuery(db.$client, moved) }
}

type ReportQueries = ReturnType<typeof prepareReportQueries>

class SqliteRecordingTx implements RecordingTx {
  constructor (private readonly statements: WriteStatements) {}

  async insertEvents (tenantId: string, batch: ClassifiedEvent[], receivedAt: number): Promise<Array<number | null>> {
    const { isFirst } = firstCopies(batch)
    return batch.map((event, index) => {
      if (!isFirst(index)) return null
      const row = this.statements.insertEvent.get(eventValues(tenantId, event, receivedAt)) as { seq: number } | undefined
      return row?.seq ?? null
    })
  }

  async findEvents (tenantId: string, eventIds: string[]): Promise<Map<string, StoredEventFingerprint>> {
    const found = new Map<string, StoredEventFingerprint>()
    for (const eventId of new Set(eventIds)) {
      const row = this.statements.findEvent.get(tenantId, eventId) as StoredEventFingerprint | undefined
      if (row !== undefined) found.set(eventId, row)
    }
    return found
  }

  async loadMailboxes (tenantId: string, keys: MailboxKey[]): Promise<Map<string, MailboxState>> {
    const states = new Map<string, MailboxState>()
    for (const key of keys) {
      const id = mailboxKey(key)
      if (states.has(id)) continue
      const box = this.statements.findMailbox.get(tenantId, key.batchId, key.mailbox) as StoredMailboxRow | undefined
      if (box === undefined) continue
      const state = toMailboxState(box)
      for (const row of this.statements.findFailures({ tenantId, batchId: key.batchId, mailbox: key.mailbox }).map(failureRow)) {
        const { batchId: _batch, mailbox: _mailbox, ...failure } = toFailureRecord(row)
        state.failures.push(failure)
      }
      states.set(id, state)
    }
    return states
  }

  async loadHistory (tenantId: string, key: MailboxKey): Promise<LifecycleEvent[]> {
    return (this.statements.history.all(tenantId, key.batchId, key.mailbox) as StoredEventRow[]).map(toLifecycleEvent)
  }

  async saveMailboxes (tenantId: string, writes: MailboxWrite[]): Promise<void> {
    for (const write of writes) this.statements.upsertMailbox.run(mailboxValues(tenantId, write))
    for (const row of failureValues(tenantId, writes)) this.statements.upsertFailure.run(row)
  }

  async finishWrite (tenantId: string, write: SharedWrite): Promise<Change[]> {
    return finishWrite(this.statements, tenantId, write)
  }
}

/** The sweep's statements; the write queue holds writers off, so holding a mailbox needs nothing more. */
/**
 * The failures of one mailbox, for the stall sweep, by the primary key (SQLite's name for it).
 * Without INDEXED BY the planner, having no statistics, prefers the covering
 * failures_report_status_idx on (tenant_id, batch_id) and reads every failure of the batch for
 * each mailbox; the sweep then grows with the square of the batch (bench/sweep.js).
 */
export const SWEEP_FAILURES_OF_MAILBOX = 'select category, status from failures indexed by sqlite_autoindex_failures_1 ' +
  'where tenant_id = ? and batch_id = ? and mailbox = ?'

class SqliteSweepingTx implements SweepingTx {
  constructor (
    private readonly db: SqliteDb, private readonly statements: WriteStatements, private readonly next: Statement,
    private readonly failuresOf: Statement
  ) {}

  async nextMailboxes (tenantId: string, batchId: string, after: string | null, limit: number): Promise<SweepMailboxRow[]> {
    return this.next.all(tenantId, batchId, after ?? '', limit) as SweepMailboxRow[]
  }

  async holdMailboxes (_tenantId: string, _batchId: string, rows: SweepMailboxRow[]): Promise<SweepMailboxRow[]> {
    return rows
  }

  async openCategories (tenantId: string, batchId: string, names: string[]): Promise<Map<string, CategoryId[]>> {
    // One primary-key lookup a mailbox (SWEEP_FAILURES_OF_MAILBOX). The statement with
    // `mailbox in (...)` and `+status` it replaces scanned failures_report_status_idx over every
    // failure of the batch in each chunk, the stalls of earlier chunks included: 17 s of CPU for
    // 100,000 mailboxes in chunks of 500, 48 s in chunks of 100 (bench/sweep.js).
    const rows: Array<{ mailbox: string, category: string }> = []
    for (const mailbox of names) {
      for (const row of this.failuresOf.all(tenantId, batchId, mailbox) as Array<{ category: string, status: string }>) {
        if (row.status === 'open') rows.push({ mailbox, category: row.category })
      }
    }
    return openCategoriesOf(rows)
  }

  async openStalls (detection: StallDetection, tenantId: string, batchId: string, names: string[]): Promise<FailureRecord[]> {
    return await openStalls(this.db, schema, detection, tenantId, batchId, names)
  }

  async setHeldUp (tenantId: string, batchId: string, heldUp: MailboxHeldUp[]): Promise<void> {
    if (heldUp.length > 0) this.db.run(heldUpSet(tenantId, batchId, heldUp))
  }

  async finishWrite (tenantId: string, write: SharedWrite): Promise<Change[]> {
    return finishWrite(this.statements, tenantId, write)
  }
}

const GROUP_COMMIT_EVENTS = 1000

/** Pages (4 KiB each by default) one incremental_vacuum step gives back. */
const RECLAIM_PAGES = 2000

/** Free space from which a full disk counts as having room again: a few bulk requests' worth. */
const STORAGE_HEADROOM = 1024 * 1024

/** A recordEvents call waiting for the next group commit. */
interface PendingWrite {
  tenantId: string
  batch: ClassifiedEvent[]
  receivedAt: number
  resolve: (result: RecordResult) => void
  reject: (error: unknown) => void
}

export class SqliteFailureRepository implements FailureRepository {
  readonly dialect = 'sqlite' as const
  private readonly writes = new WriteQueue()
  private checkpointer: WalCheckpointer | null = null
  private pendingWrites: PendingWrite[] = []
  private readonly statements: WriteStatements
  private readonly sweepNext: Statement
  private readonly sweepFailuresOf: Statement
  private readonly appended = new AppendedListeners()
  private readonly reads: ReturnType<typeof prepareReads>
  private readonly reportQueryCache = new Map<string, ReportQueries>()
  private readonly queries: ReadQueries
  /** Set when a write failed for want of disk space; cleared by a commit or when space is back. */
  private storageFull = false

  private constructor (private readonly db: SqliteDb) {
    this.statements = new WriteStatements(db)
    this.queries = new ReadQueries(db, schema, 'sqlite')
    this.reads = prepareReads(db.$client, this.queries)
    // '' sorts before every address, so one statement serves the first chunk too.
    this.sweepNext = db.$client.prepare(`select mailbox, last_synced_at as lastSyncedAt, first_event_at as firstEventAt
      from mailboxes where tenant_id = ? and batch_id = ? and mailbox > ? order by mailbox limit ?`)
    this.sweepFailuresOf = db.$client.prepare(SWEEP_FAILURES_OF_MAILBOX)
  }

  static open (path: string): SqliteFailureRepository {
    return SqliteFailureRepository.on(openSqlite(path).db)
  }

  /** On a connection already opened (and migrated) by openSqlite, which it closes on close(). */
  static on (db: SqliteDb): SqliteFailureRepository {
    const repository = new SqliteFailureRepository(db)
    repository.backfillCounters()
    return repository
  }

  /**
   * Counters for the batches stored before they were kept (every batch that has a mailbox has a
   * mailboxesSeen counter once kept): recounted once, at open, before any write can run.
   */
  private backfillCounters (): void {
    const missing = this.db.all<BatchKey>(sql`select tenant_id as tenantId, batch_id as batchId from batches b
      where not exists (select 1 from batch_counters c where c.tenant_id = b.tenant_id and c.batch_id = b.batch_id
        and c.name = ${SEEN_COUNTER})`)
    for (const { tenantId, batchId } of missing) {
      this.db.transaction((tx) => {
        const counts = this.recount(tenantId, [batchId]).get(batchId)
        tx.delete(batchCounters).where(and(eq(batchCounters.tenantId, tenantId), eq(batchCounters.batchId, batchId))).run()
        if (counts !== undefined) this.statements.addCounters(tenantId, countersOf(batchId, counts))
        tx.run(heldUpRefresh('max', tenantId, batchId))
      })
    }
  }

  /**
   * Group commit: every write that arrives while the loop is busy joins the next transaction
   * (a refused request is still refused alone, see commitPending), and every caller is
   * answered only after that one COMMIT. A commit costs far more than the rows in it, so
   * concurrent single-event requests share it instead of paying one each.
   */
  async recordEvents (tenantId: string, batch: ClassifiedEvent[], receivedAt: number): Promise<RecordResult> {
    return await new Promise<RecordResult>((resolve, reject) => {
      this.pendingWrites.push({
        tenantId,
        batch,
        receivedAt,
        resolve: (result) => { this.storageFull = false; resolve(result) },
        reject: (error) => { if (isStorageFull(error)) this.storageFull = true; reject(error) }
      })
      if (this.pendingWrites.length === 1) this.scheduleCommit()
    })
  }

  /** Commits what is pending once the loop has taken in what else arrived (setImmediate). */
  private scheduleCommit (): void {
    // commitPending answers every caller itself, errors included; nothing is left to catch.
    setImmediate(() => { this.writes.run(async () => { await this.commitPending() }).catch(() => undefined) })
  }

  private async commitPending (): Promise<void> {
    // A group stops at about one bulk request's worth of events: bigger transactions outgrow
    // SQLite's page cache and cost more per event than the commits they save (measured).
    let take = 0
    let events = 0
    while (take < this.pendingWrites.length && (take === 0 || events + this.pendingWrites[take].batch.length <= GROUP_COMMIT_EVENTS)) {
      events += this.pendingWrites[take].batch.length
      take += 1
    }
    const jobs = this.pendingWrites.splice(0, take)
    if (this.pendingWrites.length > 0) this.scheduleCommit()
    if (jobs.length === 0) return
    const client = this.db.$client
    try {
      // Optimistic first: no savepoints, which cost about a tenth of a bulk's write (measured).
      // Refusals are rare; when one comes, the group is rolled back and run again with each
      // request in its own savepoint, so every request still stands or falls alone and runs at
      // most twice. A group of one has nothing to isolate: its refusal is final.
      const settled = await this.runGroup(jobs, false) ?? await this.runGroup(jobs, true)
      for (const { job, result, error } of settled ?? []) {
        if (result !== undefined) job.resolve(result)
        else job.reject(error)
      }
    } catch (error) {
      if (client.inTransaction) this.statements.rollback.run()
      for (const job of jobs) job.reject(error)
    }
  }

  /**
   * Runs the jobs in one transaction and commits it. With `isolate`, each job runs in its own
   * savepoint and a refused one rolls back alone; without, the first refusal rolls the whole
   * group back, and the answer is null (nothing stored, to be run again isolated) unless the
   * group was that one job.
   */
  private async runGroup (jobs: PendingWrite[], isolate: boolean): Promise<Array<{ job: PendingWrite, result?: RecordResult, error?: unknown }> | null> {
    // better-sqlite3 runs statements synchronously, so the transaction is driven by hand;
    // the write queue keeps other writers out until it commits or rolls back. No other
    // request's code runs while it is open, reads on this connection included: this runs from
    // a setImmediate callback, which starts with no microtask queued, and the awaits below
    // only wait on this chain's own promises. Keep it so: no real I/O between BEGIN and COMMIT.
    const { begin, savepoint, release, rollbackTo, commit, rollback } = this.statements
    const tx = new SqliteRecordingTx(this.statements)
    const settled: Array<{ job: PendingWrite, result?: RecordResult, error?: unknown }> = []
    begin.run()
    for (const job of jobs) {
      if (isolate) savepoint.run()
      try {
        settled.push({ job, result: await recordEvents(tx, job.tenantId, job.batch, job.receivedAt) })
      } catch (error) {
        if (!isolate) {
          rollback.run()
          return jobs.length === 1 ? [{ job, error }] : null
        }
        rollbackTo.run()
        settled.push({ job, error })
      }
      if (isolate) release.run()
    }
    commit.run()
    this.appended.emit(settled.filter(({ result }) => result !== undefined && result.changes.length > 0).map(({ job }) => job.tenantId))
    return settled
  }

  async findBatch (tenantId: string, batchId: string): Promise<BatchRecord | null> {
    return await this.queries.findBatch(tenantId, batchId)
  }

  async listSweepBatches (after: BatchKey | null, limit: number): Promise<BatchKey[]> {
    return await this.queries.listSweepBatches(after, limit)
  }

  async sweepStalls (tenantId: string, batchId: string, after: string | null, detection: StallDetection, limit: number): Promise<SweepChunkResult> {
    // In the write queue: no group commit runs meanwhile; the chunk is one short transaction.
    // Started from a setImmediate callback, as group commits are (see runGroup): no other
    // code runs on this connection while the transaction is open.
    const result = await this.inWriteTransaction(async () =>
      await sweepChunk(new SqliteSweepingTx(this.db, this.statements, this.sweepNext, this.sweepFailuresOf), tenantId, batchId, after, detection, limit))
    if (result.changes.length > 0) this.appended.emit([tenantId])
    return result
  }

  /**
   * Runs `work` as one transaction in the write queue (no group commit runs meanwhile), started
   * from a setImmediate callback as group commits are (see runGroup): no other code runs on
   * this connection while it is open. `work` must only run statements: keep it short.
   */
  private async inWriteTransaction<T> (work: () => Promise<T>): Promise<T> {
    return await this.writes.run(async () => await new Promise<T>((resolve, reject) => {
      setImmediate(() => {
        const { begin, commit, rollback } = this.statements
        begin.run()
        work()
          .then((result) => { commit.run(); resolve(result) })
          .catch((error: unknown) => {
            if (this.db.$client.inTransaction) rollback.run()
            reject(error)
          })
      })
    }))
  }

  /** One process owns a SQLite file: every lease is always this instance's. */
  async withLease (_job: BackgroundJob, work: () => Promise<void>): Promise<boolean> {
    await work()
    return true
  }

  async purgeResolved (resolvedBefore: number, limit: number): Promise<PurgeChunkResult> {
    const db = this.db
    return await this.inWriteTransaction(async () => await purgeChunk({
      all: async <T>(query: SQL) => db.all<T>(query),
      run: async (query) => db.run(query).changes,
      // The write queue holds every writer off: nothing more to hold.
      holdMailboxes: async () => {}
    }, resolvedBefore, limit))
  }

  /**
   * Gives the pages the purges freed back to the file system, `RECLAIM_PAGES` pages per step
   * in the write queue (a step is short; requests run between steps), then checkpoints the
   * WAL so the file shrinks now. Nothing to do (null) unless auto_vacuum is INCREMENTAL.
   */
  async reclaimSpace (): Promise<{ pages: number } | null> {
    const client = this.db.$client
    if (client.pragma('auto_vacuum', { simple: true }) !== INCREMENTAL_VACUUM) return null
    let pages = 0
    for (;;) {
      const freed = await this.writes.run(async () => {
        const before = client.pragma('freelist_count', { simple: true }) as number
        client.pragma(`incremental_vacuum(${RECLAIM_PAGES})`)
        return before - (client.pragma('freelist_count', { simple: true }) as number)
      })
      pages += freed
      if (freed < RECLAIM_PAGES) break
      await yieldToLoop()
    }
    if (pages > 0) await this.writes.run(async () => { client.pragma('wal_checkpoint(PASSIVE)') })
    return { pages }
  }

  async listChanges (tenantId: string, query: ChangeQuery): Promise<Change[]> {
    return await this.queries.listChanges(tenantId, query)
  }

  async latestChangeSeq (tenantId: string): Promise<number> {
    return await this.queries.latestChangeSeq(tenantId)
  }

  onChangesAppended (listener: (tenantId: string) => void): () => void {
    return this.appended.add(listener)
  }

  async purgeChanges (recordedBefore: number, limit: number): Promise<number> {
    return await this.writes.run(async () => this.db.run(sql`delete from changes where rowid in
      (select rowid from changes where recorded_at < ${recordedBefore} order by recorded_at limit ${limit})`).changes)
  }

  async listBatches (tenantId: string, after: BatchPosition | null, limit: number): Promise<BatchPage> {
    return await this.queries.listBatches(tenantId, after, limit)
  }

  async countOpenFailuresByCategory (): Promise<Array<{ category: string, count: number }>> {
    return await this.queries.countOpenFailuresByCategory()
  }

  poolStats (): null {
    return null
  }

  async countBatches (tenantId: string, batchIds: string[]): Promise<Map<string, BatchCounts>> {
    return await this.queries.countBatches(tenantId, batchIds)
  }

  /** The counts of countBatches, counted from the stored rows (a full scan of each batch): the backfill's and the tests' reference. */
  async recountBatches (tenantId: string, batchIds: string[]): Promise<Map<string, BatchCounts>> {
    return this.recount(tenantId, batchIds)
  }

  private recount (tenantId: string, batchIds: string[]): Map<string, BatchCounts> {
    const counts = new Map<string, BatchCounts>()
    for (const part of chunks(batchIds)) {
      const { seen, mailboxRows, categoryRows } = this.queries.recountQueries(tenantId, part)
      addBatchCounts(counts, allRows(seen), allRows(mailboxRows), allRows(categoryRows))
    }
    return counts
  }

  async oldestBlockingFailure (tenantId: string, batchId: string): Promise<HeldUpFailure | null> {
    return await this.queries.oldestBlockingFailure(tenantId, batchId)
  }

  async findMailbox (tenantId: string, batchId: string, mailbox: string): Promise<MailboxRecord | null> {
    return await this.queries.findMailbox(tenantId, batchId, mailbox)
  }

  async lastSyncs (tenantId: string, batchId: string, names: string[]): Promise<Map<string, number | null>> {
    return await this.queries.lastSyncs(tenantId, batchId, names)
  }

  async listMailboxEvents (tenantId: string, batchId: string, mailbox: string, after: EventPosition | null, limit: number): Promise<EventPage> {
    return await this.queries.listMailboxEvents(tenantId, batchId, mailbox, after, limit)
  }

  async listMailboxesWithOpenFailures (tenantId: string, batchId: string, categories: CategoryId[], after: string | null, limit: number): Promise<string[]> {
    return await this.queries.listMailboxesWithOpenFailures(tenantId, batchId, categories, after, limit)
  }

  async currentSeq (): Promise<number> {
    return this.reads.currentSeq()
  }

  /** The report's two queries, prepared once per filter shape (see placeholderFilter). */
  private reportQueries ({ shape, filter, after }: ReturnType<typeof placeholderFilter>): ReportQueries {
    const cached = this.reportQueryCache.get(shape)
    if (cached !== undefined) return cached
    const queries = prepareReportQueries(this.db, this.queries, filter, after)
    // Shapes are few (which filters are present, how many categories); the bound is a backstop.
    if (this.reportQueryCache.size >= 256) this.reportQueryCache.clear()
    this.reportQueryCache.set(shape, queries)
    return queries
  }

  async listFailures (tenantId: string, batchId: string, request: FailurePageRequest): Promise<FailurePage> {
    const { filter, after, snapshotSeq, limit } = request
    const scan = reportScan(filter, limit)
    const bound = placeholderFilter(scan.filter, after)
    const queries = this.reportQueries(bound)
    const params = { ...bound.params, tenantId, batchId, snapshotSeq }
    const unchanged = queries.unchanged({ ...params, limit: scan.rows }).map(failureRow)
    // Every failures column, then the row's place in the snapshot.
    const moved = queries.moved(params).map((values) => ({ row: failureRow(values), snapshotLastSeen: values[FAILURE_FIELDS.length] as number | null }))
    return reportPageOf(unchanged, moved, after, limit, scan)
  }

  /**
   * After a write failed for want of space, writes count as unable to commit until one commits
   * or the database's file system has room again (at least STORAGE_HEADROOM free).
   */
  private writable (): boolean {
    if (!this.storageFull) return true
    const file = this.db.$client.name
    if (file === ':memory:' || file === '') return false
    try {
      const stats = statfsSync(dirname(file))
      if (stats.bavail * stats.bsize >= STORAGE_HEADROOM) this.storageFull = false
    } catch {
      return false
    }
    return !this.storageFull
  }

  async readiness (): Promise<ReadinessState> {
    try {
      const state = readinessFrom(this.reads.migrationsApplied.get() as number, journalLength('sqlite'))
      return this.writable() ? state : { ...state, writable: false, detail: 'the disk of the database is full: writes cannot commit' }
    } catch (error) {
      return { reachable: false, migrated: false, detail: (error as Error).message }
    }
  }

  /**
   * Checkpoints the WAL on a thread of its own from now on (see checkpointer.ts), so no commit
   * waits for one; a database in memory has nothing to checkpoint.
   */
  checkpointInBackground (onError: (error: unknown) => void, onCheckpoint?: (result: CheckpointResult) => void): void {
    const client = this.db.$client
    if (this.checkpointer !== null || client.memory) return
    this.checkpointer = WalCheckpointer.start(client, { onError, onCheckpoint })
  }

  async close (): Promise<void> {
    await this.checkpointer?.stop()
    if (this.db.$client.open) this.db.$client.close()
  }
}
