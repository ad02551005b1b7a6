import { and, asc, desc, eq, gt, gte, inArray, lt, or, sql, type SQL } from 'drizzle-orm'
import {
  BLOCKING_CATEGORIES, STALL_CATEGORY,
  type BatchCounts, type CategoryId, type EventContext, type LifecycleEvent, type MailboxState, type StallDetection
} from '../domain/index.js'
import { openSqlite, type SqliteDb } from '../db/sqlite.js'
import { journalLength } from '../db/migrations.js'
import { batches, events, failures, mailboxes } from '../db/schema.sqlite.js'
import {
  mailboxKey, recordEvents,
  type MailboxKey, type MailboxWrite, type RecordingTx, type StoredEventFingerprint
} from './event-recorder.js'
import { mergePage, type PositionedFailure } from './report-order.js'
import type {
  BatchPage, BatchPosition, BatchRecord, BatchSummary, ClassifiedEvent, EventPage, EventPosition, EventRecord,
  FailurePage, FailurePageRequest, FailureRecord, FailureRepository, FailureFilter, HeldUpFailure, MailboxRecord,
  ReadinessState, RecordResult, ReportPosition
} from './types.js'

// Keeps each statement well under SQLite's bound-parameter limit.
const CHUNK = 400

function chunks<T> (items: T[], size = CHUNK): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

type FailureRow = typeof failures.$inferSelect

function toFailureRecord (row: FailureRow): FailureRecord {
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

function toLifecycleEvent (row: typeof events.$inferSelect): LifecycleEvent {
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

/** Serialises write transactions: one better-sqlite3 connection runs one transaction at a time. */
class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve()
  async run<T> (work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work)
    this.tail = result.catch(() => undefined)
    return await result
  }
}

class SqliteRecordingTx implements RecordingTx {
  constructor (private readonly db: SqliteDb) {}

  async insertEvents (tenantId: string, batch: ClassifiedEvent[], receivedAt: number): Promise<Array<number | null>> {
    const seqById = new Map<string, number>()
    // A repeated id inside one request is stored once; the later copies count as retries.
    const firstIndex = new Map<string, number>()
    batch.forEach((event, index) => { if (!firstIndex.has(event.id)) firstIndex.set(event.id, index) })
    const fresh = batch.filter((event, index) => firstIndex.get(event.id) === index)
    for (const part of chunks(fresh)) {
      const rows = this.db.insert(events).values(part.map((event) => ({
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
      }))).onConflictDoNothing().returning({ eventId: events.eventId, seq: events.seq }).all()
      for (const row of rows) seqById.set(row.eventId, row.seq)
    }
    return batch.map((event, index) => firstIndex.get(event.id) === index ? (seqById.get(event.id) ?? null) : null)
  }

  async findEvents (tenantId: string, eventIds: string[]): Promise<Map<string, StoredEventFingerprint>> {
    const found = new Map<string, StoredEventFingerprint>()
    for (const part of chunks([...new Set(eventIds)])) {
      const rows = this.db.select({
        eventId: events.eventId,
        contentHash: events.contentHash,
        batchId: events.batchId,
        mailbox: events.mailbox,
        category: events.category,
        rule: events.rule
      }).from(events).where(and(eq(events.tenantId, tenantId), inArray(events.eventId, part))).all()
      for (const row of rows) found.set(row.eventId, { ...row, category: row.category as CategoryId | null })
    }
    return found
  }

  async loadMailboxes (tenantId: string, keys: MailboxKey[]): Promise<Map<string, MailboxState>> {
    const states = new Map<string, MailboxState>()
    const byBatch = new Map<string, string[]>()
    for (const key of keys) byBatch.set(key.batchId, [...(byBatch.get(key.batchId) ?? []), key.mailbox])
    for (const [batchId, names] of byBatch) {
      for (const part of chunks(names)) {
        const boxes = this.db.select().from(mailboxes).where(and(
          eq(mailboxes.tenantId, tenantId), eq(mailboxes.batchId, batchId), inArray(mailboxes.mailbox, part)
        )).all()
        for (const box of boxes) {
          states.set(mailboxKey(box), {
            firstEventAt: box.firstEventAt,
            lastEventAt: box.lastEventAt,
            lastSyncedAt: box.lastSyncedAt,
            lastFailedAt: box.lastFailedAt,
            eventCount: box.eventCount,
            failures: []
          })
        }
        const rows = this.db.select().from(failures).where(and(
          eq(failures.tenantId, tenantId), eq(failures.batchId, batchId), inArray(failures.mailbox, part)
        )).all()
        for (const row of rows) {
          const { batchId: _batch, mailbox: _mailbox, ...failure } = toFailureRecord(row)
          states.get(mailboxKey(row))?.failures.push(failure)
        }
      }
    }
    return states
  }

