import { and, eq, getTableColumns, gt, gte, inArray, lt, lte, or, sql, type AnyColumn, type Placeholder, type SQL, type Table } from 'drizzle-orm'
import {
  BLOCKING_CATEGORIES, countsFromCounters, heldUpSince, mailboxHeldUpSince,
  type CategoryId, type EventContext, type FailureState, type LifecycleEvent, type MailboxState
} from '../domain/index.js'
import type { MailboxKey, MailboxWrite } from './event-recorder.js'
import type {
  BatchCounts, ClassifiedEvent, EventPage, EventPosition, EventRecord, FailureFilter, FailureRecord, HeldUpFailure, ReadinessState, ReportPosition
} from './types.js'

// What both dialects store and read the same way: row shapes, the values written, the report
// filters and order. The dialect modules keep only what truly differs (driver calls, locking).

/** Keeps each statement well under the drivers' bound-parameter limits. */
export const CHUNK = 400

export function chunks<T> (items: T[], size = CHUNK): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** A failures row as both dialects read it: the state, with category and context as text. */
export type StoredFailureRow = Omit<FailureState, 'category' | 'context'> & {
  batchId: string
  mailbox: string
  category: string
  context: string
}

export function toFailureRecord (row: StoredFailureRow): FailureRecord {
  return {
    batchId: row.batchId,
    mailbox: row.mailbox,
    category: row.category as CategoryId,
    status: row.status,
    firstSeenAt: row.firstSeenAt,
    lastSeenAt: row.lastSeenAt,
    occurrences: row.occurrences,
    reopenCount: row.reopenCount,
    lastCode: row.lastCode,
    lastMessage: row.lastMessage,
    rule: row.rule,
    resolvedAt: row.resolvedAt,
    context: JSON.parse(row.context) as EventContext,
    seq: row.seq
  }
}

export interface StoredEventRow {
  seq: number
  occurredAt: number
  outcome: 'failed' | 'synced'
  category: string | null
  rule: string | null
  code: string | null
  message: string | null
  context: string
}

export function toLifecycleEvent (row: StoredEventRow): LifecycleEvent {
  return {
    seq: row.seq,
    occurredAt: row.occurredAt,
    outcome: row.outcome,
    category: row.category as CategoryId | null,
    rule: row.rule,
    code: row.code,
    message: row.message,
    context: JSON.parse(row.context) as EventContext
  }
}

export interface StoredMailboxRow {
  firstEventAt: number
  lastEventAt: number
  lastSyncedAt: number | null
  lastFailedAt: number | null
  eventCount: number
}

export function toMailboxState (row: StoredMailboxRow): MailboxState {
  return {
    firstEventAt: row.firstEventAt,
    lastEventAt: row.lastEventAt,
    lastSyncedAt: row.lastSyncedAt,
    lastFailedAt: row.lastFailedAt,
    eventCount: row.eventCount,
    failures: []
  }
}

/**
 * A repeated id inside one request is stored once (its first copy); the later copies count
 * as retries. Returns the index of each id's first copy.
 */
export function firstCopies (batch: ClassifiedEvent[]): { fresh: ClassifiedEvent[], isFirst: (index: number) => boolean } {
  const firstIndex = new Map<string, number>()
  batch.forEach((event, index) => { if (!firstIndex.has(event.id)) firstIndex.set(event.id, index) })
  return {
    fresh: batch.filter((event, index) => firstIndex.get(event.id) === index),
    isFirst: (index) => firstIndex.get(batch[index].id) === index
  }
}

export function eventValues (tenantId: string, event: ClassifiedEvent, receivedAt: number) {
  return {
    tenantId,
    eventId: event.id,
    batchId: event.batchId,
    mailbox: event.mailbox,
    occurredAt: event.occurredAt,
    outcome: event.outcome,
    category: event.category,
    rule: event.rule,
    code: event.failure?.code ?? null,
    message: event.failure?.message ?? null,
    context: JSON.stringify(event.context),
    contentHash: event.contentHash,
    receivedAt
  }
}

export function mailboxValues (tenantId: string, { batchId, mailbox, state }: MailboxWrite) {
  return {
    tenantId,
    batchId,
    mailbox,
    firstEventAt: state.firstEventAt,
    lastEventAt: state.lastEventAt,
    lastSyncedAt: state.lastSyncedAt,
    lastFailedAt: state.lastFailedAt,
    eventCount: state.eventCount,
    heldUpSince: mailboxHeldUpSince(state.failures, state.lastSyncedAt)
  }
}

