import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import fc from 'fast-check'
import { classifyEvent, type EventInput } from '../src/domain/index.js'
import { convertToIncrementalVacuum, INCREMENTAL_VACUUM, openSqlite } from '../src/db/sqlite.js'
import { SqliteFailureRepository } from '../src/repositories/sqlite.js'
import type { FailureRecord, FailureRepository } from '../src/repositories/types.js'
import { RetentionPurge } from '../src/services/retention.js'
import { StallSweep } from '../src/services/stall-sweep.js'
import { vacuumSqlite } from '../scripts/vacuum.js'
import { TEST_DATABASE_URL, buildTestApp, failedEvent, freshRepository, syncedEvent, twoInstancesOneLease, type TestApp } from './helpers/app.js'

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
  // A failure goes whole with its events (3 rows here), so each old mailbox takes a chunk of its own.
  t.ok(run.chunks >= 5, `ran in several chunks (${run.chunks})`)

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

t.test('a purge asked to stop ends after the chunk under way, and the next run goes on from there', async (t) => {
  const ctx = await buildTestApp(t, { RETENTION_RESOLVED: '30d' })
  ctx.clock.now = NOW
  await loadBatch(t, ctx)
  const purge = new RetentionPurge({ repository: ctx.repository, clock: ctx.clock.read, retentionMs: RETENTION, chunk: 3 })
  const run = purge.runOnce()
  // As the app's shutdown does: the run stops at its first chunk boundary, not after the whole purge.
  purge.stop()
  t.match(await run, { purged: true, chunks: 1 })
  await purge.idle()
  await assertCountersMatchRecount(t, ctx.repository)
  const rest = await new RetentionPurge({ repository: ctx.repository, clock: ctx.clock.read, retentionMs: RETENTION, chunk: 3 }).runOnce()
  t.ok(rest.chunks >= 4, `the rest took several chunks (${rest.chunks})`)
  t.equal((await failuresOf(t, ctx)).length, 4, 'everything old is purged in the end')
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
  const { b, release, first } = await twoInstancesOneLease(t, TEST_DATABASE_URL as string, 2, 'retention')
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

// The same random history goes to two stores, one of which purges (at random moments, with
// random cutoffs and chunk sizes, while writes run): whatever happens, both must agree on
// every open failure, every summary count and every mailbox's figures. A failure the purge
// deleted may come back (a late or new event of its category): it is then a new failure (its
// occurrences count from there), so only its status is compared.
const MINUTE = 60_000
const BASE = Date.parse('2026-11-23T10:00:00Z')
const MAILBOXES = ['m0@contoso.com', 'm1@contoso.com', 'm2@contoso.com']
// Stalls come from the sweep only. A stall an engine reports itself shares the detected stall's
// failure row, and a replay rebuilds that row from the engine's events and drops the detection
// (a store that never purges too): with the engine's events purged the detection survives, so
// the two stores would disagree for a reason that is not the purge's.
const CATEGORIES = ['source_sign_in_failed', 'throttled', 'items_skipped']

const eventStep = fc.record({
  kind: fc.constant('event' as const),
  mailbox: fc.nat({ max: MAILBOXES.length - 1 }),
  minute: fc.nat({ max: 240 }),
  failed: fc.boolean(),
  category: fc.nat({ max: CATEGORIES.length - 1 })
})
const step = fc.oneof(
  // The events of a round are written at once: two of one mailbox at the same minute (a sync and
  // a failure) would be ordered by which commits first, differently in each store.
  { arbitrary: fc.uniqueArray(eventStep, { minLength: 1, maxLength: 5, selector: (event) => `${event.mailbox} ${event.minute}` }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('sweep' as const), minutes: fc.integer({ min: 0, max: 60 }) }).map((sweep) => [sweep]), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('purge' as const), minute: fc.nat({ max: 240 }), chunk: fc.integer({ min: 1, max: 4 }) }).map((purge) => [purge]), weight: 2 }
)

