import t, { type Test } from 'tap'
import { getTableColumns } from 'drizzle-orm'
import { classifyEvent, stallDetection, type EventInput, type StallDetection } from '../src/domain/index.js'
import { changeFailure } from '../src/domain/changes.js'
import { openSqlite } from '../src/db/sqlite.js'
import * as sqliteSchema from '../src/db/schema.sqlite.js'
import * as postgresSchema from '../src/db/schema.postgres.js'
import { SqliteFailureRepository } from '../src/repositories/sqlite.js'
import { openStalls, type StallWriter } from '../src/repositories/stall-sweep.js'
import type { ReadTables } from '../src/repositories/read-queries.js'
import type { FailureRecord, FailureRepository } from '../src/repositories/types.js'
import { TEST_DATABASE_URL, createTestSchema, failedEvent, syncedEvent } from './helpers/app.js'

// The stall sweep writes failures with one insert-select built from the failures table object,
// and reads back what it wrote through the same mapping as every read. What it returns must be
// the row as the reads see it, column for column, on either store.

const HOUR = 3_600_000
const STALL_AFTER = 26 * HOUR
const T0 = Date.parse('2026-11-24T10:00:00Z')
const TENANT = 'default'
const BATCH = 'batch-1'
const ALICE = 'alice@contoso.com'
const BOB = 'bob@contoso.com'

interface Store {
  repository: FailureRepository
  /** The store's drizzle database and tables, for running openStalls on its own. */
  db: StallWriter
  tables: ReadTables
}

/** A fresh store of the suite's dialect (TEST_DATABASE_URL: PostgreSQL) and its drizzle database, closed at the test's end. */
async function freshStore (t: Test): Promise<Store> {
  if (TEST_DATABASE_URL === undefined) {
    const { db } = openSqlite(':memory:')
    const repository = SqliteFailureRepository.on(db)
    t.teardown(async () => { await repository.close() })
    return { repository, db, tables: sqliteSchema }
  }
  const url = TEST_DATABASE_URL
  const schema = await createTestSchema(url)
  const { PostgresFailureRepository } = await import('../src/repositories/postgres.js')
  const { openPostgres } = await import('../src/db/postgres.js')
  const repository = await PostgresFailureRepository.open({ url, poolSize: 2, schema: schema.name })
  const { db } = await openPostgres(url, { poolSize: 1, schema: schema.name })
  t.teardown(async () => {
    await db.$client.end()
    await repository.close()
    await schema.drop()
  })
  return { repository, db, tables: postgresSchema }
}

async function record (store: Store, events: Array<Record<string, unknown>>, receivedAt: number): Promise<void> {
  await store.repository.recordEvents(TENANT, events.map((event) => classifyEvent(event as unknown as EventInput)), receivedAt)
}

/** The batch's failures as the report reads them, by mailbox and category. */
async function reportRows (store: Store): Promise<Map<string, FailureRecord>> {
  const page = await store.repository.listFailures(TENANT, BATCH, {
    filter: { status: 'all', categories: [], mailbox: null, since: null, until: null },
    after: null,
    snapshotSeq: await store.repository.currentSeq(),
    limit: 100
  })
  return new Map(page.items.map((item) => [`${item.mailbox} ${item.category}`, item]))
}

/**
 * Alice and Bob last synced at T0 and are swept at T0 + 30h: both stall. Bob then syncs (his
 * stall resolves) and, 30h later, stalls again. Alice has a later non-blocking failure, whose
 * context is her latest. Returns the detection of that second sweep.
 */