export function failureValues (tenantId: string, writes: MailboxWrite[]) {
  return writes.flatMap(({ batchId, mailbox, changed }) => changed.map((failure) => ({
    tenantId,
    batchId,
    mailbox,
    ...failure,
    context: JSON.stringify(failure.context)
  })))
}

/** The `set` of an upsert that overwrites every column but the key with the proposed row. */
export function takeExcluded<T extends Table> (table: T, key: Array<keyof T['_']['columns']>): Partial<Record<keyof T['_']['columns'], SQL>> {
  return excludedValues(table, Object.keys(getTableColumns(table)).filter((name) => !key.includes(name)))
}

/** The `set` of an upsert that overwrites the columns `names` with the proposed row's values. */
export function excludedValues<T extends Table> (table: T, names: string[]): Partial<Record<keyof T['_']['columns'], SQL>> {
  const columns: Record<string, AnyColumn> = getTableColumns(table)
  return Object.fromEntries(names.map((name) => [name, sql.raw(`excluded."${columns[name].name}"`)])) as Partial<Record<keyof T['_']['columns'], SQL>>
}

/** Mailbox names grouped by batch, so a load is one `in` list per batch. */
export function mailboxesByBatch (keys: MailboxKey[]): Map<string, string[]> {
  const byBatch = new Map<string, string[]>()
  for (const key of keys) {
    const names = byBatch.get(key.batchId)
    if (names === undefined) byBatch.set(key.batchId, [key.mailbox])
    else names.push(key.mailbox)
  }
  return byBatch
}

/** The failures table's columns that reports filter and order by, in either dialect. */
export interface ReportColumns {
  tenantId: AnyColumn
  batchId: AnyColumn
  mailbox: AnyColumn
  category: AnyColumn
  status: AnyColumn
  lastSeenAt: AnyColumn
}

/** A value, or a named placeholder a prepared statement binds it to later. */
export type Bound<T> = T | Placeholder

/** A FailureFilter whose values may be placeholders; which filters are present stays fixed. */
export interface BoundFilter {
  status: FailureFilter['status'] | Placeholder
  categories: Array<Bound<string>>
  mailbox: Bound<string> | null
  since: Bound<number> | null
  until: Bound<number> | null
}

/**
 * The report query's parameters as placeholders: `shape` names which filters are present (one
 * prepared statement serves every request of that shape) and `params` holds the values.
 */
export function placeholderFilter (filter: FailureFilter, after: ReportPosition | null): {
  shape: string, filter: BoundFilter, after: BoundPosition | null, params: Record<string, unknown>
} {
  const params: Record<string, unknown> = {}
  const bind = <T>(name: string, value: T): Placeholder => {
    params[name] = value
    return sql.placeholder(name)
  }
  const bound: BoundFilter = {
    status: filter.status === 'all' ? 'all' : bind('status', filter.status),
    categories: filter.categories.map((category, index) => bind(`category${index}`, category)),
    mailbox: filter.mailbox === null ? null : bind('mailbox', filter.mailbox),
    since: filter.since === null ? null : bind('since', filter.since),
    until: filter.until === null ? null : bind('until', filter.until)
  }
  const position = after === null
    ? null
    : { lastSeenAt: bind('afterLastSeenAt', after.lastSeenAt), mailbox: bind('afterMailbox', after.mailbox), category: bind('afterCategory', after.category) }
  // The names bound are exactly what tells one shape from another.
  return { shape: Object.keys(params).join(':'), filter: bound, after: position, params }
}

export function filterConditions (columns: ReportColumns, tenantId: Bound<string>, batchId: Bound<string>, filter: BoundFilter): SQL[] {
  const conditions: SQL[] = [eq(columns.tenantId, tenantId), eq(columns.batchId, batchId)]
  if (filter.status !== 'all') conditions.push(eq(columns.status, filter.status))
  if (filter.categories.length > 0) conditions.push(inArray(columns.category, filter.categories))
  if (filter.mailbox !== null) conditions.push(eq(columns.mailbox, filter.mailbox))
  if (filter.since !== null) conditions.push(gte(columns.lastSeenAt, filter.since))
  if (filter.until !== null) conditions.push(lt(columns.lastSeenAt, filter.until))
  return conditions
}

