import { and, asc, eq, getTableColumns, gt, inArray, sql, type SQL, type SQLWrapper } from 'drizzle-orm'
import { drizzle, type NodePgDatabase, type NodePgQueryResultHKT } from 'drizzle-orm/node-postgres'
import { PgDialect, type AnyPgColumn, type PgDatabase, type PgTable } from 'drizzle-orm/pg-core'
import pg from 'pg'
import { numberChanges, type Change, type ChangeQuery } from '../domain/changes.js'
import {
  countersOf, SEEN_COUNTER, type BatchCounts, type CategoryId, type LifecycleEvent, type MailboxState, type StallDetection
} from '../domain/index.js'
import { LOCK_NAMESPACE, LOCKS, openPostgres, quoteIdentifier, type PostgresDb, type PostgresOptions } from '../db/postgres.js'
import { journalLength } from '../db/migrations.js'
import * as schema from '../db/schema.postgres.js'
import { batchCounters, batches, changeCounters, changes, events, failures, mailboxes } from '../db/schema.postgres.js'
import { ReadQueries, reportPageOf, reportScan } from './read-queries.js'
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
  chunks, eventValues, failureValues, firstCopies, mailboxesByBatch,
  heldUpRefresh, heldUpSet, mailboxValues, readinessFrom, toFailureRecord, type MailboxHeldUp,
  toLifecycleEvent, toMailboxState, openCategoriesOf
} from './stored-rows.js'
import {
  StoreUnavailableError,
  type BackgroundJob, type BatchPage, type BatchPosition, type BatchRecord, type ClassifiedEvent, type EventPage,
  type EventPosition, type FailurePage, type FailurePageRequest, type FailureRecord, type FailureRepository,
  type HeldUpFailure, type MailboxRecord, type ReadinessState, type RecordResult, type PoolStats
} from './types.js'

/** A transaction, or a connection whose transaction this module began itself (inWriteTransaction). */
type PostgresTx = PgDatabase<NodePgQueryResultHKT, typeof schema>
/** Runs a statement in the transaction and returns its rows. */
type Run = <R extends Record<string, unknown>>(statement: SQL) => Promise<R[]>
type TransactionConfig = Parameters<PostgresDb['transaction']>[1]

// Error codes that mean "the database is not there right now", not "this request is wrong":
// socket errors, SQLSTATE class 08 (connection exception), server shutting down or starting,
// too many connections.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  '57P01', '57P02', '57P03', '53300'
])
// node-postgres reports a dropped or timed-out connection with a message and no code.
const UNAVAILABLE_MESSAGES = /connection terminated|connection error|timeout exceeded when trying to connect|client has encountered a connection error|cannot use a pool after calling end/i

// Deadlock and serialization failures: the transaction was rolled back and may simply be rerun.
const RETRYABLE_CODES = new Set(['40P01', '40001'])
const ATTEMPTS = 3

/** The error and its causes (drizzle wraps driver errors in a DrizzleQueryError). */
function * causes (error: unknown): Generator<Error & { code?: unknown }> {
  let current = error
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    yield current
    current = current.cause
  }
}

export function isUnavailable (error: unknown): boolean {
  for (const cause of causes(error)) {
    if (cause instanceof StoreUnavailableError) return true
    const code = typeof cause.code === 'string' ? cause.code : ''
    if (UNAVAILABLE_CODES.has(code) || code.startsWith('08') || UNAVAILABLE_MESSAGES.test(cause.message)) return true
  }
  return false
}

function isRetryable (error: unknown): boolean {
  for (const cause of causes(error)) if (typeof cause.code === 'string' && RETRYABLE_CODES.has(cause.code)) return true
  return false
}

export async function guarded<T> (work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    throw isUnavailable(error) ? new StoreUnavailableError(error) : error
  }
}

// drizzle() over a connection, kept with the connection: building one takes about 0.4 ms
// (the schema's relational configuration), once per transaction before, and the pool hands
// out the same few connections again and again.
const onConnections = new WeakMap<pg.PoolClient, NodePgDatabase<typeof schema>>()

function onConnection (client: pg.PoolClient): NodePgDatabase<typeof schema> {
  let db = onConnections.get(client)
  if (db === undefined) {
    db = drizzle({ client, schema })
    onConnections.set(client, db)
  }
  return db
}

/**
 * A transaction on a connection of its own. Unlike drizzle's pool transaction, the
 * connection is released even when `begin` fails, and released as broken (so the pool
 * drops it) when the connection failed: an outage never leaks a pool slot.
 */
async function inTransaction<T> (db: PostgresDb, work: (tx: PostgresTx) => Promise<T>, config?: TransactionConfig): Promise<T> {
  const client = await db.$client.connect()
  let broken: Error | undefined
  try {
    return await onConnection(client).transaction(work, config)
  } catch (error) {
    if (isUnavailable(error)) broken = error as Error
    throw error
  } finally {
    client.release(broken)
  }
}

