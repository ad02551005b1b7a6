import { and, asc, desc, eq, gt, inArray, lte, sql } from 'drizzle-orm'
import type { CategoryId, LifecycleEvent, MailboxState } from '../domain/index.js'
import { openSqlite, type SqliteDb } from '../db/sqlite.js'
import { journalLength } from '../db/migrations.js'
import { batches, events, failures, mailboxes } from '../db/schema.sqlite.js'
import {
  mailboxKey, recordEvents,
  type MailboxKey, type MailboxWrite, type RecordingTx, type StoredEventFingerprint
} from './event-recorder.js'
import { mergePage, type PositionedFailure } from './report-order.js'
import {
  afterPosition, chunks, eventValues, failureValues, filterConditions, firstCopies, mailboxesByBatch,
  mailboxValues, readinessFrom, snapshotLastSeen, takeExcluded, toFailureRecord, toLifecycleEvent, toMailboxState, toSummary
} from './stored-rows.js'
import type {
  BatchRecord, BatchSummary, ClassifiedEvent, FailurePage, FailurePageRequest,
  FailureRepository, ReadinessState, RecordResult
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
    const open = and(eq(failures.tenantId, tenantId), eq(failures.batchId, batchId), eq(failures.status, 'open'))
    const rows = this.db.select({ category: failures.category, count: sql<number>`count(*)` })
      .from(failures).where(open).groupBy(failures.category).all()
    const mailboxesFailing = this.db.select({ count: sql<number>`count(distinct ${failures.mailbox})` })
      .from(failures).where(open).get()?.count ?? 0
    return toSummary(rows, mailboxesFailing)
  }

  async currentSeq (): Promise<number> {
    return this.db.select({ seq: sql<number | null>`max(${events.seq})` }).from(events).get()?.seq ?? 0
  }

  async listFailures (tenantId: string, batchId: string, request: FailurePageRequest): Promise<FailurePage> {
    const { filter, after, snapshotSeq, limit } = request
    const base = filterConditions(failures, tenantId, batchId, filter)
    const unchanged = this.db.select().from(failures)
      .where(and(...base, lte(failures.seq, snapshotSeq), ...(after === null ? [] : [afterPosition(failures, after)])))
      .orderBy(desc(failures.lastSeenAt), asc(failures.mailbox), asc(failures.category))
      .limit(limit + 1).all().map(toFailureRecord)
    // Rows changed after the snapshot keep the place they had then.
    const lastSeenThen = snapshotLastSeen(snapshotSeq)
    const moved: PositionedFailure[] = []
    for (const row of this.db.select({ row: failures, snapshotLastSeen: lastSeenThen }).from(failures)
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
