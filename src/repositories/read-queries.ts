import { and, asc, desc, eq, getTableColumns, gt, inArray, isNotNull, like, lte, sql, type AnyColumn, type Placeholder, type SQL, type SQLWrapper, type Subquery, type Table } from 'drizzle-orm'
import type { SelectResultFields } from 'drizzle-orm/query-builders/select.types'
import { BLOCKING_CATEGORIES, OPEN_COUNTER_PREFIX, STALL_CATEGORY, type BatchCounts, type CategoryId } from '../domain/index.js'
import type { Change, ChangeQuery } from '../domain/changes.js'
import type * as sqliteSchema from '../db/schema.sqlite.js'
import type * as postgresSchema from '../db/schema.postgres.js'
import { mergePage, positionOf, type PositionedFailure } from './report-order.js'
import { batchesAfter, changeConditions, toChange, type BatchKey, type StoredChangeRow } from './change-rows.js'
import {
  addBatchCounts, afterBatch, afterPosition, chunks, countsByBatch, filterConditions, historyConditions, oldestOfMailbox, pageOf,
  snapshotLastSeen, toEventPage, toFailureRecord, type Bound, type BoundFilter, type BoundPosition, type StoredFailureRow
} from './stored-rows.js'
import type {
  BatchPage, BatchPosition, BatchRecord, EventPage, EventPosition, FailureFilter, FailurePage, FailureRecord, HeldUpFailure, MailboxRecord, ReportPosition
} from './types.js'

// The read queries, written once from the schema objects and run by either dialect: each store
// passes its drizzle database (or transaction) and its tables, and keeps only what differs
// (transactions, locks, prepared statements, driver errors). A column added to a table is
// picked up here from the table object; only toFailureRecord and its siblings name columns.

type Tables = 'batches' | 'batchCounters' | 'changes' | 'changeCounters' | 'events' | 'failures' | 'mailboxes'

/** One dialect's tables that the reads use: the same names and columns in both schemas. */
export type ReadTables = Pick<typeof sqliteSchema, Tables> | Pick<typeof postgresSchema, Tables>

type Fields = Record<string, AnyColumn | SQL | SQL.Aliased | Table>

/**
 * What the reads use of a drizzle select, in both dialects. drizzle's SQLite and PostgreSQL
 * builders have the same methods but share no type (a union of the two is not callable); both
 * databases, and a PostgreSQL transaction, are assignable to this as they are. Columns go to
 * orderBy and groupBy as SQL (asc, desc, columnOf): a column parameter is dialect-typed.
 */
export interface SelectQuery<R> extends PromiseLike<R[]>, SQLWrapper {
  as (alias: string): Subquery
  toSQL (): { sql: string, params: unknown[] }
  /** Built once; on SQLite also prepared once. Unnamed on PostgreSQL (see preparedRead). */
  prepare (name?: string): PreparedRead<R>
}

/** A read built once with placeholders and run with their values: SQLite's runs synchronously. */
export interface PreparedRead<R> {
  execute (values?: Record<string, unknown>): PromiseLike<R[]> | R[]
}
export interface OrderedQuery<R> extends SelectQuery<R> { limit (limit: number | Placeholder): SelectQuery<R> }
export interface GroupedQuery<R> extends SelectQuery<R> { orderBy (...order: SQL[]): OrderedQuery<R> }
export interface FilteredQuery<R> extends OrderedQuery<R> {
  orderBy (...order: SQL[]): OrderedQuery<R>
  groupBy (...columns: SQL[]): GroupedQuery<R>
}
export interface SourceQuery<R> extends FilteredQuery<R> {
  where (condition: SQL | undefined): FilteredQuery<R>
  innerJoin (source: Table | Subquery, on: SQL): SourceQuery<R>
}

export interface Selector {
  select <F extends Fields>(fields: F): { from: (source: Table) => SourceQuery<SelectResultFields<F>> }
  selectDistinct <F extends Fields>(fields: F): { from: (source: Table) => SourceQuery<SelectResultFields<F>> }
}

/** A named placeholder, bound when a prepared read runs. */
function placeholder (name: string): Placeholder {
  return sql.placeholder(name)
}

/** A column as SQL, for groupBy (see Selector: column parameters do not carry across dialects). */
function columnOf (column: AnyColumn): SQL {
  return sql`${column}`
}

