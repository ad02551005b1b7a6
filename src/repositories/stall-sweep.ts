import { and, desc, eq, getTableColumns, inArray, sql, type AnyColumn, type SQL, type Table } from 'drizzle-orm'
import type { SelectResultFields } from 'drizzle-orm/query-builders/select.types'
import { draftFromStall, type Change } from '../domain/changes.js'
import { CounterDeltas, heldUpSince, STALL_CATEGORY, type CategoryId, type StallDetection } from '../domain/index.js'
import type { SharedWrite } from './event-recorder.js'
import type * as sqliteSchema from '../db/schema.sqlite.js'
import { isStale, type SweepMailboxRow } from './change-rows.js'
import { lastEventSeq, type ReadTables, type Selector } from './read-queries.js'
import { excludedValues, toFailureRecord, type MailboxHeldUp } from './stored-rows.js'
import type { FailureRecord } from './types.js'

// One chunk of the background stall sweep, shared by both dialects (as event-recorder.ts is for
// writes): a dialect supplies the statements and runs this inside one transaction. The stall
// upsert itself (openStalls) is written once too, from the dialect's table objects.

export interface SweepingTx {
  /** Up to `limit` mailboxes of the batch after `after` in name order (primary-key order). */
  nextMailboxes (tenantId: string, batchId: string, after: string | null, limit: number): Promise<SweepMailboxRow[]>
  /** Holds these mailboxes against concurrent writers until the transaction ends; returns them as they are now. */
  holdMailboxes (tenantId: string, batchId: string, rows: SweepMailboxRow[]): Promise<SweepMailboxRow[]>
  /** The categories of the open failures of each mailbox among `names` that has any. */
  openCategories (tenantId: string, batchId: string, names: string[]): Promise<Map<string, CategoryId[]>>
  /** Opens (or reopens) the stall of each mailbox; returns the failures it opened or reopened (see openStalls). */
  openStalls (detection: StallDetection, tenantId: string, batchId: string, names: string[]): Promise<FailureRecord[]>
  /** Sets these mailboxes' heldUpSince (see heldUpSet). */
  setHeldUp (tenantId: string, batchId: string, heldUp: MailboxHeldUp[]): Promise<void>
  /** The counters and changes (see SharedWrite; a sweep moves no batch's event times). */
  finishWrite (tenantId: string, write: SharedWrite): Promise<Change[]>
}

export interface SweepChunkResult {
  /** Where the next chunk starts, or null when the batch is done. */
  next: string | null
  changes: Change[]
}

/**
 * Sweeps the next `limit` mailboxes of one batch: each one whose last sync (or first event) is
 * older than the cutoff and that has no open blocking failure (an open stall is one) gets a
 * stall, and each stall opened is a failure.stalled change. The work is bounded by `limit`
 * whatever the batch's size: keys by primary key, then lookups by primary-key prefix.
 */
export async function sweepChunk (
  tx: SweepingTx, tenantId: string, batchId: string, after: string | null, detection: StallDetection, limit: number
): Promise<SweepChunkResult> {
  const rows = await tx.nextMailboxes(tenantId, batchId, after, limit)
  const next = rows.length < limit ? null : rows[rows.length - 1].mailbox
  const stale = rows.filter((row) => isStale(row, detection.cutoff))
  if (stale.length === 0) return { next, changes: [] }
  const held = (await tx.holdMailboxes(tenantId, batchId, stale)).filter((row) => isStale(row, detection.cutoff))
  const open = await tx.openCategories(tenantId, batchId, held.map((row) => row.mailbox))
  const toStall = held.map((row) => row.mailbox)
    .filter((mailbox) => !(open.get(mailbox) ?? []).some((category) => detection.blockingCategories.includes(category)))
  if (toStall.length === 0) return { next, changes: [] }
  const opened = await tx.openStalls(detection, tenantId, batchId, toStall)
  if (opened.length === 0) return { next, changes: [] }
  // The batch's counters and the mailboxes' heldUpSince move in the same transaction.
  const counters = new CounterDeltas()
  for (const failure of opened) {
    const before = (open.get(failure.mailbox) ?? []).map((category) => ({ category, status: 'open' as const }))
    counters.add(batchId, before, [...before, { category: failure.category, status: 'open' }])
  }
  // A stalled mailbox had no open blocking failure: the stall is its only one, so its heldUpSince
  // is the stall's, computed here rather than looked up again among the batch's failures.
  const lastSync = new Map(held.map((row) => [row.mailbox, row.lastSyncedAt]))
  await tx.setHeldUp(tenantId, batchId, opened.flatMap((failure) => {
    const since = heldUpSince(failure, lastSync.get(failure.mailbox) ?? null)
    return since === null ? [] : [{ mailbox: failure.mailbox, heldUpSince: since }]
  }))
  const now = detection.cutoff + detection.stallAfterMs
  const drafts = opened.map((failure) => draftFromStall(failure, failure))
  const changes = await tx.finishWrite(tenantId, { batches: [], deltas: counters.rows(), drafts, recordedAt: now })
  return { next, changes }
}