async function stalledTwice (store: Store): Promise<StallDetection> {
  await record(store, [
    syncedEvent({ batchId: BATCH, mailbox: ALICE, occurredAt: new Date(T0).toISOString(), context: { engine: 'imapsync', server: 'imap.contoso.com' } }),
    syncedEvent({ batchId: BATCH, mailbox: BOB, occurredAt: new Date(T0).toISOString() }),
    failedEvent({ batchId: BATCH, mailbox: ALICE, occurredAt: new Date(T0 + HOUR).toISOString(), failure: { category: 'items_skipped', message: '2 items skipped' } })
  ], T0 + HOUR)
  const first = await store.repository.sweepStalls(TENANT, BATCH, null, stallDetection(T0 + 30 * HOUR, STALL_AFTER), 100)
  if (first.changes.length !== 2) throw new Error(`the first sweep opened ${first.changes.length} stalls, not 2`)
  await record(store, [syncedEvent({ batchId: BATCH, mailbox: BOB, occurredAt: new Date(T0 + 31 * HOUR).toISOString(), context: { engine: 'imapsync', server: 'imap.fabrikam.com' } })], T0 + 31 * HOUR)
  return stallDetection(T0 + 61 * HOUR, STALL_AFTER)
}

t.test('every failures column of a stall the upsert opens or reopens is what the report reads for that row', async (t) => {
  const store = await freshStore(t)
  const second = await stalledTwice(store)
  const before = await reportRows(store)
  const returned = await openStalls(store.db, store.tables, second, TENANT, BATCH, [ALICE, BOB])
  const after = await reportRows(store)
  // Alice's stall is open: left alone, and not returned. Bob's resolved one is reopened.
  t.same(returned.map((failure) => failure.mailbox), [BOB])
  t.strictSame(after.get(`${ALICE} sync_stalled`), before.get(`${ALICE} sync_stalled`))
  const read = after.get(`${BOB} sync_stalled`)
  // Every column but the tenant (a record's key implies it), from the table object: a column the
  // insert, the RETURNING list or the mapping left out would be missing or differ here.
  const columns = Object.keys(getTableColumns(store.tables.failures)).filter((name) => name !== 'tenantId').sort()
  t.strictSame(Object.keys(returned[0]).sort(), columns, 'the returned failure has exactly the table\'s columns')
  t.strictSame(Object.keys(read ?? {}).sort(), columns, 'the report\'s failure has exactly the table\'s columns')
  for (const name of columns) {
    t.strictSame((returned[0] as unknown as Record<string, unknown>)[name], (read as unknown as Record<string, unknown>)[name], name)
  }
  // The reopen: counted, first seen kept, the rest as a new stall states it.
  t.strictSame({ ...read }, {
    ...read,
    status: 'open',
    firstSeenAt: T0,
    lastSeenAt: T0 + 31 * HOUR + STALL_AFTER,
    occurrences: 2,
    reopenCount: 1,
    lastCode: null,
    lastMessage: second.message,
    rule: second.rule,
    resolvedAt: null,
    context: { engine: 'imapsync', server: 'imap.fabrikam.com' },
    seq: await store.repository.currentSeq()
  })
})

t.test('a stall the sweep opens or reopens is in its change as the report reads it', async (t) => {
  const store = await freshStore(t)
  const second = await stalledTwice(store)
  const { changes } = await store.repository.sweepStalls(TENANT, BATCH, null, second, 100)
  const rows = await reportRows(store)
  t.same(changes.map((change) => [change.mailbox, change.type]), [[BOB, 'failure.stalled']])
  for (const change of changes) {
    const read = rows.get(`${change.mailbox} ${change.category}`)
    if (read === undefined) throw new Error(`no ${change.category} failure of ${change.mailbox} in the report`)
    t.strictSame(
      { batchId: change.batchId, mailbox: change.mailbox, category: change.category, rule: change.rule, status: change.status, failure: change.failure },
      { batchId: read.batchId, mailbox: read.mailbox, category: read.category, rule: read.rule, status: read.status, failure: changeFailure(read) }
    )
  }
  const alice = rows.get(`${ALICE} sync_stalled`)
  t.match(alice, { status: 'open', firstSeenAt: T0, lastSeenAt: T0 + STALL_AFTER, occurrences: 1, reopenCount: 0, context: { engine: 'imapsync' } })
})