/**
 * A transaction for a write whose last statement shares rows with every other writer (see
 * finishWrite): `last` sends that statement with COMMIT queued right behind it, so node-postgres
 * sends the COMMIT as soon as the statement's reply arrives (in the same read of the socket)
 * instead of after the caller's code has run on an event loop busy with other requests, which
 * kept those rows locked for milliseconds more. If the statement fails, PostgreSQL ends the
 * failed transaction at that COMMIT with a rollback. Without a call to `last` it commits at the
 * end, as inTransaction does.
 */
async function inWriteTransaction<T> (db: PostgresDb, work: (tx: PostgresTx, last: Run) => Promise<T>): Promise<T> {
  const client = await db.$client.connect()
  let broken: Error | undefined
  let ended = false
  const last: Run = async <R extends Record<string, unknown>>(statement: SQL) => {
    ended = true
    const query = writeDialect.sqlToQuery(statement)
    // Both queued at once, in this order: pg sends them one after the other.
    const [result, commit] = await Promise.allSettled([client.query<R>(query.sql, query.params), client.query('commit')])
    if (result.status === 'rejected') throw result.reason
    if (commit.status === 'rejected') throw commit.reason
    return result.value.rows
  }
  try {
    await client.query('begin')
    const value = await work(onConnection(client), last)
    if (!ended) {
      ended = true
      await client.query('commit')
    }
    return value
  } catch (error) {
    if (isUnavailable(error)) broken = error as Error
    else if (!ended) await client.query('rollback').catch((failure: unknown) => { broken = failure as Error })
    throw error
  } finally {
    client.release(broken)
  }
}

const writeDialect = new PgDialect()

/**
 * A multi-row insert with one parameter a column (arrays, unnested), for rows of `table` keyed by
 * its column properties (a column no row has is left to its default; other keys are ignored). drizzle's values()
 * sends a parameter a value and spent about 150 ms of CPU building the inserts of one bulk of
 * 1000 events (a third of the service's time on a bulk); this is the same statement's shape for
 * PostgreSQL, whatever the number of rows. `tail` follows (on conflict ..., returning ...).
 */
function unnestInsert (table: PgTable, rows: Array<Record<string, unknown>>, tail: SQL): SQL {
  const columns: Record<string, AnyPgColumn> = getTableColumns(table)
  const keys = Object.keys(columns).filter((key) => rows.some((row) => row[key] !== undefined))
  const names = keys.map((key) => sql.identifier(columns[key].name))
  const arrays = keys.map((key) => {
    // The column's type without its collation ("text COLLATE \"C\""): the array's element type.
    const type = columns[key].getSQLType().replace(/ collate .*$/i, '')
    return sql`${sql.param(rows.map((row) => row[key] ?? null))}::${sql.raw(type)}[]`
  })
  return sql`insert into ${table} (${sql.join(names, sql`, `)}) select * from unnest(${sql.join(arrays, sql`, `)}) ${tail}`
}

/** On conflict on `key` (column properties), every other column of `table` from the proposed row. */
function updateOthers (table: PgTable, key: string[]): SQL {
  const columns: Record<string, AnyPgColumn> = getTableColumns(table)
  const target = sql.join(key.map((name) => sql.identifier(columns[name].name)), sql`, `)
  const set = Object.keys(columns).filter((name) => !key.includes(name))
    .map((name) => sql`${sql.identifier(columns[name].name)} = excluded.${sql.identifier(columns[name].name)}`)
  return sql`on conflict (${target}) do update set ${sql.join(set, sql`, `)}`
}

/** Run on a transaction, statement by statement. */
function runOn (tx: PostgresTx): Run {
  return async <R extends Record<string, unknown>>(statement: SQL) => (await tx.execute(statement)).rows as R[]
}

/**
 * A write's SharedWrite in one statement, so that the rows every writer of a batch or tenant
 * shares stay locked for one round trip and the commit (as six statements they were held for
 * six round trips: 106 single events a second into one batch, 66 ms of each request waiting on
 * the batches row). The steps lock in SharedWrite's order: each one's rows are written only
 * once the one before has run to completion (its count is a one-time condition of the next).
 *
 * The tenant's change counter is locked last: its row lock makes the next writer of the tenant
 * wait until this one commits, so seqs commit in increasing order and a reader never sees a
 * number whose predecessors are still to come (a sequence would hand out numbers that commit
 * out of order). The NOTIFY is delivered at commit, never for a rollback.
 */