type Round = typeof step extends fc.Arbitrary<infer R> ? R : never
const CI_RUN_43: Round[] = [[{ kind: 'event', mailbox: 2, minute: 16, failed: true, category: 2 }, { kind: 'event', mailbox: 1, minute: 14, failed: true, category: 1 }, { kind: 'event', mailbox: 1, minute: 88, failed: true, category: 1 }, { kind: 'event', mailbox: 1, minute: 164, failed: false, category: 0 }, { kind: 'event', mailbox: 1, minute: 217, failed: false, category: 2 }], [{ kind: 'sweep', minutes: 46 }], [{ kind: 'event', mailbox: 0, minute: 88, failed: false, category: 1 }, { kind: 'event', mailbox: 2, minute: 120, failed: false, category: 2 }], [{ kind: 'sweep', minutes: 51 }], [{ kind: 'event', mailbox: 1, minute: 221, failed: true, category: 0 }, { kind: 'event', mailbox: 1, minute: 184, failed: false, category: 2 }], [{ kind: 'purge', minute: 174, chunk: 2 }], [{ kind: 'event', mailbox: 1, minute: 19, failed: false, category: 1 }, { kind: 'event', mailbox: 2, minute: 173, failed: false, category: 0 }], [{ kind: 'event', mailbox: 1, minute: 176, failed: true, category: 0 }, { kind: 'event', mailbox: 1, minute: 73, failed: true, category: 0 }, { kind: 'event', mailbox: 1, minute: 208, failed: false, category: 2 }], [{ kind: 'event', mailbox: 1, minute: 149, failed: true, category: 0 }, { kind: 'event', mailbox: 0, minute: 16, failed: true, category: 2 }]]
// The purge may take only syncs from before its cutoff: the one at minute 150 is the only
// resolution between the late failure (140, after the cutoff at 100) and the next one (160).
const SYNC_AFTER_THE_CUTOFF: Round[] = [
  [{ kind: 'event', mailbox: 1, minute: 20, failed: true, category: 1 }], [{ kind: 'event', mailbox: 1, minute: 30, failed: false, category: 0 }],
  [{ kind: 'event', mailbox: 1, minute: 150, failed: false, category: 0 }], [{ kind: 'event', mailbox: 1, minute: 160, failed: true, category: 0 }],
  [{ kind: 'event', mailbox: 1, minute: 217, failed: false, category: 0 }], [{ kind: 'event', mailbox: 1, minute: 221, failed: true, category: 0 }],
  [{ kind: 'purge', minute: 100, chunk: 4 }], [{ kind: 'event', mailbox: 1, minute: 140, failed: true, category: 0 }]
]

function failureKey (failure: FailureRecord): string {
  return `${failure.mailbox} ${failure.category}`
}

async function storedFailures (repository: FailureRepository, tenantId: string): Promise<FailureRecord[]> {
  const page = await repository.listFailures(tenantId, 'batch-1', {
    filter: { status: 'all', categories: [], mailbox: null, since: null, until: null }, after: null, snapshotSeq: await repository.currentSeq(), limit: 1000
  })
  return page.items
}