/** What a BatchRecord is read from, in this order. */
export function batchColumns (batches: ReadTables['batches']) {
  return { batchId: batches.batchId, firstEventAt: batches.firstEventAt, lastEventAt: batches.lastEventAt, createdAt: batches.createdAt }
}

/** The last events seq given out (0 before the first event), over the events of every tenant. */
export function lastEventSeq (events: ReadTables['events']): SQL<number> {
  return sql<number>`coalesce(max(${events.seq}), 0)`.mapWith(Number)
}

/** Which store runs the query: only planner hints differ, each with its measured reason. */
export type Dialect = 'sqlite' | 'postgres'

/** The report's two queries (see ReadQueries.reportQueries): rows in place, and rows moved since the snapshot. */
export interface ReportQueries {
  unchanged: SelectQuery<StoredFailureRow>
  moved: SelectQuery<{ row: StoredFailureRow, snapshotLastSeen: number | null }>
}

/** The report page from the report queries' rows. */
/**
 * How many of the batch's report rows one page of a mailbox search reads at most. No index finds
 * a substring, so the search reads the report's index range in order and keeps the rows whose
 * address matches; it stops after this many, and a page may then hold fewer items than asked
 * for, or none, with a cursor to go on from (README: Error report filters).
 */
export const SEARCH_SCAN = 2000

/** How the report's queries serve one page: the filter they run, the unchanged rows they read, and the search applied to those rows. */
export interface ReportScan {
  filter: FailureFilter
  rows: number
  search: string | null
}

export function reportScan (filter: FailureFilter, limit: number): ReportScan {
  const search = filter.mailboxContains ?? null
  if (search === null) return { filter, rows: limit + 1, search }
  return { filter: { ...filter, mailboxContains: null }, rows: Math.max(SEARCH_SCAN, limit + 1), search }
}

/** The report page from the report queries' rows (read as reportScan said). */
export function reportPageOf (
  unchanged: StoredFailureRow[], moved: Array<{ row: StoredFailureRow, snapshotLastSeen: number | null }>,
  after: ReportPosition | null, limit: number, scan: ReportScan
): FailurePage {
  const { search } = scan
  const matches = (failure: FailureRecord): boolean => search === null || failure.mailbox.includes(search)
  const positioned: PositionedFailure[] = []
  // Rows changed after the snapshot keep the place they had then; one it did not hold is left out.
  for (const { row, snapshotLastSeen } of moved) {
    if (snapshotLastSeen === null) continue
    const failure = toFailureRecord(row)
    if (matches(failure)) positioned.push({ failure, position: { lastSeenAt: snapshotLastSeen, mailbox: failure.mailbox, category: failure.category } })
  }
  const read = unchanged.map(toFailureRecord)
  // A search that read all the rows it may has seen the range only up to the last of them.
  const boundary = search !== null && read.length >= scan.rows ? positionOf(read[read.length - 1]) : null
  return mergePage(read.filter(matches), positioned, after, limit, boundary)
}

export class ReadQueries {
  // The reads every dashboard request makes, built and prepared once per shape: building the
  // SQL and preparing it cost more than running it (about half of a GET /batches/:id's CPU).
  private readonly prepared = new Map<string, PreparedRead<unknown>>()

  constructor (private readonly db: Selector, private readonly tables: ReadTables, private readonly dialect: Dialect) {}

  /** The read of this name, prepared at its first use. A name stands for one statement text. */
  private preparedRead<R> (name: string, build: () => SelectQuery<R>): PreparedRead<R> {
    let read = this.prepared.get(name)
    if (read === undefined) {
      // No name for PostgreSQL: a named statement lives in one server session, which PgBouncer
      // in transaction mode does not keep (README: Scaling out). The SQL is built once either way.
      read = build().prepare()
      this.prepared.set(name, read)
    }
    return read as PreparedRead<R>
  }

  /** The same queries on another connection or transaction of the store. */
  on (db: Selector): ReadQueries {
    return new ReadQueries(db, this.tables, this.dialect)
  }

  batchQuery (tenantId: Bound<string>, batchId: Bound<string>): SelectQuery<BatchRecord> {
    const { batches } = this.tables
    return this.db.select(batchColumns(batches)).from(batches).where(and(eq(batches.tenantId, tenantId), eq(batches.batchId, batchId)))
  }