  async loadHistory (tenantId: string, key: MailboxKey): Promise<LifecycleEvent[]> {
    const rows = this.db.select().from(events).where(and(
      eq(events.tenantId, tenantId), eq(events.batchId, key.batchId), eq(events.mailbox, key.mailbox)
    )).all()
    return rows.map(toLifecycleEvent)
  }

  async saveMailboxes (tenantId: string, writes: MailboxWrite[]): Promise<void> {
    for (const part of chunks(writes)) {
      this.db.insert(mailboxes).values(part.map(({ batchId, mailbox, state }) => ({
        tenantId,
        batchId,
        mailbox,
        firstEventAt: state.firstEventAt,
        lastEventAt: state.lastEventAt,
        lastSyncedAt: state.lastSyncedAt,
        lastFailedAt: state.lastFailedAt,
        eventCount: state.eventCount
      }))).onConflictDoUpdate({
        target: [mailboxes.tenantId, mailboxes.batchId, mailboxes.mailbox],
        set: {
          firstEventAt: sql`excluded.first_event_at`,
          lastEventAt: sql`excluded.last_event_at`,
          lastSyncedAt: sql`excluded.last_synced_at`,
          lastFailedAt: sql`excluded.last_failed_at`,
          eventCount: sql`excluded.event_count`
        }
      }).run()
    }
    const rows = writes.flatMap(({ batchId, mailbox, changed }) => changed.map((failure) => ({
      tenantId,
      batchId,
      mailbox,
      ...failure,
      context: JSON.stringify(failure.context)
    })))
    for (const part of chunks(rows, 200)) {
      this.db.insert(failures).values(part).onConflictDoUpdate({
        target: [failures.tenantId, failures.batchId, failures.mailbox, failures.category],
        set: {
          status: sql`excluded.status`,
          firstSeenAt: sql`excluded.first_seen_at`,
          lastSeenAt: sql`excluded.last_seen_at`,
          occurrences: sql`excluded.occurrences`,
          reopenCount: sql`excluded.reopen_count`,
          lastCode: sql`excluded.last_code`,
          lastMessage: sql`excluded.last_message`,
          rule: sql`excluded.rule`,
          resolvedAt: sql`excluded.resolved_at`,
          context: sql`excluded.context`,
          seq: sql`excluded.seq`
        }
      }).run()
    }
  }

  async touchBatches (tenantId: string, touched: Array<{ batchId: string, firstEventAt: number, lastEventAt: number }>, receivedAt: number): Promise<void> {
    for (const batch of touched) {
      this.db.insert(batches).values({ tenantId, ...batch, createdAt: receivedAt }).onConflictDoUpdate({
        target: [batches.tenantId, batches.batchId],
        set: {
          firstEventAt: sql`min(${batches.firstEventAt}, excluded.first_event_at)`,
          lastEventAt: sql`max(${batches.lastEventAt}, excluded.last_event_at)`
        }
      }).run()
    }
  }
}

function filterConditions (tenantId: string, batchId: string, filter: FailureFilter): SQL[] {
  const conditions: SQL[] = [eq(failures.tenantId, tenantId), eq(failures.batchId, batchId)]
  if (filter.status !== 'all') conditions.push(eq(failures.status, filter.status))
  if (filter.categories.length > 0) conditions.push(inArray(failures.category, filter.categories))
  if (filter.mailbox !== null) conditions.push(eq(failures.mailbox, filter.mailbox))
  if (filter.since !== null) conditions.push(gte(failures.lastSeenAt, filter.since))
  if (filter.until !== null) conditions.push(lt(failures.lastSeenAt, filter.until))
  return conditions
}

