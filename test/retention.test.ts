import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { classifyEvent, type EventInput } from '../src/domain/index.js'
import { convertToIncrementalVacuum, INCREMENTAL_VACUUM, openSqlite } from '../src/db/sqlite.js'
import { SqliteFailureRepository } from '../src/repositories/sqlite.js'
import type { FailureRepository } from '../src/repositories/types.js'
import { RetentionPurge } from '../src/services/retention.js'
import { vacuumSqlite } from '../scripts/vacuum.js'
import { TEST_DATABASE_URL, buildTestApp, createTestSchema, failedEvent, syncedEvent, type TestApp } from './helpers/app.js'

// RETENTION_RESOLVED: failures resolved longer ago than the retention go, with their events, in
// bounded chunks; nothing an open failure or a summary rests on changes.

const DAY = 86_400_000
const NOW = Date.parse('2026-11-24T12:00:00Z')
const RETENTION = 30 * DAY

function daysAgo (days: number): string {
  return new Date(NOW - days * DAY).toISOString()
}

const THROTTLED = { code: '429', message: 'Server busy: throttled by the target, retry later' }

/** A batch whose mailboxes cover every case the purge must tell apart. */
async function loadBatch (t: Test, ctx: TestApp): Promise<void> {
  const events = [
    // Resolved 90 days ago: purged, and so is the older of its two syncs.
    ...['old-1', 'old-2', 'old-3', 'old-4'].flatMap((name) => [
      failedEvent({ mailbox: `${name}@contoso.com`, occurredAt: daysAgo(100) }),
      failedEvent({ mailbox: `${name}@contoso.com`, occurredAt: daysAgo(99) }),
      syncedEvent({ mailbox: `${name}@contoso.com`, occurredAt: daysAgo(95) }),
      syncedEvent({ mailbox: `${name}@contoso.com`, occurredAt: daysAgo(90) })
    ]),
    // Resolved 90 days ago, then failed again: open, so it and every event stay.
    failedEvent({ mailbox: 'reopened@contoso.com', occurredAt: daysAgo(100) }),
    syncedEvent({ mailbox: 'reopened@contoso.com', occurredAt: daysAgo(90) }),
    failedEvent({ mailbox: 'reopened@contoso.com', occurredAt: daysAgo(80) }),
    // An old resolved failure beside an open one of another category: only the old one goes.
    failedEvent({ mailbox: 'mixed@contoso.com', occurredAt: daysAgo(100) }),
    syncedEvent({ mailbox: 'mixed@contoso.com', occurredAt: daysAgo(90) }),
    failedEvent({ mailbox: 'mixed@contoso.com', occurredAt: daysAgo(50), failure: THROTTLED }),
    // Resolved 10 days ago: within the retention, kept.
    failedEvent({ mailbox: 'recent@contoso.com', occurredAt: daysAgo(20) }),
    syncedEvent({ mailbox: 'recent@contoso.com', occurredAt: daysAgo(10) }),
    // Open for 100 days: never touched.
    failedEvent({ mailbox: 'open@contoso.com', occurredAt: daysAgo(100) })
  ]
  const response = await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events } })
  t.equal(response.statusCode, 200, response.body)
}

async function get (t: Test, ctx: TestApp, url: string): Promise<unknown> {
  const response = await ctx.inject({ method: 'GET', url })
  t.equal(response.statusCode, 200, url)
  return response.json()
}

async function storedEvents (repository: FailureRepository, mailbox: string): Promise<string[]> {
  const page = await repository.listMailboxEvents('default', 'batch-1', mailbox, null, 100)
  return page.items.map((event) => `${new Date(event.occurredAt).toISOString()} ${event.outcome}`).reverse()
}

async function failuresOf (t: Test, ctx: TestApp): Promise<string[]> {
  const body = await get(t, ctx, '/batches/batch-1/errors?status=all&limit=100') as { items: Array<{ mailbox: string, category: string, status: string }> }
  return body.items.map((item) => `${item.mailbox} ${item.category} ${item.status}`).sort()
}

async function assertCountersMatchRecount (t: Test, repository: FailureRepository): Promise<void> {
  const kept = await repository.countBatches('default', ['batch-1'])
  const recounted = await repository.recountBatches('default', ['batch-1'])
  t.same(kept.get('batch-1'), recounted.get('batch-1'), 'the kept counters equal a full recount')
}