async function finishWrite (run: Run, channel: string, tenantId: string, { batches: touched, deltas, drafts, recordedAt }: SharedWrite): Promise<Change[]> {
  const steps: Array<{ name: string, statement: SQL }> = []
  const after = (): SQL => steps.length === 0 ? sql`true` : sql`(select count(*) from ${sql.identifier(steps[steps.length - 1].name)}) >= 0`
  const texts = (values: string[]): SQL => sql`${sql.param(values)}::text[]`
  const numbers = (values: number[]): SQL => sql`${sql.param(values)}::bigint[]`
  if (touched.length > 0) {
    steps.push({
      name: 'touched',
      statement: sql`insert into ${batches} (tenant_id, batch_id, first_event_at, last_event_at, created_at)
        select ${tenantId}, t.batch_id, t.first_event_at, t.last_event_at, ${recordedAt}
        from unnest(${texts(touched.map((batch) => batch.batchId))}, ${numbers(touched.map((batch) => batch.firstEventAt))},
          ${numbers(touched.map((batch) => batch.lastEventAt))}) with ordinality as t(batch_id, first_event_at, last_event_at, ord)
        order by t.ord
        on conflict (tenant_id, batch_id) do update set first_event_at = least(${batches.firstEventAt}, excluded.first_event_at),
          last_event_at = greatest(${batches.lastEventAt}, excluded.last_event_at)
        returning 1`
    })
  }
  if (deltas.length > 0) {
    steps.push({
      name: 'counted',
      statement: sql`insert into ${batchCounters} (tenant_id, batch_id, name, value)
        select ${tenantId}, d.batch_id, d.name, d.value
        from unnest(${texts(deltas.map((delta) => delta.batchId))}, ${texts(deltas.map((delta) => delta.name))},
          ${numbers(deltas.map((delta) => delta.delta))}) with ordinality as d(batch_id, name, value, ord)
        where ${after()}
        order by d.ord
        on conflict (tenant_id, batch_id, name) do update set value = ${batchCounters.value} + excluded.value
        returning 1`
    })
  }
  // The drafts' stored columns; their seqs are numbered in the statement (the counter's new value).
  const rows = numberChanges(tenantId, drafts, 0, recordedAt).map(changeValues)
  if (rows.length > 0) {
    steps.push({
      name: 'numbered',
      statement: sql`insert into ${changeCounters} (tenant_id, last_seq) select ${tenantId}, ${rows.length} where ${after()}
        on conflict (tenant_id) do update set last_seq = ${changeCounters.lastSeq} + excluded.last_seq
        returning last_seq`
    }, {
      name: 'appended',
      statement: sql`insert into ${changes} (tenant_id, seq, type, batch_id, mailbox, category, rule, status, occurred_at, recorded_at, failure)
        select ${tenantId}, n.last_seq - ${rows.length} + c.ord, c.type, c.batch_id, c.mailbox, c.category, c.rule, c.status, c.occurred_at, ${recordedAt}, c.failure
        from numbered n, unnest(${texts(rows.map((row) => row.type))}, ${texts(rows.map((row) => row.batchId))}, ${texts(rows.map((row) => row.mailbox))},
          ${texts(rows.map((row) => row.category))}, ${texts(rows.map((row) => row.rule))}, ${texts(rows.map((row) => row.status))},
          ${numbers(rows.map((row) => row.occurredAt))}, ${texts(rows.map((row) => row.failure))})
          with ordinality as c(type, batch_id, mailbox, category, rule, status, occurred_at, failure, ord)
        returning 1`
    })
  }
  if (steps.length === 0) return []
  const result = rows.length === 0
    ? sql`select null::bigint as last_seq`
    : sql`select n.last_seq, pg_notify(${channel}, ${tenantId}) from numbered n`
  const ctes = sql.join(steps.map(({ name, statement }) => sql`${sql.identifier(name)} as (${statement})`), sql`, `)
  const [row] = await run<{ last_seq: string | null }>(sql`with ${ctes} ${result}`)
  return rows.length === 0 ? [] : numberChanges(tenantId, drafts, Number(row.last_seq) - drafts.length + 1, recordedAt)
}

class PostgresRecordingTx implements RecordingTx {
  /** `locked`: the mailboxes lockMailboxes locked (and gave placeholders) for this write; `stored`: those stored before it, as it read them. */
  constructor (
    private readonly tx: PostgresTx, private readonly channel: string, private readonly locked: MailboxKey[],
    private readonly stored: Map<string, MailboxState>, private readonly last: Run
  ) {}

  async finishWrite (tenantId: string, write: SharedWrite): Promise<Change[]> {
    return await finishWrite(this.last, this.channel, tenantId, write)
  }

  async insertEvents (tenantId: string, batch: ClassifiedEvent[], receivedAt: number): Promise<Array<number | null>> {
    const seqById = new Map<string, number>()
    const { fresh, isFirst } = firstCopies(batch)
    if (fresh.length > 0) {
      const rows = await runOn(this.tx)<{ event_id: string, seq: string }>(unnestInsert(events, fresh.map((event) => eventValues(tenantId, event, receivedAt)),
        sql`on conflict do nothing returning event_id, seq`))
      for (const row of rows) seqById.set(row.event_id, Number(row.seq))
    }
    return batch.map((event, index) => isFirst(index) ? (seqById.get(event.id) ?? null) : null)
  }