/**
 * What the stall upsert uses of a drizzle database or transaction, in both dialects (as Selector
 * is for the reads): insert-select, on conflict do update, returning.
 */
export interface StallWriter extends Selector {
  insert (table: Table): {
    select (query: SQL): {
      onConflictDoUpdate (config: { target: AnyColumn | SQL | Array<AnyColumn | SQL>, set: Record<string, unknown>, setWhere?: SQL }): {
        returning <F extends Record<string, AnyColumn>>(fields: F): PromiseLike<Array<SelectResultFields<F>>>
      }
    }
  }
}

/** A failures row as SQL expressions, one for each column; a nullable column may be left out (it is then null). */
type FailureExpressions = { [K in keyof typeof sqliteSchema.failures.$inferInsert]: SQL | AnyColumn }

/** The failures primary key, the upsert's conflict target. */
const FAILURE_KEY = ['tenantId', 'batchId', 'mailbox', 'category'] as const

/** What a reopen keeps (firstSeenAt: held up since the sync before the first stall) or counts on. */
const KEPT_ON_REOPEN = ['firstSeenAt', 'occurrences', 'reopenCount']

/**
 * The stall sweep's write for mailboxes it found stalled (no open blocking failure; the caller
 * holds them against writers): opens a sync_stalled failure on each, reopens a resolved one
 * and leaves an open one alone. The values follow from stored data, so concurrent sweeps write
 * the same row, once. Returns the rows it opened or reopened, through toFailureRecord as every
 * read of failures.
 *
 * Built from the failures table object: the insert's column list and the RETURNING list are the
 * table's columns, and the reopen sets what the stall states (as applyFailed's reopen does, a
 * column it does not state keeps its value). A column added to failures needs nothing here
 * unless the stall has a value for it: a nullable one is null in a new stall, a NOT NULL one
 * fails to compile until it is stated below.
 */
export async function openStalls (
  db: StallWriter, tables: ReadTables, detection: StallDetection, tenantId: string, batchId: string, names: string[]
): Promise<FailureRecord[]> {
  const { events, failures, mailboxes } = tables
  const { stallAfterMs, rule, message } = detection
  const lastSync = sql`coalesce(${mailboxes.lastSyncedAt}, ${mailboxes.firstEventAt})`
  // Correlated with the mailbox the outer select reads (its columns stay qualified in a where).
  const latestContext = db.select({ context: events.context }).from(events)
    .where(and(eq(events.tenantId, mailboxes.tenantId), eq(events.batchId, mailboxes.batchId), eq(events.mailbox, mailboxes.mailbox)))
    .orderBy(desc(events.occurredAt), desc(events.seq)).limit(1)
  // Numbers are literals: PostgreSQL types a parameter in a select list as text.
  const stall: FailureExpressions = {
    tenantId: mailboxes.tenantId,
    batchId: mailboxes.batchId,
    mailbox: mailboxes.mailbox,
    category: sql`${STALL_CATEGORY}`,
    status: sql`'open'`,
    firstSeenAt: lastSync,
    lastSeenAt: sql`${lastSync} + ${stallAfterMs}`,
    occurrences: sql`1`,
    reopenCount: sql`0`,
    lastCode: sql`null`,
    lastMessage: sql`${message}`,
    rule: sql`${rule}`,
    resolvedAt: sql`null`,
    context: sql`coalesce(${latestContext}, '{}')`,
    seq: sql`${db.select({ seq: lastEventSeq(events) }).from(events)}`
  }
  const columns = getTableColumns(failures)
  const stated = stall as Record<string, SQL | AnyColumn | undefined>
  // Every column in the table's order, as the insert lists them.
  const row = Object.fromEntries(Object.keys(columns).map((name) => [name, stated[name] ?? sql`null`]))
  const key: readonly string[] = FAILURE_KEY
  const reset = Object.keys(stall).filter((name) => !key.includes(name) && !KEPT_ON_REOPEN.includes(name))
  // SQLite parses "insert ... select ... on conflict" only when the select has a where (it has).
  const stalled = db.select(row).from(mailboxes)
    .where(and(eq(mailboxes.tenantId, tenantId), eq(mailboxes.batchId, batchId), inArray(mailboxes.mailbox, names)))
  const rows = await db.insert(failures).select(stalled.getSQL())
    .onConflictDoUpdate({
      target: FAILURE_KEY.map((name) => columns[name]),
      set: { ...excludedValues(failures, reset), occurrences: sql`${failures.occurrences} + 1`, reopenCount: sql`${failures.reopenCount} + 1` },
      setWhere: eq(failures.status, 'resolved')
    })
    .returning(columns)
  return rows.map(toFailureRecord)
}