  async findBatch (tenantId: string, batchId: string): Promise<BatchRecord | null> {
    const read = this.preparedRead('findBatch', () => this.batchQuery(placeholder('tenantId'), placeholder('batchId')))
    const [row] = await read.execute({ tenantId, batchId })
    return row ?? null
  }

  /** The last events seq given out: the report's snapshot clock. */
  currentSeqQuery (): SelectQuery<{ seq: number }> {
    const { events } = this.tables
    return this.db.select({ seq: lastEventSeq(events) }).from(events)
  }

  /**
   * The report page's two queries: the rows that have not changed since the snapshot, in report
   * order from `after`, and every row changed since (placed by reportPageOf at the position the
   * snapshot had them), for the failures of one batch that match `filter`.
   */
  reportQueries (tenantId: Bound<string>, batchId: Bound<string>, filter: BoundFilter, after: BoundPosition | null, snapshotSeq: Bound<number>, limit: Bound<number>): ReportQueries {
    const { failures } = this.tables
    const base = filterConditions(failures, tenantId, batchId, filter)
    // SQLite: unary + keeps the planner off failures_seq_idx: walking the report index in order
    // and stopping at limit is far cheaper than sorting every failure of the batch. PostgreSQL
    // gets the same from the page's transaction (REPORT_PLANNER in postgres.ts prices sorts out).
    const unchangedSince = this.dialect === 'sqlite' ? sql`+${failures.seq} <= ${snapshotSeq}` : lte(failures.seq, snapshotSeq)
    return {
      unchanged: this.db.select(getTableColumns(failures)).from(failures)
        .where(and(...base, unchangedSince, ...(after === null ? [] : [afterPosition(failures, after)])))
        .orderBy(desc(failures.lastSeenAt), asc(failures.mailbox), asc(failures.category))
        .limit(limit),
      // Every failures column, then the row's place in the snapshot.
      moved: this.db.select({ row: failures, snapshotLastSeen: snapshotLastSeen(snapshotSeq) }).from(failures)
        .where(and(...base, gt(failures.seq, snapshotSeq)))
        // In seq order, so that failures_seq_idx, which finds the few rows changed since the
        // snapshot, is the index that needs no sort (see REPORT_PLANNER).
        .orderBy(asc(failures.seq))
    }
  }

  /** Up to `limit` batches of every tenant after `after`, in (tenant, batch) order. */
  async listSweepBatches (after: BatchKey | null, limit: number): Promise<BatchKey[]> {
    const { batches } = this.tables
    return await this.db.select({ tenantId: batches.tenantId, batchId: batches.batchId }).from(batches)
      .where(batchesAfter(after)).orderBy(asc(batches.tenantId), asc(batches.batchId)).limit(limit)
  }

  async listChanges (tenantId: string, query: ChangeQuery): Promise<Change[]> {
    const { changes } = this.tables
    const rows = await this.db.select(getTableColumns(changes)).from(changes).where(and(...changeConditions(changes, tenantId, query)))
      .orderBy(asc(changes.seq)).limit(query.limit)
    return rows.map((row) => toChange(row as StoredChangeRow))
  }

  async latestChangeSeq (tenantId: string): Promise<number> {
    const { changeCounters } = this.tables
    const read = this.preparedRead('latestChangeSeq', () => this.db.select({ lastSeq: changeCounters.lastSeq }).from(changeCounters)
      .where(eq(changeCounters.tenantId, placeholder('tenantId'))))
    const [row] = await read.execute({ tenantId })
    return row?.lastSeq ?? 0
  }

  async listBatches (tenantId: string, after: BatchPosition | null, limit: number): Promise<BatchPage> {
    const { batches } = this.tables
    const read = this.preparedRead(after === null ? 'listBatches' : 'listBatchesAfter', () => this.db.select(batchColumns(batches)).from(batches)
      .where(and(eq(batches.tenantId, placeholder('tenantId')),
        ...(after === null ? [] : [afterBatch(batches, { createdAt: placeholder('createdAt'), batchId: placeholder('batchId') })])))
      .orderBy(desc(batches.createdAt), asc(batches.batchId))
      .limit(placeholder('limit')))
    const rows = await read.execute({ tenantId, ...after, limit: limit + 1 })
    return pageOf(rows, limit, (last) => ({ createdAt: last.createdAt, batchId: last.batchId }))
  }