/** A report position whose values may be placeholders (see placeholderFilter). */
export interface BoundPosition {
  lastSeenAt: Bound<number>
  mailbox: Bound<string>
  category: Bound<string>
}

/** Rows strictly after `after` in report order (lastSeenAt desc, mailbox, category). */
export function afterPosition (columns: ReportColumns, after: BoundPosition): SQL {
  // The leading bound repeats what the OR implies, so the planner can seek the report index
  // to the cursor instead of walking it from the top (a deep page would cost the whole depth).
  return and(lte(columns.lastSeenAt, after.lastSeenAt), or(
    lt(columns.lastSeenAt, after.lastSeenAt),
    and(eq(columns.lastSeenAt, after.lastSeenAt), or(
      gt(columns.mailbox, after.mailbox),
      and(eq(columns.mailbox, after.mailbox), gt(columns.category, after.category))
    ))
  )) as SQL
}

/**
 * For a failures row changed after the snapshot: the place it had then, i.e. the latest
 * failed event of its own that the snapshot already held (null when it held none).
 * Qualified by hand: drizzle leaves columns unqualified here, which would bind them to e.
 */
export function snapshotLastSeen (snapshotSeq: Bound<number>): SQL<number | null> {
  return sql<number | null>`(select max(e.occurred_at) from events e
    where e.tenant_id = failures.tenant_id and e.batch_id = failures.batch_id and e.mailbox = failures.mailbox
      and e.category = failures.category and e.outcome = 'failed' and e.seq <= ${snapshotSeq})`.mapWith(Number)
}

/** Readiness from the number of migrations the store has applied. */
export function readinessFrom (applied: number, expected: number): ReadinessState {
  return applied >= expected
    ? { reachable: true, migrated: true }
    : { reachable: true, migrated: false, detail: `${applied} of ${expected} migrations applied` }
}

/** The batches table's columns that the batch list orders and pages by, in either dialect. */
export interface BatchListColumns {
  batchId: AnyColumn
  createdAt: AnyColumn
}

/** Batches strictly after `after` in list order (createdAt desc, then batchId). */
export function afterBatch (columns: BatchListColumns, after: { createdAt: Bound<number>, batchId: Bound<string> }): SQL {
  return and(lte(columns.createdAt, after.createdAt), or(
    lt(columns.createdAt, after.createdAt),
    and(eq(columns.createdAt, after.createdAt), gt(columns.batchId, after.batchId))
  )) as SQL
}

/** The events table's columns that a mailbox history selects, orders and pages by, in either dialect. */
export interface EventHistoryColumns {
  tenantId: AnyColumn
  batchId: AnyColumn
  mailbox: AnyColumn
  occurredAt: AnyColumn
  seq: AnyColumn
}

/** A mailbox's events strictly after `after` in history order (occurredAt desc, then seq desc). */
export function historyConditions (
  columns: EventHistoryColumns, tenantId: string, batchId: string, mailbox: string, after: EventPosition | null
): SQL[] {
  const conditions: SQL[] = [eq(columns.tenantId, tenantId), eq(columns.batchId, batchId), eq(columns.mailbox, mailbox)]
  if (after !== null) {
    conditions.push(or(
      lt(columns.occurredAt, after.occurredAt),
      and(eq(columns.occurredAt, after.occurredAt), lt(columns.seq, after.seq))
    ) as SQL)
  }
  return conditions
}

/** A history page from up to `limit + 1` events rows in history order. */
export function toEventPage (rows: Array<StoredEventRow & { eventId: string, receivedAt: number }>, limit: number): EventPage {
  const records: EventRecord[] = rows.map((row) => ({ ...toLifecycleEvent(row), id: row.eventId, receivedAt: row.receivedAt }))
  return pageOf(records, limit, (last) => ({ occurredAt: last.occurredAt, seq: last.seq }))
}

/** A page from `limit + 1` rows: the first `limit`, and where the next page starts if there is one. */
export function pageOf<T, P> (rows: T[], limit: number, position: (last: T) => P): { items: T[], next: P | null } {
  const items = rows.slice(0, limit)
  return { items, next: rows.length > limit ? position(items[items.length - 1]) : null }
}

/**
 * Sets mailboxes.held_up_since of every mailbox of the batch from its open blocking failures:
 * what the writes keep (mailboxValues), for the backfill of batches stored before the column.
 * `greatest` is the dialect's two-argument maximum (SQLite max, PostgreSQL greatest).
 */