  async findEvents (tenantId: string, eventIds: string[]): Promise<Map<string, StoredEventFingerprint>> {
    const found = new Map<string, StoredEventFingerprint>()
    for (const part of chunks([...new Set(eventIds)])) {
      const rows = await this.tx.select({
        eventId: events.eventId,
        contentHash: events.contentHash,
        batchId: events.batchId,
        mailbox: events.mailbox,
        category: events.category,
        rule: events.rule
      }).from(events).where(and(eq(events.tenantId, tenantId), inArray(events.eventId, part)))
      for (const row of rows) found.set(row.eventId, { ...row, category: row.category as StoredEventFingerprint['category'] })
    }
    return found
  }

  // The mailboxes were locked, and read, when the transaction began (see recordEvents below);
  // here only their failures are read.
  async loadMailboxes (tenantId: string, keys: MailboxKey[]): Promise<Map<string, MailboxState>> {
    const states = new Map<string, MailboxState>()
    for (const key of keys) {
      const state = this.stored.get(mailboxKey(key))
      if (state !== undefined) states.set(mailboxKey(key), { ...state, failures: [] })
    }
    const stored = keys.filter((key) => states.has(mailboxKey(key)))
    for (const [batchId, names] of mailboxesByBatch(stored)) {
      for (const part of chunks(names)) {
        const rows = await this.tx.select().from(failures).where(and(
          eq(failures.tenantId, tenantId), eq(failures.batchId, batchId), inArray(failures.mailbox, part)
        ))
        for (const row of rows) {
          const { batchId: _batch, mailbox: _mailbox, ...failure } = toFailureRecord(row)
          states.get(mailboxKey(row))?.failures.push(failure)
        }
      }
    }
    return states
  }

  async loadHistory (tenantId: string, key: MailboxKey): Promise<LifecycleEvent[]> {
    const rows = await this.tx.select().from(events).where(and(
      eq(events.tenantId, tenantId), eq(events.batchId, key.batchId), eq(events.mailbox, key.mailbox)
    ))
    return rows.map(toLifecycleEvent)
  }

  async saveMailboxes (tenantId: string, writes: MailboxWrite[]): Promise<void> {
    if (writes.length > 0) {
      await this.tx.execute(unnestInsert(mailboxes, writes.map((write) => mailboxValues(tenantId, write)), updateOthers(mailboxes, ['tenantId', 'batchId', 'mailbox'])))
    }
    const rows = failureValues(tenantId, writes)
    if (rows.length > 0) await this.tx.execute(unnestInsert(failures, rows, updateOthers(failures, ['tenantId', 'batchId', 'mailbox', 'category'])))
    // A placeholder is left only where every event of the mailbox was a repeat (whose mailbox
    // existed before, unless retention has purged it since): a written mailbox is not one.
    const written = new Set(writes.map(mailboxKey))
    const unwritten = this.locked.filter((key) => !written.has(mailboxKey(key)))
    if (unwritten.length > 0) await this.tx.execute(sql`delete from ${mailboxes} m where m.tenant_id = ${tenantId} and m.event_count = 0 and ${isOneOf(unwritten)}`)
  }
}

class PostgresSweepingTx implements SweepingTx {
  constructor (private readonly tx: PostgresTx, private readonly channel: string) {}

  async nextMailboxes (tenantId: string, batchId: string, after: string | null, limit: number): Promise<SweepMailboxRow[]> {
    return await this.tx.select({ mailbox: mailboxes.mailbox, lastSyncedAt: mailboxes.lastSyncedAt, firstEventAt: mailboxes.firstEventAt })
      .from(mailboxes)
      .where(and(eq(mailboxes.tenantId, tenantId), eq(mailboxes.batchId, batchId), gt(mailboxes.mailbox, after ?? ''), gt(mailboxes.eventCount, 0)))
      .orderBy(asc(mailboxes.mailbox)).limit(limit)
  }

  /**
   * Row locks in the order recordEvents takes them (see lockMailboxes): a writer that holds one
   * finishes first and the sweep sees what it wrote (READ COMMITTED rereads the locked rows);
   * one that comes later waits and then loads the stall.
   */
  async holdMailboxes (tenantId: string, batchId: string, rows: SweepMailboxRow[]): Promise<SweepMailboxRow[]> {
    const locked = await this.tx.execute<{ mailbox: string, last_synced_at: string | null, first_event_at: string }>(sql`select m.mailbox,
        m.last_synced_at, m.first_event_at from ${mailboxes} m
      where m.tenant_id = ${tenantId} and m.batch_id = ${batchId} and m.mailbox = any(${sql.param(rows.map((row) => row.mailbox))}::text[])
      order by m.mailbox for update`)
    return locked.rows.map((row) => ({
      mailbox: row.mailbox,
      lastSyncedAt: row.last_synced_at === null ? null : Number(row.last_synced_at),
      firstEventAt: Number(row.first_event_at)
    }))
  }