  /** Open failures per category over the whole store, summed from the batches' open:<category> counters (no scan of failures). */
  async countOpenFailuresByCategory (): Promise<Array<{ category: string, count: number }>> {
    const { batchCounters } = this.tables
    const rows = await this.db.select({
      category: sql<string>`substr(${batchCounters.name}, ${OPEN_COUNTER_PREFIX.length + 1})`,
      count: sql<number>`sum(${batchCounters.value})`.mapWith(Number)
    }).from(batchCounters).where(like(batchCounters.name, `${OPEN_COUNTER_PREFIX}%`)).groupBy(columnOf(batchCounters.name))
    return rows.filter((row) => row.count > 0)
  }

  async countBatches (tenantId: string, batchIds: string[]): Promise<Map<string, BatchCounts>> {
    const { batchCounters } = this.tables
    const rows: Array<{ batchId: string, name: string, value: number }> = []
    for (const part of chunks(batchIds)) {
      // One statement per list length: a page of the batch list is one length, a batch's detail another.
      const names = part.map((_, index) => `batch${index}`)
      const read = this.preparedRead(`countBatches${part.length}`, () => this.db.select({ batchId: batchCounters.batchId, name: batchCounters.name, value: batchCounters.value })
        .from(batchCounters).where(and(eq(batchCounters.tenantId, placeholder('tenantId')), inArray(batchCounters.batchId, names.map(placeholder)))))
      rows.push(...await read.execute({ tenantId, ...Object.fromEntries(part.map((batchId, index) => [names[index], batchId])) }))
    }
    return countsByBatch(rows)
  }

  /**
   * The three counts of one chunk of batches (see addBatchCounts) from the stored rows: a full
   * scan of each batch. A mailbox row with no events is a PostgreSQL write's placeholder
   * (lockMailboxes), not a mailbox.
   */
  recountQueries (tenantId: string, batchIds: string[]): {
    seen: SelectQuery<{ batchId: string, count: number }>
    mailboxRows: SelectQuery<{ batchId: string, withOpen: number, blocked: number, stalled: number }>
    categoryRows: SelectQuery<{ batchId: string, category: string, count: number }>
  } {
    const { failures, mailboxes } = this.tables
    const open = and(eq(failures.tenantId, tenantId), inArray(failures.batchId, batchIds), eq(failures.status, 'open'))
    return {
      seen: this.db.select({ batchId: mailboxes.batchId, count: sql<number>`count(*)`.mapWith(Number) })
        .from(mailboxes).where(and(eq(mailboxes.tenantId, tenantId), inArray(mailboxes.batchId, batchIds), gt(mailboxes.eventCount, 0)))
        .groupBy(columnOf(mailboxes.batchId)),
      mailboxRows: this.db.select({
        batchId: failures.batchId,
        withOpen: sql<number>`count(distinct ${failures.mailbox})`.mapWith(Number),
        blocked: sql<number>`count(distinct case when ${inArray(failures.category, [...BLOCKING_CATEGORIES])} then ${failures.mailbox} end)`.mapWith(Number),
        stalled: sql<number>`count(distinct case when ${eq(failures.category, STALL_CATEGORY)} then ${failures.mailbox} end)`.mapWith(Number)
      }).from(failures).where(open).groupBy(columnOf(failures.batchId)),
      categoryRows: this.db.select({ batchId: failures.batchId, category: failures.category, count: sql<number>`count(*)`.mapWith(Number) })
        .from(failures).where(open).groupBy(columnOf(failures.batchId), columnOf(failures.category))
    }
  }

  /** The counts of countBatches, counted from the stored rows: the backfill's and the tests' reference. */
  async recount (tenantId: string, batchIds: string[]): Promise<Map<string, BatchCounts>> {
    const counts = new Map<string, BatchCounts>()
    for (const part of chunks(batchIds)) {
      const { seen, mailboxRows, categoryRows } = this.recountQueries(tenantId, part)
      addBatchCounts(counts, await seen, await mailboxRows, await categoryRows)
    }
    return counts
  }

