import { and, asc, desc, eq, gt, inArray, sql } from 'drizzle-orm'
import {
  BLOCKING_CATEGORIES, STALL_CATEGORY,
  type BatchCounts, type CategoryId, type LifecycleEvent, type MailboxState, type StallDetection
} from '../domain/index.js'
import { openSqlite, type SqliteDb } from '../db/sqlite.js'
import { journalLength } from '../db/migrations.js'
import { batches, events, failures, mailboxes } from '../db/schema.sqlite.js'
import {
  mailboxKey, recordEvents,
  type MailboxKey, type MailboxWrite, type RecordingTx, type StoredEventFingerprint
} from './event-recorder.js'
import { mergePage, type PositionedFailure } from './report-order.js'
import {
  addBatchCounts, afterBatch, afterPosition, historyConditions, chunks, eventValues, failureValues, filterConditions, firstCopies,
  mailboxesByBatch, mailboxValues, pageOf, readinessFrom, snapshotLastSeen, stalledMailboxes, stallUpsert, takeExcluded,
  toFailureRecord, toLifecycleEvent, toEventPage, toMailboxState
} from './stored-rows.js'
import type {
  BatchPage, BatchPosition, BatchRecord, BatchSummary, ClassifiedEvent, EventPage, EventPosition,
  FailurePage, FailurePageRequest, FailureRepository, HeldUpFailure, MailboxRecord, ReadinessState, RecordResult
} from './types.js'

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
    const { fresh, isFirst } = firstCopies(batch)
    for (const part of chunks(fresh)) {
      const rows = this.db.insert(events).values(part.map((event) => eventValues(tenantId, event, receivedAt)))
        .onConflictDoNothing().returning({ eventId: events.eventId, seq: events.seq }).all()
      for (const row of rows) seqById.set(row.eventId, row.seq)
    }
    return batch.map((event, index) => isFirst(index) ? (seqById.get(event.id) ?? null) : null)
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
    for (const [batchId, names] of mailboxesByBatch(keys)) {
      for (const part of chunks(names)) {
        const boxes = this.db.select().from(mailboxes).where(and(
          eq(mailboxes.tenantId, tenantId), eq(mailboxes.batchId, batchId), inArray(mailboxes.mailbox, part)
        )).all()
        for (const box of boxes) states.set(mailboxKey(box), toMailboxState(box))
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
    return this.db.select().from(events).where(and(
      eq(events.tenantId, tenantId), eq(events.batchId, key.batchId), eq(events.mailbox, key.mailbox)
    )).all().map(toLifecycleEvent)
  }

  async saveMailboxes (tenantId: string, writes: MailboxWrite[]): Promise<void> {
    for (const part of chunks(writes)) {
      this.db.insert(mailboxes).values(part.map((write) => mailboxValues(tenantId, write))).onConflictDoUpdate({
        target: [mailboxes.tenantId, mailboxes.batchId, mailboxes.mailbox],
        set: takeExcluded(mailboxes, ['tenantId', 'batchId', 'mailbox'])
      }).run()
    }
    for (const part of chunks(failureValues(tenantId, writes), 200)) {
      this.db.insert(failures).values(part).onConflictDoUpdate({
        target: [failures.tenantId, failures.batchId, failures.mailbox, failures.category],
        set: takeExcluded(failures, ['tenantId', 'batchId', 'mailbox', 'category'])
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
    // The write queue keeps recordEvents out while the statement runs.
    const statement = stallUpsert(detection, stalledMailboxes(tenantId, batchIds, detection))
    await this.writes.run(async () => { this.db.run(statement) })
  }

  async listBatches (tenantId: string, after: BatchPosition | null, limit: number): Promise<BatchPage> {
    const rows = this.db.select({ batchId: batches.batchId, firstEventAt: batches.firstEventAt, lastEventAt: batches.lastEventAt })
      .from(batches)
      .where(and(eq(batches.tenantId, tenantId), ...(after === null ? [] : [afterBatch(batches, after)])))
      .orderBy(desc(batches.lastEventAt), asc(batches.batchId))
      .limit(limit + 1).all()
    return pageOf(rows, limit, (last) => ({ lastEventAt: last.lastEventAt, batchId: last.batchId }))
  }

  async countBatches (tenantId: string, batchIds: string[]): Promise<Map<string, BatchCounts>> {
    const counts = new Map<string, BatchCounts>()
    for (const part of chunks(batchIds)) {
      const seen = this.db.select({ batchId: mailboxes.batchId, count: sql<number>`count(*)` })
        .from(mailboxes).where(and(eq(mailboxes.tenantId, tenantId), inArray(mailboxes.batchId, part)))
        .groupBy(mailboxes.batchId).all()
      const open = and(eq(failures.tenantId, tenantId), inArray(failures.batchId, part), eq(failures.status, 'open'))
      const mailboxRows = this.db.select({
        batchId: failures.batchId,
        withOpen: sql<number>`count(distinct ${failures.mailbox})`,
        blocked: sql<number>`count(distinct case when ${inArray(failures.category, [...BLOCKING_CATEGORIES])} then ${failures.mailbox} end)`,
        stalled: sql<number>`count(distinct case when ${eq(failures.category, STALL_CATEGORY)} then ${failures.mailbox} end)`
      }).from(failures).where(open).groupBy(failures.batchId).all()
      const categoryRows = this.db.select({ batchId: failures.batchId, category: failures.category, count: sql<number>`count(*)` })
        .from(failures).where(open).groupBy(failures.batchId, failures.category).all()
      addBatchCounts(counts, seen, mailboxRows, categoryRows)
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
      .where(and(...historyConditions(events, tenantId, batchId, mailbox, after)))
      .orderBy(desc(events.occurredAt), desc(events.seq))
      .limit(limit + 1).all()
    return toEventPage(rows, limit)
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
    const base = filterConditions(failures, tenantId, batchId, filter)
    const unchanged = this.db.select().from(failures)
      // Unary + keeps the planner off failures_seq_idx: walking the report index in order and
      // stopping at limit is far cheaper than sorting every failure of the batch.
      .where(and(...base, sql`+${failures.seq} <= ${snapshotSeq}`, ...(after === null ? [] : [afterPosition(failures, after)])))
      .orderBy(desc(failures.lastSeenAt), asc(failures.mailbox), asc(failures.category))
      .limit(limit + 1).all().map(toFailureRecord)
    // Rows changed after the snapshot keep the place they had then.
    const moved: PositionedFailure[] = []
    for (const row of this.db.select({ row: failures, snapshotLastSeen: snapshotLastSeen(snapshotSeq) }).from(failures)
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
      return readinessFrom(applied.n, journalLength('sqlite'))
    } catch (error) {
      return { reachable: false, migrated: false, detail: (error as Error).message }
    }
  }

  async close (): Promise<void> {
    if (this.db.$client.open) this.db.$client.close()
  }
}