export function heldUpRefresh (greatest: 'max' | 'greatest', tenantId: string, batchId: string): SQL {
  const later = sql.raw(greatest)
  return sql`update mailboxes as m set held_up_since = (select min(${later}(f.first_seen_at, coalesce(m.last_synced_at, f.first_seen_at)))
      from failures f where f.tenant_id = m.tenant_id and f.batch_id = m.batch_id and f.mailbox = m.mailbox
        and f.status = 'open' and f.category in ${[...BLOCKING_CATEGORIES]})
    where m.tenant_id = ${tenantId} and m.batch_id = ${batchId}`
}

export interface MailboxHeldUp { mailbox: string, heldUpSince: number }

/**
 * Sets mailboxes.held_up_since to the values given, in one statement by primary key (the sweep's
 * stalls: it knows each value, and a lookup among the batch's failures per mailbox was planned
 * as a scan of the batch's failures on PostgreSQL while its statistics predated the sweep).
 */
export function heldUpSet (tenantId: string, batchId: string, heldUp: MailboxHeldUp[]): SQL {
  const cases = sql.join(heldUp.map(({ mailbox, heldUpSince }) => sql`when ${mailbox} then cast(${heldUpSince} as bigint)`), sql` `)
  return sql`update mailboxes set held_up_since = case mailbox ${cases} end
    where tenant_id = ${tenantId} and batch_id = ${batchId} and mailbox in ${heldUp.map(({ mailbox }) => mailbox)}`
}

/** Adds one chunk of batches to `counts` from the three count queries both dialects run. */
export function addBatchCounts (
  counts: Map<string, BatchCounts>,
  seen: Array<{ batchId: string, count: number }>,
  mailboxRows: Array<{ batchId: string, withOpen: number, blocked: number, stalled: number }>,
  categoryRows: Array<{ batchId: string, category: string, count: number }>
): void {
  for (const row of seen) {
    counts.set(row.batchId, {
      mailboxesSeen: row.count, mailboxesWithOpenFailures: 0, mailboxesBlocked: 0, mailboxesStalled: 0, openFailures: 0, byCategory: {}
    })
  }
  for (const row of mailboxRows) {
    const batch = counts.get(row.batchId)
    if (batch === undefined) continue
    batch.mailboxesWithOpenFailures = row.withOpen
    batch.mailboxesBlocked = row.blocked
    batch.mailboxesStalled = row.stalled
  }
  for (const row of categoryRows) {
    const batch = counts.get(row.batchId)
    if (batch === undefined) continue
    batch.byCategory[row.category as CategoryId] = row.count
    batch.openFailures += row.count
  }
}

/** countBatches' answer from counter rows: every batch with a counter, with its counts. */
export function countsByBatch (rows: Array<{ batchId: string, name: string, value: number }>): Map<string, BatchCounts> {
  const byBatch = new Map<string, Array<{ name: string, value: number }>>()
  for (const row of rows) {
    const list = byBatch.get(row.batchId)
    if (list === undefined) byBatch.set(row.batchId, [row])
    else list.push(row)
  }
  return new Map([...byBatch].map(([batchId, list]) => [batchId, countsFromCounters(list)]))
}

/** The mailbox's open blocking failure with the earliest heldUpSince (then by category), or null. */
export function oldestOfMailbox (failures: FailureRecord[], lastSyncedAt: number | null): HeldUpFailure | null {
  let oldest: HeldUpFailure | null = null
  for (const failure of failures) {
    const since = heldUpSince(failure, lastSyncedAt)
    if (since === null) continue
    if (oldest === null || since < oldest.heldUpSince || (since === oldest.heldUpSince && failure.category < oldest.failure.category)) {
      oldest = { failure, heldUpSince: since }
    }
  }
  return oldest
}

/** The open categories of each mailbox, from (mailbox, category) rows of open failures. */
export function openCategoriesOf (rows: Array<{ mailbox: string, category: string }>): Map<string, CategoryId[]> {
  const open = new Map<string, CategoryId[]>()
  for (const row of rows) {
    const list = open.get(row.mailbox)
    if (list === undefined) open.set(row.mailbox, [row.category as CategoryId])
    else list.push(row.category as CategoryId)
  }
  return open
}