function afterPosition (after: ReportPosition): SQL {
  return or(
    lt(failures.lastSeenAt, after.lastSeenAt),
    and(eq(failures.lastSeenAt, after.lastSeenAt), or(
      gt(failures.mailbox, after.mailbox),
      and(eq(failures.mailbox, after.mailbox), gt(failures.category, after.category))
    ))
  ) as SQL
}

export class SqliteFailureRepository implements FailureRepository {
  readonly dialect = 'sqlite' as const
  private readonly writes = new WriteQueue()

  private constructor (private readonly db: SqliteDb) {}

  static open (path: string): SqliteFailureRepository {
    return new SqliteFailureRepository(openSqlite(path).db)
  }

  async recordEvents (tenantId: string, batch: ClassifiedEvent[], receivedAt: number): Promise<RecordResult> {
    // better-sqlite3 runs statements synchronously, so the transaction is driven by hand;
    // the queue keeps other writers out until it commits or rolls back.
    return await this.writes.run(async () => {
      const client = this.db.$client
      client.exec('BEGIN IMMEDIATE')
      try {
        const result = await recordEvents(new SqliteRecordingTx(this.db), tenantId, batch, receivedAt)
        client.exec('COMMIT')
        return result
      } catch (error) {
        if (client.inTransaction) client.exec('ROLLBACK')
        throw error
      }
    })
  }

  async findBatch (tenantId: string, batchId: string): Promise<BatchRecord | null> {
    const row = this.db.select({ batchId: batches.batchId, firstEventAt: batches.firstEventAt, lastEventAt: batches.lastEventAt })
      .from(batches).where(and(eq(batches.tenantId, tenantId), eq(batches.batchId, batchId))).get()
    return row ?? null
  }

  async summarizeBatch (tenantId: string, batchId: string): Promise<BatchSummary> {
    const counts = (await this.countBatches(tenantId, [batchId])).get(batchId)
    return {
      openFailures: counts?.openFailures ?? 0,
      mailboxesFailing: counts?.mailboxesWithOpenFailures ?? 0,
      byCategory: counts?.byCategory ?? {}
    }
  }

  async detectStalls (tenantId: string, batchIds: string[], detection: StallDetection): Promise<void> {
    if (batchIds.length === 0) return
    const { cutoff, stallAfterMs, blockingCategories, rule, message } = detection
    // One statement, so the check (no open blocking failure) and the write are atomic; the
    // values follow from stored data, so concurrent sweeps write the same row, once.
    const statement = sql`insert into failures (tenant_id, batch_id, mailbox, category, status, first_seen_at,
        last_seen_at, occurrences, reopen_count, last_code, last_message, rule, resolved_at, context, seq)
      select m.tenant_id, m.batch_id, m.mailbox, ${STALL_CATEGORY}, 'open',
        coalesce(m.last_synced_at, m.first_event_at), coalesce(m.last_synced_at, m.first_event_at) + ${stallAfterMs},
        1, 0, null, ${message}, ${rule}, null,
        coalesce((select e.context from events e
          where e.tenant_id = m.tenant_id and e.batch_id = m.batch_id and e.mailbox = m.mailbox
          order by e.occurred_at desc, e.seq desc limit 1), '{}'),
        (select coalesce(max(e.seq), 0) from events e)
      from mailboxes m
      where m.tenant_id = ${tenantId} and m.batch_id in ${batchIds}
        and (m.last_synced_at < ${cutoff} or (m.last_synced_at is null and m.first_event_at < ${cutoff}))
        and not exists (select 1 from failures f
          where f.tenant_id = m.tenant_id and f.batch_id = m.batch_id and f.mailbox = m.mailbox
            and f.status = 'open' and f.category in ${blockingCategories})
      on conflict (tenant_id, batch_id, mailbox, category) do update set
        status = 'open', last_seen_at = excluded.last_seen_at, occurrences = failures.occurrences + 1,
        reopen_count = failures.reopen_count + 1, last_code = null, last_message = excluded.last_message,
        rule = excluded.rule, resolved_at = null, context = excluded.context, seq = excluded.seq
      where failures.status = 'resolved'`
    await this.writes.run(async () => { this.db.run(statement) })
  }