  async openCategories (tenantId: string, batchId: string, names: string[]): Promise<Map<string, CategoryId[]>> {
    if (names.length === 0) return new Map()
    const rows = await this.tx.select({ mailbox: failures.mailbox, category: failures.category }).from(failures)
      .where(and(eq(failures.tenantId, tenantId), eq(failures.batchId, batchId), inArray(failures.mailbox, names), eq(failures.status, 'open')))
    return openCategoriesOf(rows)
  }

  async openStalls (detection: StallDetection, tenantId: string, batchId: string, names: string[]): Promise<FailureRecord[]> {
    return await openStalls(this.tx, schema, detection, tenantId, batchId, names)
  }

  async setHeldUp (tenantId: string, batchId: string, heldUp: MailboxHeldUp[]): Promise<void> {
    if (heldUp.length > 0) await this.tx.execute(heldUpSet(tenantId, batchId, heldUp))
  }

  async finishWrite (tenantId: string, write: SharedWrite): Promise<Change[]> {
    return await finishWrite(runOn(this.tx), this.channel, tenantId, write)
  }
}

/** The distinct mailboxes of the events. */
function mailboxesOf (batch: ClassifiedEvent[]): MailboxKey[] {
  const seen = new Map<string, MailboxKey>()
  for (const event of batch) seen.set(mailboxKey(event), { batchId: event.batchId, mailbox: event.mailbox })
  return [...seen.values()]
}

/**
 * `m` is one of these mailboxes. The first two arrays let the planner seek the primary key; the
 * list of pairs (hashed by PostgreSQL) keeps it exact. A join with `unnest` instead was planned
 * as a nested loop over the whole batch when the table had no statistics yet (measured: 3.7 s
 * for 1,000 of 30,000 mailboxes). Batch ids and addresses never hold a newline.
 */
function isOneOf (keys: MailboxKey[], batchId: SQLWrapper = sql`m.batch_id`, mailbox: SQLWrapper = sql`m.mailbox`): SQL {
  const batchIds = [...new Set(keys.map((key) => key.batchId))]
  return sql`${batchId} = any(${sql.param(batchIds)}::text[]) and ${mailbox} = any(${sql.param(keys.map((key) => key.mailbox))}::text[])
    and (${batchId} || E'\n' || ${mailbox}) = any(${sql.param(keys.map((key) => `${key.batchId}\n${key.mailbox}`))}::text[])`
}

/**
 * Locks every mailbox the events touch until the transaction ends, as row locks, which
 * PostgreSQL keeps in the rows themselves: advisory locks, one per mailbox, filled its shared
 * lock table (about 6,400 entries by default) once a few dozen bulks ran at once, and every
 * write failed with "out of shared memory" meanwhile. A mailbox not stored yet gets a
 * placeholder row first (event_count 0, see loadMailboxes): a concurrent writer of the same
 * new mailbox waits on it until this transaction ends. Both steps go in key order (the
 * columns' collations: mailbox is "C"), so two writers never wait on each other crosswise
 * (should they still, PostgreSQL picks one to fail with a deadlock, which is retried).
 */
async function lockMailboxes (tx: PostgresTx, tenantId: string, keys: MailboxKey[]): Promise<Map<string, MailboxState>> {
  // The seq gate comes first, shared (writers run side by side; currentSeq takes it exclusively),
  // before any row lock: a writer holding a mailbox while it queued behind a reader of the seq
  // could close a cycle. As a one-time condition it is taken before the statement's first row.
  await tx.execute(sql`insert into ${mailboxes} (tenant_id, batch_id, mailbox, first_event_at, last_event_at, event_count)
    select ${tenantId}, k.batch_id, k.mailbox, 0, 0, 0
    from unnest(${sql.param(keys.map((key) => key.batchId))}::text[], ${sql.param(keys.map((key) => key.mailbox))}::text[]) as k(batch_id, mailbox)
    where (select pg_advisory_xact_lock_shared(${LOCK_NAMESPACE}, ${LOCKS.seqGate}) is not null)
    order by k.batch_id, k.mailbox collate "C"
    on conflict do nothing`)
  // The rows as they are now: locked, they stay so until the write reads them (loadMailboxes).
  const rows = await tx.select().from(mailboxes).where(and(eq(mailboxes.tenantId, tenantId), isOneOf(keys, mailboxes.batchId, mailboxes.mailbox)))
    .orderBy(mailboxes.batchId, mailboxes.mailbox).for('update')
  const states = new Map<string, MailboxState>()
  // A row with no events is this transaction's own placeholder: no mailbox yet.
  for (const row of rows) if (row.eventCount > 0) states.set(mailboxKey(row), toMailboxState(row))
  return states
}

export interface PostgresRepositoryOptions extends PostgresOptions {
  url: string
}