t.test('a store that purges agrees with one that never does on open failures, counts and mailboxes', { timeout: 600_000 }, async (t) => {
  const [purging, keeping] = [await freshRepository(), await freshRepository()]
  t.teardown(async () => { await Promise.all([purging.close(), keeping.close()]) })
  let run = 0
  let mismatches = 0
  await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), async (plan) => {
    run += 1
    const tenantId = `tenant-${run}`
    let now = BASE + 4 * 60 * MINUTE
    const sweeps = [purging, keeping].map((repository) => new StallSweep({ repository, clock: () => now, stallAfterMs: 30 * MINUTE, chunk: 2 }))
    const purged = new Set<string>()
    // What a purge forgets is history from before its cutoff: a failure that receives a failed
    // event from before a cutoff after that purge ran is replayed against what is left, so its
    // open or resolved state is compared, its reopen count and occurrences are not.
    const forgotten = new Set<string>()
    let horizon = -Infinity
    // Writes never delete a failure: one written or seen before a purge and gone after it, the purge deleted.
    const written = new Set<string>()
    let id = 0
    let pending: { run: Promise<unknown>, before: Set<string> } | null = null
    const settlePurge = async (): Promise<void> => {
      if (pending === null) return
      await pending.run
      const after = new Set((await storedFailures(purging, tenantId)).map(failureKey))
      for (const key of [...pending.before, ...written]) if (!after.has(key)) purged.add(key)
      pending = null
    }
    for (const round of plan) {
      const first = round[0]
      if (first.kind === 'sweep') {
        now += first.minutes * MINUTE
        await settlePurge()
        for (const sweep of sweeps) await sweep.runOnce()
        continue
      }
      if (first.kind === 'purge') {
        await settlePurge()
        const before = new Set((await storedFailures(purging, tenantId)).map(failureKey))
        horizon = Math.max(horizon, BASE + first.minute * MINUTE)
        const purge = new RetentionPurge({ repository: purging, clock: () => BASE + first.minute * MINUTE, retentionMs: 0, chunk: first.chunk })
        // Purges run between rounds: a failure purged and written again while a purge runs
        // would be a new failure under the old key, which this comparison cannot tell apart.
        pending = { run: purge.runOnce(), before }
        await settlePurge()
        continue
      }
      const events = (round as Array<{ mailbox: number, minute: number, failed: boolean, category: number }>).map((step) => {
        id += 1
        if (step.failed) written.add(`${MAILBOXES[step.mailbox]} ${CATEGORIES[step.category]}`)
        if (step.failed && BASE + step.minute * MINUTE < horizon) forgotten.add(`${MAILBOXES[step.mailbox]} ${CATEGORIES[step.category]}`)
        return event({
          id: `${tenantId}-${id}`,
          mailbox: MAILBOXES[step.mailbox],
          occurredAt: new Date(BASE + step.minute * MINUTE).toISOString(),
          outcome: step.failed ? 'failed' : 'synced',
          ...(step.failed ? { failure: { category: CATEGORIES[step.category], message: `failure ${CATEGORIES[step.category]}` } } : {})
        })
      })
      for (const repository of [purging, keeping]) {
        await Promise.all(events.map(async (one) => await repository.recordEvents(tenantId, [one], now)))
      }
      await settlePurge()
    }
    await settlePurge()
    let ok = true
    const check = (same: boolean, actual: unknown, expected: unknown, label: string): void => {
      if (same) return
      if (ok) t.comment(`run ${run}: ${JSON.stringify(plan)}`)
      ok = false
      t.same(actual, expected, `run ${run}: ${label}`)
    }
    const withoutSeq = ({ seq: _seq, ...failure }: FailureRecord): Omit<FailureRecord, 'seq'> => failure
    const [kept, full] = [await storedFailures(purging, tenantId), await storedFailures(keeping, tenantId)]
    const open = (list: FailureRecord[]): string[] => list.filter((failure) => failure.status === 'open').map(failureKey).sort()
    check(JSON.stringify(open(kept)) === JSON.stringify(open(full)), open(kept), open(full), 'the same failures are open')
    const comparable = (list: FailureRecord[]): unknown[] => list.filter((failure) => failure.status === 'open' && !purged.has(failureKey(failure)) && !forgotten.has(failureKey(failure)))
      .map(withoutSeq).sort((a, b) => failureKey(a as FailureRecord) < failureKey(b as FailureRecord) ? -1 : 1)
    check(JSON.stringify(comparable(kept)) === JSON.stringify(comparable(full)), comparable(kept), comparable(full), 'open failures are the same')
    const [counts, recount, reference] = [await purging.countBatches(tenantId, ['batch-1']), await purging.recountBatches(tenantId, ['batch-1']), await keeping.countBatches(tenantId, ['batch-1'])]
    check(JSON.stringify(counts.get('batch-1')) === JSON.stringify(recount.get('batch-1')), counts.get('batch-1'), recount.get('batch-1'), 'counters equal a recount')
    const sorted = (value: unknown): string => JSON.stringify(value, (_key, item: unknown) => item !== null && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => a < b ? -1 : 1))
      : item)
    check(sorted(counts.get('batch-1')) === sorted(reference.get('batch-1')), counts.get('batch-1'), reference.get('batch-1'), 'counts equal the full store\'s')
    for (const mailbox of MAILBOXES) {
      const [a, b] = [await purging.findMailbox(tenantId, 'batch-1', mailbox), await keeping.findMailbox(tenantId, 'batch-1', mailbox)]
      check(JSON.stringify(a) === JSON.stringify(b), a, b, `${mailbox}: same figures`)
    }
    if (!ok) mismatches += 1
    return ok
  }), {
    numRuns: TEST_DATABASE_URL === undefined ? 60 : 12,
    endOnFailure: true,
    // A history CI met: late failed events from before a purge's cutoff whose syncs it purged.
    examples: [[CI_RUN_43], [SYNC_AFTER_THE_CUTOFF]],
    seed: Number(process.env.RETENTION_SEED ?? Date.now() % 1_000_000)
  })
  t.equal(mismatches, 0, `${run} runs agreed`)
})