  async listBatches (tenantId: string, after: BatchPosition | null, limit: number): Promise<BatchPage> {
    const rows = this.db.select({ batchId: batches.batchId, firstEventAt: batches.firstEventAt, lastEventAt: batches.lastEventAt })
      .from(batches)
      .where(and(eq(batches.tenantId, tenantId), ...(after === null
        ? []
        : [or(lt(batches.lastEventAt, after.lastEventAt), and(eq(batches.lastEventAt, after.lastEventAt), gt(batches.batchId, after.batchId)))])))
      .orderBy(desc(batches.lastEventAt), asc(batches.batchId))
      .limit(limit + 1).all()
    const items = rows.slice(0, limit)
    const last = items[items.length - 1]
    return { items, next: rows.length > limit ? { lastEventAt: last.lastEventAt, batchId: last.batchId } : null }
  }

  async countBatches (tenantId: string, batchIds: string[]): Promise<Map<string, BatchCounts>> {
    const counts = new Map<string, BatchCounts>()
    for (const part of chunks(batchIds)) {
      const seen = this.db.select({ batchId: mailboxes.batchId, count: sql<number>`count(*)` })
        .from(mailboxes).where(and(eq(mailboxes.tenantId, tenantId), inArray(mailboxes.batchId, part)))
        .groupBy(mailboxes.batchId).all()
      for (const row of seen) {
        counts.set(row.batchId, {
          mailboxesSeen: row.count, mailboxesWithOpenFailures: 0, mailboxesBlocked: 0, mailboxesStalled: 0, openFailures: 0, byCategory: {}
        })
      }
      const open = and(eq(failures.tenantId, tenantId), inArray(failures.batchId, part), eq(failures.status, 'open'))
      const mailboxRows = this.db.select({
        batchId: failures.batchId,
        withOpen: sql<number>`count(distinct ${failures.mailbox})`,
        blocked: sql<number>`count(distinct case when ${inArray(failures.category, [...BLOCKING_CATEGORIES])} then ${failures.mailbox} end)`,
        stalled: sql<number>`count(distinct case when ${eq(failures.category, STALL_CATEGORY)} then ${failures.mailbox} end)`
      }).from(failures).where(open).groupBy(failures.batchId).all()
      for (const row of mailboxRows) {
        const batch = counts.get(row.batchId)
        if (batch === undefined) continue
        batch.mailboxesWithOpenFailures = row.withOpen
        batch.mailboxesBlocked = row.blocked
        batch.mailboxesStalled = row.stalled
      }
      const categoryRows = this.db.select({ batchId: failures.batchId, category: failures.category, count: sql<number>`count(*)` })
        .from(failures).where(open).groupBy(failures.batchId, failures.category).all()
      for (const row of categoryRows) {
        const batch = counts.get(row.batchId)
        if (batch === undefined) continue
        batch.byCategory[row.category as CategoryId] = row.count
        batch.openFailures += row.count
      }
    }
    return counts
  }

  async oldestBlockingFailure (tenantId: string, batchId: string): Promise<HeldUpFailure | null> {
    const heldUpSince = sql<number>`case when ${mailboxes.lastSyncedAt} > ${failures.firstSeenAt}
      then ${mailboxes.lastSyncedAt} else ${failures.firstSeenAt} end`
    const row = this.db.select({ row: failures, heldUpSince }).from(failures)
      .innerJoin(mailboxes, and(eq(mailboxes.tenantId, failures.tenantId), eq(mailboxes.batchId, failures.batchId), eq(mailboxes.mailbox, failures.mailbox)))
      .where(and(eq(failures.tenantId, tenantId), eq(failures.batchId, batchId), eq(failures.status, 'open'),
        inArray(failures.category, [...BLOCKING_CATEGORIES])))
      .orderBy(asc(heldUpSince), asc(failures.mailbox), asc(failures.category))
      .limit(1).get()
    return row === undefined ? null : { failure: toFailureRecord(row.row), heldUpSince: row.heldUpSince }
  }

  async findMailbox (tenantId: string, batchId: string, mailbox: string): Promise<MailboxRecord | null> {
    const row = this.db.select().from(mailboxes)
      .where(and(eq(mailboxes.tenantId, tenantId), eq(mailboxes.batchId, batchId), eq(mailboxes.mailbox, mailbox))).get()
    if (row === undefined) return null
    const { tenantId: _tenant, ...record } = row
    return record
  }