t.test('a purge deletes failures resolved longer ago than RETENTION_RESOLVED and their events; open failures read the same', async (t) => {
  const ctx = await buildTestApp(t, { RETENTION_RESOLVED: '30d' })
  ctx.clock.now = NOW
  await loadBatch(t, ctx)
  const views = async (): Promise<unknown[]> => await Promise.all([
    get(t, ctx, '/batches/batch-1/errors'), get(t, ctx, '/batches/batch-1'),
    get(t, ctx, '/batches/batch-1/errors?category=throttled'), get(t, ctx, '/batches/batch-1/mailboxes/open@contoso.com')
  ])
  const before = await views()
  const openEventsBefore = await Promise.all(['reopened', 'mixed', 'open', 'recent'].map(async (name) => await storedEvents(ctx.repository, `${name}@contoso.com`)))
  t.equal((await failuresOf(t, ctx)).length, 9)

  // Three rows per transaction: the 4 x 4 rows of the old mailboxes and mixed's 2 take several.
  const purge = new RetentionPurge({ repository: ctx.repository, clock: ctx.clock.read, retentionMs: RETENTION, chunk: 3 })
  const run = await purge.runOnce()
  t.match(run, { purged: true, failures: 5, events: 4 * 3 + 1 })
  t.ok(run.chunks >= Math.ceil((5 + 13) / 3), `ran in chunks of at most 3 rows (${run.chunks} chunks)`)

  t.same(await views(), before, 'the open failures\' report, the summary and an open mailbox read exactly as before')
  t.same(await failuresOf(t, ctx), [
    'mixed@contoso.com throttled open',
    'open@contoso.com source_sign_in_failed open',
    'recent@contoso.com source_sign_in_failed resolved',
    'reopened@contoso.com source_sign_in_failed open'
  ])
  for (const name of ['old-1', 'old-2', 'old-3', 'old-4']) {
    t.same(await storedEvents(ctx.repository, `${name}@contoso.com`), [`${daysAgo(90)} synced`], `${name}: only the last sync stays (it is lastSyncedAt)`)
  }
  t.same(await Promise.all(['reopened', 'mixed', 'open', 'recent'].map(async (name) => await storedEvents(ctx.repository, `${name}@contoso.com`))),
    openEventsBefore.map((list, index) => index === 1 ? list.slice(1) : list), 'events of open and recent failures stay; mixed loses its old failure\'s event only')
  const mailbox = await get(t, ctx, '/batches/batch-1/mailboxes/old-1@contoso.com') as { eventCount: number, lastSyncedAt: string, failures: unknown[] }
  t.match(mailbox, { eventCount: 4, lastSyncedAt: daysAgo(90), failures: [] }, 'the mailbox keeps its figures, purged events counted')
  await assertCountersMatchRecount(t, ctx.repository)

  t.match(await purge.runOnce(), { purged: true, failures: 0, events: 0, chunks: 1 }, 'a second run finds nothing')
})

t.test('an event that arrives late after a purge folds into what is stored, the mailbox\'s figures and counts kept', async (t) => {
  const ctx = await buildTestApp(t, { RETENTION_RESOLVED: '30d' })
  ctx.clock.now = NOW
  await loadBatch(t, ctx)
  await new RetentionPurge({ repository: ctx.repository, clock: ctx.clock.read, retentionMs: RETENTION }).runOnce()
  const before = await ctx.repository.findMailbox('default', 'batch-1', 'mixed@contoso.com')
  // Older than the mailbox's last event: the store replays the stored history.
  const late = await ctx.inject({ method: 'POST', url: '/events', payload: failedEvent({ mailbox: 'mixed@contoso.com', occurredAt: daysAgo(60), failure: THROTTLED }) })
  t.equal(late.statusCode, 201, late.body)
  t.same(await ctx.repository.findMailbox('default', 'batch-1', 'mixed@contoso.com'), { ...before, eventCount: (before?.eventCount ?? 0) + 1 })
  const report = await get(t, ctx, '/batches/batch-1/errors?category=throttled') as { items: Array<{ occurrences: number, firstSeenAt: string, status: string }> }
  t.match(report.items, [{ occurrences: 2, firstSeenAt: daysAgo(60), status: 'open' }])
  await assertCountersMatchRecount(t, ctx.repository)
})

t.test('the service purges on its own with the default chunk, counts it in /metrics, and RETENTION_RESOLVED=0 turns it off', async (t) => {
  const ctx = await buildTestApp(t, { RETENTION_RESOLVED: '30d' })
  ctx.clock.now = NOW
  await loadBatch(t, ctx)
  t.match(await ctx.app.retention?.runOnce(), { purged: true, failures: 5, events: 13, chunks: 1 })
  const metrics = await ctx.inject({ method: 'GET', url: '/metrics' })
  t.equal(metrics.statusCode, 200)
  t.match(metrics.body, /^sfr_retention_purges_total\{result="purged"\} 1$/m)
  t.match(metrics.body, /^sfr_retention_purged_rows_total\{table="failures"\} 5$/m)
  t.match(metrics.body, /^sfr_retention_purged_rows_total\{table="events"\} 13$/m)
  t.match(metrics.body, /^sfr_retention_purge_chunks_total 1$/m)
  t.match(metrics.body, /^sfr_retention_purge_duration_seconds_count 1$/m)

  const off = await buildTestApp(t, { RETENTION_RESOLVED: '0' })
  t.equal(off.app.retention, null)
})