/**
 * Run first in the report page's transaction. Each of its two queries has one index that yields
 * its rows in the order asked (a report index for the rows in place, stopping at the page's
 * limit; failures_seq_idx for the few rows changed since the snapshot). A planner without
 * statistics (a table autovacuum has not analysed yet) estimated one row a batch and read the
 * whole batch on another index instead: sorted it (16 ms at 10,000 mailboxes, 164 ms at
 * 100,000), or filtered every open failure by seq (168 ms). With sorts priced out it keeps to
 * the ordered index; a query with no such index still sorts.
 */
export const REPORT_PLANNER = sql`set local enable_sort = off`

export class PostgresFailureRepository implements FailureRepository {
  readonly dialect = 'postgres' as const

  private readonly appended = new AppendedListeners()
  /** The reading of the snapshot clock that has not started yet (callers join it), and the latest one. */
  private nextSeqRead: Promise<number> | null = null
  private seqRead: Promise<number> | null = null
  /** NOTIFY channel of this deployment's schema: instances on other schemas of the database do not hear it. */
  private readonly channel: string
  private listener: pg.Client | null = null
  private listenerRetry: NodeJS.Timeout | null = null
  private closed = false
  private readonly queries: ReadQueries

  private constructor (private readonly db: PostgresDb, private readonly migrationsSchema: string, private readonly url: string, private readonly options: PostgresOptions) {
    this.channel = `changes:${migrationsSchema}`
    this.queries = new ReadQueries(db, schema, 'postgres')
  }

  /** Connects, applies pending migrations (one instance at a time) and returns the repository. */
  static async open (options: PostgresRepositoryOptions): Promise<PostgresFailureRepository> {
    const { db, migrationsSchema } = await openPostgres(options.url, options)
    const repository = new PostgresFailureRepository(db, migrationsSchema, options.url, options)
    try {
      await repository.backfillCounters()
    } catch (error) {
      await repository.close()
      throw error
    }
    return repository
  }