  async listMailboxEvents (tenantId: string, batchId: string, mailbox: string, after: EventPosition | null, limit: number): Promise<EventPage> {
    const rows = this.db.select().from(events)
      .where(and(eq(events.tenantId, tenantId), eq(events.batchId, batchId), eq(events.mailbox, mailbox), ...(after === null
        ? []
        : [or(lt(events.occurredAt, after.occurredAt), and(eq(events.occurredAt, after.occurredAt), lt(events.seq, after.seq)))])))
      .orderBy(desc(events.occurredAt), desc(events.seq))
      .limit(limit + 1).all()
    const items: EventRecord[] = rows.slice(0, limit)
      .map((row) => ({ ...toLifecycleEvent(row), id: row.eventId, receivedAt: row.receivedAt }))
    const last = items[items.length - 1]
    return { items, next: rows.length > limit ? { occurredAt: last.occurredAt, seq: last.seq } : null }
  }

  async listMailboxesWithOpenFailures (
    tenantId: string, batchId: string, categories: CategoryId[], after: string | null, limit: number
  ): Promise<string[]> {
    if (categories.length === 0) return []
    const rows = this.db.selectDistinct({ mailbox: failures.mailbox }).from(failures)
      .where(and(eq(failures.tenantId, tenantId), eq(failures.batchId, batchId), eq(failures.status, 'open'),
        inArray(failures.category, categories), ...(after === null ? [] : [gt(failures.mailbox, after)])))
      .orderBy(asc(failures.mailbox)).limit(limit).all()
    return rows.map((row) => row.mailbox)
  }

  async currentSeq (): Promise<number> {
    return this.db.select({ seq: sql<number | null>`max(${events.seq})` }).from(events).get()?.seq ?? 0
  }

  async listFailures (tenantId: string, batchId: string, request: FailurePageRequest): Promise<FailurePage> {
    const { filter, after, snapshotSeq, limit } = request
    const base = filterConditions(tenantId, batchId, filter)
    const unchanged = this.db.select().from(failures)
      // Unary + keeps the planner off failures_seq_idx: walking the report index in order and
      // stopping at limit is far cheaper than sorting every failure of the batch.
      .where(and(...base, sql`+${failures.seq} <= ${snapshotSeq}`, ...(after === null ? [] : [afterPosition(after)])))
      .orderBy(desc(failures.lastSeenAt), asc(failures.mailbox), asc(failures.category))
      .limit(limit + 1).all().map(toFailureRecord)
    // Rows changed after the snapshot keep the place they had then: the latest failed event
    // of theirs that the snapshot already held.
    // Qualified by hand: drizzle leaves columns unqualified here, which would bind them to e.
    const snapshotLastSeen = sql<number | null>`(select max(e.occurred_at) from events e
      where e.tenant_id = failures.tenant_id and e.batch_id = failures.batch_id and e.mailbox = failures.mailbox
        and e.category = failures.category and e.outcome = 'failed' and e.seq <= ${snapshotSeq})`
    const moved: PositionedFailure[] = []
    for (const row of this.db.select({ row: failures, snapshotLastSeen }).from(failures)
      .where(and(...base, gt(failures.seq, snapshotSeq))).all()) {
      if (row.snapshotLastSeen === null) continue
      const failure = toFailureRecord(row.row)
      moved.push({ failure, position: { lastSeenAt: row.snapshotLastSeen, mailbox: failure.mailbox, category: failure.category } })
    }
    return mergePage(unchanged, moved, after, limit)
  }

  async readiness (): Promise<ReadinessState> {
    try {
      const applied = this.db.$client.prepare('select count(*) as n from __drizzle_migrations').get() as { n: number }
      const expected = journalLength('sqlite')
      return applied.n >= expected
        ? { reachable: true, migrated: true }
        : { reachable: true, migrated: false, detail: `${applied.n} of ${expected} migrations applied` }
    } catch (error) {
      return { reachable: false, migrated: false, detail: (error as Error).message }
    }
  }

  async close (): Promise<void> {
    if (this.db.$client.open) this.db.$client.close()
  }
}