t.test('with the default 180 days, failures resolved 90 days ago stay', async (t) => {
  const ctx = await buildTestApp(t)
  ctx.clock.now = NOW
  await loadBatch(t, ctx)
  t.match(await ctx.app.retention?.runOnce(), { purged: true, failures: 0, events: 0 })
  t.equal((await failuresOf(t, ctx)).length, 9)
})

t.test('PostgreSQL: one instance purges at a time (its own lease, apart from the stall sweep\'s)', { skip: TEST_DATABASE_URL === undefined ? 'PostgreSQL only (TEST_DATABASE_URL)' : false }, async (t) => {
  const url = TEST_DATABASE_URL as string
  const schema = await createTestSchema(url)
  const { PostgresFailureRepository } = await import('../src/repositories/postgres.js')
  const [a, b] = [await PostgresFailureRepository.open({ url, poolSize: 2, schema: schema.name }), await PostgresFailureRepository.open({ url, poolSize: 2, schema: schema.name })]
  t.teardown(async () => {
    await Promise.all([a.close(), b.close()])
    await schema.drop()
  })
  let release = (): void => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  let entered = (): void => {}
  const inside = new Promise<void>((resolve) => { entered = resolve })
  const first = a.withLease('retention', async () => {
    entered()
    await held
  })
  await inside
  t.match(await new RetentionPurge({ repository: b, clock: () => NOW, retentionMs: RETENTION }).runOnce(), { purged: false, chunks: 0 }, 'skipped while another instance purges')
  t.equal(await b.withLease('stall-sweep', async () => {}), true, 'the stall sweep\'s lease is another one')
  release()
  t.equal(await first, true)
  t.match(await new RetentionPurge({ repository: b, clock: () => NOW, retentionMs: RETENTION }).runOnce(), { purged: true, reclaimedPages: null })
})

function event (input: Record<string, unknown>): ReturnType<typeof classifyEvent> {
  return classifyEvent({ batchId: 'batch-1', context: { engine: 'imapsync', migrationType: 'imap' }, ...input } as unknown as EventInput)
}

t.test('SQLite: a new file uses auto_vacuum INCREMENTAL, and is smaller after a purge', { skip: TEST_DATABASE_URL === undefined ? false : 'SQLite only' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sfr-retention-'))
  const file = join(dir, 'reports.db')
  const repository = SqliteFailureRepository.open(file)
  t.teardown(async () => {
    await repository.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const message = 'Host1 failure: ' + 'x'.repeat(2000)
  for (let round = 0; round < 4; round++) {
    const events = Array.from({ length: 250 }, (_, index) => {
      const mailbox = `user${round * 250 + index}@contoso.com`
      return [
        event({ id: `f-${mailbox}`, mailbox, occurredAt: daysAgo(100), outcome: 'failed', failure: { message } }),
        event({ id: `s-${mailbox}`, mailbox, occurredAt: daysAgo(90), outcome: 'synced' })
      ]
    }).flat()
    await repository.recordEvents('default', events, NOW - 90 * DAY)
  }
  const client = new Database(file)
  t.teardown(() => { client.close() })
  t.equal(client.pragma('auto_vacuum', { simple: true }), INCREMENTAL_VACUUM)
  client.pragma('wal_checkpoint(TRUNCATE)')
  const before = statSync(file).size
  const run = await new RetentionPurge({ repository, clock: () => NOW, retentionMs: RETENTION }).runOnce()
  t.match(run, { purged: true, failures: 1000, events: 1000 })
  t.ok((run.reclaimedPages ?? 0) > 0, `pages given back: ${run.reclaimedPages}`)
  client.pragma('wal_checkpoint(TRUNCATE)')
  const after = statSync(file).size
  t.ok(after < before / 2, `the file shrank from ${before} to ${after} bytes`)
})

t.test('SQLite: a file made before auto_vacuum is converted at open when small, otherwise by npm run db:vacuum', { skip: TEST_DATABASE_URL === undefined ? false : 'SQLite only' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sfr-vacuum-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const legacy = (name: string): string => {
    const file = join(dir, name)
    const client = new Database(file)
    client.exec('create table legacy (x)')
    t.equal(client.pragma('auto_vacuum', { simple: true }), 0)
    client.close()
    return file
  }
  const small = openSqlite(legacy('small.db'))
  t.equal(small.client.pragma('auto_vacuum', { simple: true }), INCREMENTAL_VACUUM, 'converted when opened')
  small.client.close()

  const big = new Database(legacy('big.db'))
  t.equal(convertToIncrementalVacuum(big, 0), false, 'left alone above the size limit')
  t.equal(big.pragma('auto_vacuum', { simple: true }), 0)
  big.close()
  vacuumSqlite(join(dir, 'big.db'))
  const converted = new Database(join(dir, 'big.db'))
  t.equal(converted.pragma('auto_vacuum', { simple: true }), INCREMENTAL_VACUUM, 'converted by the command')
  converted.close()
})