  async oldestBlockingFailure (tenantId: string, batchId: string): Promise<HeldUpFailure | null> {
    const { failures, mailboxes } = this.tables
    const rows = await this.preparedRead('oldestBlockingFailure', () => {
      // The first entry of mailboxes_held_up_idx, as two scalar subqueries of one statement (one
      // snapshot), then that mailbox's few failures by primary key. Each store evaluates such a
      // subquery once and looks the failures up by the key it gives. As a join, both planners
      // read every failure of the batch instead: SQLite put failures outside (108 ms at 20,000
      // failing mailboxes), PostgreSQL filtered them in the join while its statistics were
      // older than the batch (7.5 ms at 1,000; EXPLAIN ANALYZE).
      const first = (column: AnyColumn): SQL => sql`(${this.db.select({ value: column }).from(mailboxes)
        .where(and(eq(mailboxes.tenantId, placeholder('tenantId')), eq(mailboxes.batchId, placeholder('batchId')), isNotNull(mailboxes.heldUpSince)))
        .orderBy(asc(mailboxes.heldUpSince), asc(mailboxes.mailbox)).limit(1)})`
      return this.db.select({ row: failures, lastSyncedAt: first(mailboxes.lastSyncedAt).mapWith(mailboxes.lastSyncedAt) }).from(failures)
        .where(and(eq(failures.tenantId, placeholder('tenantId')), eq(failures.batchId, placeholder('batchId')), eq(failures.mailbox, first(mailboxes.mailbox))))
        // The primary key's own order: without statistics PostgreSQL otherwise took
        // failures_report_all_idx, filtering the whole batch's entries for the mailbox.
        .orderBy(asc(failures.category))
    }).execute({ tenantId, batchId })
    return rows.length === 0 ? null : oldestOfMailbox(rows.map(({ row }) => toFailureRecord(row)), rows[0].lastSyncedAt)
  }

  async findMailbox (tenantId: string, batchId: string, mailbox: string): Promise<MailboxRecord | null> {
    const { mailboxes } = this.tables
    const [row] = await this.preparedRead('findMailbox', () => this.db.select(getTableColumns(mailboxes)).from(mailboxes)
      .where(and(eq(mailboxes.tenantId, placeholder('tenantId')), eq(mailboxes.batchId, placeholder('batchId')), eq(mailboxes.mailbox, placeholder('mailbox')))))
      .execute({ tenantId, batchId, mailbox })
    if (row === undefined) return null
    const { tenantId: _tenant, heldUpSince: _held, ...record } = row
    return record
  }

  async lastSyncs (tenantId: string, batchId: string, names: string[]): Promise<Map<string, number | null>> {
    const { mailboxes } = this.tables
    const found = new Map<string, number | null>()
    for (const part of chunks([...new Set(names)])) {
      const rows = await this.db.select({ mailbox: mailboxes.mailbox, lastSyncedAt: mailboxes.lastSyncedAt }).from(mailboxes)
        .where(and(eq(mailboxes.tenantId, tenantId), eq(mailboxes.batchId, batchId), inArray(mailboxes.mailbox, part)))
      for (const row of rows) found.set(row.mailbox, row.lastSyncedAt)
    }
    return found
  }

  async listMailboxEvents (tenantId: string, batchId: string, mailbox: string, after: EventPosition | null, limit: number): Promise<EventPage> {
    const { events } = this.tables
    const rows = await this.db.select(getTableColumns(events)).from(events)
      .where(and(...historyConditions(events, tenantId, batchId, mailbox, after)))
      .orderBy(desc(events.occurredAt), desc(events.seq))
      .limit(limit + 1)
    return toEventPage(rows, limit)
  }

  async listMailboxesWithOpenFailures (tenantId: string, batchId: string, categories: CategoryId[], after: string | null, limit: number): Promise<string[]> {
    if (categories.length === 0) return []
    const { failures } = this.tables
    const rows = await this.db.selectDistinct({ mailbox: failures.mailbox }).from(failures)
      .where(and(eq(failures.tenantId, tenantId), eq(failures.batchId, batchId), eq(failures.status, 'open'),
        inArray(failures.category, categories), ...(after === null ? [] : [gt(failures.mailbox, after)])))
      .orderBy(asc(failures.mailbox)).limit(limit)
    return rows.map((row) => row.mailbox)
  }
}