  /**
   * Counters for the batches stored before they were kept (every batch that has a mailbox has a
   * mailboxesSeen counter once kept), recounted once. Each batch in one transaction that holds
   * the sweep lease's key and locks the batch's mailboxes, then its batches row, in the order
   * writers take them: no write or sweep of the batch runs meanwhile, and those that wait add
   * their deltas to the recount.
   */
  private async backfillCounters (): Promise<void> {
    const missing = await this.db.execute<{ tenant_id: string, batch_id: string }>(sql`select tenant_id, batch_id from ${batches} b
      where not exists (select 1 from ${batchCounters} c where c.tenant_id = b.tenant_id and c.batch_id = b.batch_id
        and c.name = ${SEEN_COUNTER})`)
    for (const { tenant_id: tenantId, batch_id: batchId } of missing.rows) {
      await this.retried(async () => await inTransaction(this.db, async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(${LOCK_NAMESPACE}, hashtext(${this.leaseKey('stall-sweep')}))`)
        await tx.execute(sql`select 1 from ${mailboxes} m where m.tenant_id = ${tenantId} and m.batch_id = ${batchId} order by m.mailbox for update`)
        await tx.execute(sql`select 1 from ${batches} where tenant_id = ${tenantId} and batch_id = ${batchId} for update`)
        const counts = (await this.queries.on(tx).recount(tenantId, [batchId])).get(batchId)
        await tx.delete(batchCounters).where(and(eq(batchCounters.tenantId, tenantId), eq(batchCounters.batchId, batchId)))
        if (counts !== undefined) await finishWrite(runOn(tx), this.channel, tenantId, { batches: [], deltas: countersOf(batchId, counts), drafts: [], recordedAt: Date.now() })
        await tx.execute(heldUpRefresh('greatest', tenantId, batchId))
      }))
    }
  }

  /** A job's lease key: the job, on this deployment's schema. */
  private leaseKey (job: BackgroundJob): string {
    return `${job}:${this.migrationsSchema}`
  }

  async recordEvents (tenantId: string, batch: ClassifiedEvent[], receivedAt: number): Promise<RecordResult> {
    const result = await guarded(async () => await this.retried(async () => await inWriteTransaction(this.db, async (tx, last) => {
      const keys = mailboxesOf(batch)
      const locked = await lockMailboxes(tx, tenantId, keys)
      // finishWrite is the write's last statement, sent with the commit.
      return await recordEvents(new PostgresRecordingTx(tx, this.channel, keys, locked, last), tenantId, batch, receivedAt)
    })))
    if (result.changes.length > 0) this.appended.emit([tenantId])
    return result
  }

  async countOpenFailuresByCategory (): Promise<Array<{ category: string, count: number }>> {
    return await guarded(async () => await this.queries.countOpenFailuresByCategory())
  }

  poolStats (): PoolStats {
    const pool = this.db.$client
    return { max: this.options.poolSize, total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }
  }

  async findBatch (tenantId: string, batchId: string): Promise<BatchRecord | null> {
    return await guarded(async () => await this.queries.findBatch(tenantId, batchId))
  }

  /**
   * The snapshot clock: the last seq once no write that could still commit a lower one is in
   * flight (the gate, held shared by every write). Readers that ask while a reading of the clock
   * waits or runs share the next reading, which starts after they asked (so each sees every
   * write acknowledged before it asked): ten report pages at once take the gate about twice,
   * not ten times one after the other.
   */
  async currentSeq (): Promise<number> {
    if (this.nextSeqRead === null) {
      const previous = this.seqRead
      const read = (async () => {
        await previous?.catch(() => undefined)
        // From here on a new caller waits for the reading after this one.
        this.nextSeqRead = null
        return await this.readSeq()
      })()
      this.nextSeqRead = read
      this.seqRead = read
    }
    return await this.nextSeqRead
  }

  private async readSeq (): Promise<number> {
    return await guarded(async () => await inTransaction(this.db, async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${LOCK_NAMESPACE}, ${LOCKS.seqGate})`)
      const [row] = await this.queries.on(tx).currentSeqQuery()
      return row?.seq ?? 0
    }))
  }

  async listFailures (tenantId: string, batchId: string, request: FailurePageRequest): Promise<FailurePage> {
    const { filter, after, snapshotSeq, limit } = request
    const scan = reportScan(filter, limit)
    // Both reads see one snapshot, or a row committed between them could show up twice.
    return await guarded(async () => await inTransaction(this.db, async (tx) => {
      await tx.execute(REPORT_PLANNER)
      const queries = this.queries.on(tx).reportQueries(tenantId, batchId, scan.filter, after, snapshotSeq, scan.rows)
      const unchanged = await queries.unchanged
      return reportPageOf(unchanged, await queries.moved, after, limit, scan)
    }, { isolationLevel: 'repeatable read', accessMode: 'read only' }))
  }

  async listSweepBatches (after: BatchKey | null, limit: number): Promise<BatchKey[]> {
    return await guarded(async () => await this.queries.listSweepBatches(after, limit))
  }

  async sweepStalls (tenantId: string, batchId: string, after: string | null, detection: StallDetection, limit: number): Promise<SweepChunkResult> {
    const result = await guarded(async () => await this.retried(async () => await inTransaction(this.db, async (tx) =>
      await sweepChunk(new PostgresSweepingTx(tx, this.channel), tenantId, batchId, after, detection, limit))))
    if (result.changes.length > 0) this.appended.emit([tenantId])
    return result
  }

  /**
   * A session advisory lock on a connection of its own (outside the pool, so the chunks never
   * wait for the connection that holds it), keyed by the job and the schema: one runner of
   * each job per deployment, and a crashed runner's lock goes with its connection.
   */
  async withLease (job: BackgroundJob, work: () => Promise<void>): Promise<boolean> {
    const client = this.sessionClient()
    const key = this.leaseKey(job)
    try {
      await guarded(async () => { await client.connect() })
      const { rows: [row] } = await guarded(async () => await client.query<{ locked: boolean }>(
        'select pg_try_advisory_lock($1, hashtext($2)) as locked', [LOCK_NAMESPACE, key]))
      if (row?.locked !== true) return false
      await work()
      return true
    } finally {
      // Ending the session releases the lock.
      await client.end().catch(() => undefined)
    }
  }

  /**
   * Row locks on the mailboxes in the order writers take them (tenant, then batch and mailbox
   * in byte order), so a write of one of them waits for the chunk, or the chunk for it.
   */
  async purgeResolved (resolvedBefore: number, limit: number): Promise<PurgeChunkResult> {
    return await guarded(async () => await this.retried(async () => await inTransaction(this.db, async (tx) => await purgeChunk({
      all: async <T>(query: SQL) => (await tx.execute(query)).rows as T[],
      run: async (query) => (await tx.execute(query)).rowCount ?? 0,
      holdMailboxes: async (keys) => {
        await tx.execute(sql`select 1 from ${mailboxes} m
          where (m.tenant_id, m.batch_id, m.mailbox) in (select * from unnest(${sql.param(keys.map((key) => key.tenantId))}::text[],
            ${sql.param(keys.map((key) => key.batchId))}::text[], ${sql.param(keys.map((key) => key.mailbox))}::text[]))
          order by m.tenant_id, m.batch_id, m.mailbox for update`)
      }
    }, resolvedBefore, limit))))
  }

  /** PostgreSQL's autovacuum makes the space of deleted rows reusable; giving it back to the OS takes VACUUM FULL (README). */
  async reclaimSpace (): Promise<null> {
    return null
  }

  /** A connection outside the pool, on this repository's schema. */
  private sessionClient (): pg.Client {
    const client = new pg.Client({
      connectionString: this.url,
      ...(this.options.schema === undefined ? {} : { options: `-c search_path=${quoteIdentifier(this.options.schema)}` })
    })
    // A dropped connection also emits 'error'; the query on it fails on its own.
    client.on('error', () => {})
    return client
  }

  async listChanges (tenantId: string, query: ChangeQuery): Promise<Change[]> {
    return await guarded(async () => await this.queries.listChanges(tenantId, query))
  }

  async latestChangeSeq (tenantId: string): Promise<number> {
    return await guarded(async () => await this.queries.latestChangeSeq(tenantId))
  }

  onChangesAppended (listener: (tenantId: string) => void): () => void {
    const remove = this.appended.add(listener)
    if (this.listener === null && this.listenerRetry === null) this.listen()
    return remove
  }

  /**
   * LISTENs on a connection of its own for other instances' commits (and this one's). A lost
   * connection is replaced after a second; listeners are woken then, since notifications sent
   * meanwhile are lost and the feed is the truth.
   */
  private listen (): void {
    if (this.closed) return
    const client = this.sessionClient()
    this.listener = client
    const retry = (): void => {
      if (this.listener !== client) return
      this.listener = null
      client.end().catch(() => undefined)
      if (this.closed || this.appended.size === 0) return
      this.listenerRetry = setTimeout(() => {
        this.listenerRetry = null
        this.listen()
      }, 1000)
      this.listenerRetry.unref()
    }
    client.on('error', retry)
    client.on('end', retry)
    client.on('notification', (message) => { if (message.payload !== undefined) this.appended.emit([message.payload]) })
    client.connect()
      .then(async () => await client.query(`listen ${quoteIdentifier(this.channel)}`))
      .catch(retry)
  }

  async purgeChanges (recordedBefore: number, limit: number): Promise<number> {
    return await guarded(async () => {
      const result = await this.db.execute(sql`delete from ${changes} where (tenant_id, seq) in
        (select tenant_id, seq from ${changes} where recorded_at < ${recordedBefore} order by recorded_at limit ${limit})`)
      return result.rowCount ?? 0
    })
  }

  /** Runs `work` again, up to ATTEMPTS times, while it fails with a deadlock or serialization failure. */
  private async retried<T> (work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work()
      } catch (error) {
        if (attempt >= ATTEMPTS || !isRetryable(error)) throw error
      }
    }
  }

  async listBatches (tenantId: string, after: BatchPosition | null, limit: number): Promise<BatchPage> {
    return await guarded(async () => await this.queries.listBatches(tenantId, after, limit))
  }

  async countBatches (tenantId: string, batchIds: string[]): Promise<Map<string, BatchCounts>> {
    if (batchIds.length === 0) return new Map()
    return await guarded(async () => await this.queries.countBatches(tenantId, batchIds))
  }

  /** The counts of countBatches, counted from the stored rows (a full scan of each batch): the backfill's and the tests' reference. */
  async recountBatches (tenantId: string, batchIds: string[]): Promise<Map<string, BatchCounts>> {
    return await guarded(async () => await inTransaction(this.db, async (tx) => await this.queries.on(tx).recount(tenantId, batchIds),
      { isolationLevel: 'repeatable read', accessMode: 'read only' }))
  }

  async oldestBlockingFailure (tenantId: string, batchId: string): Promise<HeldUpFailure | null> {
    // One statement, one snapshot.
    return await guarded(async () => await this.queries.oldestBlockingFailure(tenantId, batchId))
  }

  async findMailbox (tenantId: string, batchId: string, mailbox: string): Promise<MailboxRecord | null> {
    return await guarded(async () => await this.queries.findMailbox(tenantId, batchId, mailbox))
  }

  async lastSyncs (tenantId: string, batchId: string, names: string[]): Promise<Map<string, number | null>> {
    return await guarded(async () => await this.queries.lastSyncs(tenantId, batchId, names))
  }

  async listMailboxEvents (tenantId: string, batchId: string, mailbox: string, after: EventPosition | null, limit: number): Promise<EventPage> {
    return await guarded(async () => await this.queries.listMailboxEvents(tenantId, batchId, mailbox, after, limit))
  }

  async listMailboxesWithOpenFailures (
    tenantId: string, batchId: string, categories: CategoryId[], after: string | null, limit: number
  ): Promise<string[]> {
    return await guarded(async () => await this.queries.listMailboxesWithOpenFailures(tenantId, batchId, categories, after, limit))
  }

  async readiness (): Promise<ReadinessState> {
    try {
      const [row] = await this.db.select({ n: sql<number>`count(*)`.mapWith(Number) })
        .from(sql.raw(`${quoteIdentifier(this.migrationsSchema)}."__drizzle_migrations"`))
      return readinessFrom(row?.n ?? 0, journalLength('postgres'))
    } catch (error) {
      if (isUnavailable(error)) return { reachable: false, migrated: false, detail: 'the database is unreachable' }
      return { reachable: true, migrated: false, detail: 'the migration journal cannot be read' }
    }
  }

  async close (): Promise<void> {
    this.closed = true
    if (this.listenerRetry !== null) clearTimeout(this.listenerRetry)
    const listener = this.listener
    this.listener = null
    if (listener !== null) await listener.end().catch(() => undefined)
    if (!this.db.$client.ended) await this.db.$client.end()
  }
}
