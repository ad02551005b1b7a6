import t from 'tap'
import { classifyEvent, type EventInput } from '../src/domain/index.js'
import { openSqlite } from '../src/db/sqlite.js'
import { SWEEP_FAILURES_OF_MAILBOX } from '../src/repositories/sqlite.js'
import { StallSweep, SWEEP_CHUNK } from '../src/services/stall-sweep.js'
import { buildTestApp, failedEvent, postEvent, report, syncedEvent, type TestApp } from './helpers/app.js'

const HOUR = 3_600_000
// The test clock starts at 2026-11-24T12:00:00Z; STALL_AFTER defaults to 26h.
const SYNCED_AT = '2026-11-24T10:00:00Z'

/** Runs the background sweep once (as its timer would), then reads the report. */
async function stalls (ctx: TestApp, query = 'category=sync_stalled&status=all'): Promise<Array<Record<string, unknown>>> {
  await ctx.app.stallSweep.runOnce()
  const { body } = await report(ctx, 'batch-1', query)
  return body.items.map(({ troubleshooting: _guide, title: _title, ...item }) => item)
}

t.test('a mailbox without a sync for longer than STALL_AFTER has an open sync_stalled failure', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, syncedEvent({ occurredAt: SYNCED_AT }))
  ctx.clock.advance(26 * HOUR + 1)
  t.same(await stalls(ctx), [{
    mailbox: 'alice@contoso.com',
    category: 'sync_stalled',
    status: 'open',
    blocking: true,
    side: 'source',
    firstSeenAt: '2026-11-24T10:00:00.000Z',
    lastSeenAt: '2026-11-25T12:00:00.000Z',
    occurrences: 1,
    reopenCount: 0,
    lastCode: null,
    lastMessage: 'No successful sync for longer than 26h (STALL_AFTER); new mail is no longer reaching the cloud mailbox.',
    rule: 'service.stall-detection',
    resolvedAt: null
  }])
})

t.test('a mailbox that synced within STALL_AFTER is not stalled', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, syncedEvent({ occurredAt: SYNCED_AT }))
  ctx.clock.advance(24 * HOUR)
  t.same(await stalls(ctx), [])
})

t.test('a mailbox that never synced is stalled STALL_AFTER after its first event', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ occurredAt: SYNCED_AT, failure: { category: 'items_skipped', message: '3 items skipped' } }))
  ctx.clock.advance(26 * HOUR + 1)
  t.match(await stalls(ctx), [{ mailbox: 'alice@contoso.com', status: 'open', firstSeenAt: '2026-11-24T10:00:00.000Z' }])
})

t.test('a mailbox with another open blocking failure is failing, not stalled', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-23T10:00:00Z' }))
  await postEvent(ctx, failedEvent({ occurredAt: SYNCED_AT }))
  ctx.clock.advance(48 * HOUR)
  t.same(await stalls(ctx), [])
})

t.test('STALL_AFTER is read from the configuration', async (t) => {
  const ctx = await buildTestApp(t, { STALL_AFTER: '90m' })
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-24T11:00:00Z' }))
  t.same(await stalls(ctx), [])
  ctx.clock.advance(HOUR)
  t.match(await stalls(ctx), [{ status: 'open', lastSeenAt: '2026-11-24T12:30:00.000Z', lastMessage: /longer than 90m/ }])
})

t.test('a synced event resolves the stall and a new stall reopens it', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, syncedEvent({ occurredAt: SYNCED_AT }))
  ctx.clock.advance(30 * HOUR)
  await stalls(ctx)
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-25T17:00:00Z' }))
  t.match(await stalls(ctx), [{ status: 'resolved', resolvedAt: '2026-11-25T17:00:00.000Z', occurrences: 1 }])
  ctx.clock.advance(30 * HOUR)
  t.match(await stalls(ctx), [{ status: 'open', resolvedAt: null, occurrences: 2, reopenCount: 1, lastSeenAt: '2026-11-26T19:00:00.000Z' }])
})

t.test('a late sync that arrives out of order still resolves the stall', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, syncedEvent({ occurredAt: SYNCED_AT }))
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-25T20:00:00Z', failure: { category: 'items_skipped', message: 'skipped' } }))
  ctx.clock.advance(40 * HOUR)
  t.match(await stalls(ctx), [{ status: 'open' }])
  // Older than the mailbox's latest event: the store replays the history.
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-25T18:00:00Z' }))
  t.match(await stalls(ctx), [{ status: 'resolved', resolvedAt: '2026-11-25T18:00:00.000Z' }])
})

t.test('a read does not sweep: a stall appears once the background sweep ran', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, syncedEvent({ occurredAt: SYNCED_AT }))
  ctx.clock.advance(30 * HOUR)
  t.same((await report(ctx, 'batch-1', 'category=sync_stalled&status=all')).body.items, [])
  t.match(await stalls(ctx), [{ status: 'open' }])
})

t.test('repeated and concurrent sweeps open the stall once', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, syncedEvent({ occurredAt: SYNCED_AT }))
  ctx.clock.advance(30 * HOUR)
  await Promise.all(Array.from({ length: 5 }, async () => await stalls(ctx)))
  await stalls(ctx)
  t.match(await stalls(ctx), [{ status: 'open', occurrences: 1, reopenCount: 0 }])
})

t.test('stalls count in the report summary and page like other failures', async (t) => {
  const ctx = await buildTestApp(t)
  for (let i = 0; i < 5; i += 1) await postEvent(ctx, syncedEvent({ mailbox: `u${i}@contoso.com`, occurredAt: SYNCED_AT }))
  await postEvent(ctx, failedEvent({ mailbox: 'bob@contoso.com', occurredAt: SYNCED_AT }))
  ctx.clock.advance(30 * HOUR)
  await ctx.app.stallSweep.runOnce()
  const first = await report(ctx, 'batch-1', 'limit=4')
  t.same(first.body.summary, { openFailures: 6, mailboxesFailing: 6, byCategory: { sync_stalled: 5, source_sign_in_failed: 1 } })
  const second = await report(ctx, 'batch-1', `limit=4&cursor=${first.body.nextCursor ?? ''}`)
  t.equal(second.body.nextCursor, null)
  const mailboxes = [...first.body.items, ...second.body.items].map((item) => item.mailbox)
  t.same(mailboxes, ['u0@contoso.com', 'u1@contoso.com', 'u2@contoso.com', 'u3@contoso.com', 'u4@contoso.com', 'bob@contoso.com'])
})

/** Everything that tells a dashboard what a mailbox needs, after a background sweep: its state, the counts, the retry list, the open stall. */
async function standing (ctx: TestApp, mailbox = 'alice@contoso.com'): Promise<Record<string, unknown>> {
  await ctx.app.stallSweep.runOnce()
  const detail = (await ctx.inject({ method: 'GET', url: `/batches/batch-1/mailboxes/${mailbox}` })).json<{ state: string }>()
  const batch = (await ctx.inject({ method: 'GET', url: '/batches/batch-1' })).json<Record<string, number>>()
  const retry = (await ctx.inject({ method: 'GET', url: '/batches/batch-1/retry-list' })).body.trim().split('\r\n').slice(1)
  const open = await stalls(ctx, 'category=sync_stalled')
  return { state: detail.state, failing: batch.mailboxesFailing, stalled: batch.mailboxesStalled, retry, openStalls: open.length }
}

const FAILING = { state: 'failing', failing: 1, stalled: 0, retry: [], openStalls: 0 }
const STALLED = { state: 'stalled', failing: 0, stalled: 1, retry: ['alice@contoso.com'], openStalls: 1 }

t.test('a newer blocking failure takes over from a stall, which resolves when it occurred', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, syncedEvent({ occurredAt: SYNCED_AT }))
  ctx.clock.advance(72 * HOUR)
  t.same(await standing(ctx), STALLED)
  const now = new Date(ctx.clock.now).toISOString()
  const posted = await postEvent(ctx, failedEvent({ occurredAt: now }))
  t.equal(posted.statusCode, 201)
  t.same(await standing(ctx), FAILING)
  t.match(await stalls(ctx), [{ status: 'resolved', resolvedAt: now, occurrences: 1 }])
  // Reads and sweeps later on do not bring the stall back while the failure explains the mailbox.
  ctx.clock.advance(72 * HOUR)
  t.same(await standing(ctx), FAILING)
  // Once the mailbox syncs and then stops again, it stalls anew.
  await postEvent(ctx, syncedEvent({ occurredAt: new Date(ctx.clock.now).toISOString() }))
  ctx.clock.advance(30 * HOUR)
  t.same(await standing(ctx), STALLED)
})

t.test('a non-blocking failure leaves a stall in place', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, syncedEvent({ occurredAt: SYNCED_AT }))
  ctx.clock.advance(72 * HOUR)
  await standing(ctx)
  await postEvent(ctx, failedEvent({ occurredAt: new Date(ctx.clock.now).toISOString(), failure: { category: 'items_skipped', message: '2 items skipped' } }))
  t.same(await standing(ctx), STALLED)
})

t.test('a late blocking failure is placed by its occurredAt against a stall', async (t) => {
  // The mailbox's newest event is a non-blocking failure, so the blocking one below arrives
  // out of order and the store replays the mailbox's history.
  const setup = async (ctx: TestApp): Promise<void> => {
    await postEvent(ctx, syncedEvent({ occurredAt: SYNCED_AT }))
    await postEvent(ctx, failedEvent({ occurredAt: '2026-11-25T08:00:00Z', failure: { category: 'items_skipped', message: 'skipped' } }))
    ctx.clock.advance(72 * HOUR)
    t.same(await standing(ctx), STALLED)
  }

  await t.test('after the last sync: it explains the mailbox, the stall stands aside', async (t) => {
    const ctx = await buildTestApp(t)
    await setup(ctx)
    const late = await postEvent(ctx, failedEvent({ occurredAt: '2026-11-24T14:00:00Z', failure: { code: '10', message: 'connection refused' } }))
    t.equal(late.json().failureStatus, 'open')
    t.same(await standing(ctx), FAILING)
    t.match(await stalls(ctx), [{ status: 'resolved', resolvedAt: '2026-11-24T14:00:00.000Z' }])
  })

  await t.test('before the last sync: the sync resolved it, the stall stays', async (t) => {
    const ctx = await buildTestApp(t)
    await setup(ctx)
    const late = await postEvent(ctx, failedEvent({ occurredAt: '2026-11-24T09:00:00Z' }))
    t.equal(late.json().failureStatus, 'resolved')
    t.same(await standing(ctx), STALLED)
  })

  await t.test('in a bulk with other events, in any order', async (t) => {
    const ctx = await buildTestApp(t)
    await setup(ctx)
    const response = await ctx.inject({
      method: 'POST',
      url: '/events/bulk',
      payload: { events: [failedEvent({ occurredAt: '2026-11-25T09:00:00Z', failure: { category: 'items_skipped', message: 'x' } }), failedEvent({ occurredAt: '2026-11-24T15:00:00Z' })] }
    })
    t.equal(response.statusCode, 200)
    t.same(await standing(ctx), FAILING)
    t.match(await stalls(ctx), [{ status: 'resolved', resolvedAt: '2026-11-24T15:00:00.000Z' }])
  })
})

t.test('one sweep covers every batch of every tenant, chunk by chunk', async (t) => {
  const ctx = await buildTestApp(t)
  const at = Date.parse(SYNCED_AT)
  const events = (batchId: string, count: number) => Array.from({ length: count }, (_, i) => classifyEvent((i % 3 === 0
    ? failedEvent({ id: `${batchId}-${i}`, batchId, mailbox: `u${i}@contoso.com`, occurredAt: SYNCED_AT })
    : syncedEvent({ id: `${batchId}-${i}`, batchId, mailbox: `u${i}@contoso.com`, occurredAt: SYNCED_AT })) as unknown as EventInput))
  await ctx.repository.recordEvents('default', events('big', 250), at)
  await ctx.repository.recordEvents('default', events('small', 3), at)
  await ctx.repository.recordEvents('fabrikam', events('big', 10), at)
  ctx.clock.advance(30 * HOUR)
  const sweep = new StallSweep({ repository: ctx.repository, clock: ctx.clock.read, stallAfterMs: 26 * HOUR, chunk: 100 })
  // Every third mailbox has an open sign-in failure: failing, not stalled.
  t.same(await sweep.runOnce(), { swept: true, batches: 3, stalled: 166 + 2 + 6 })
  const counts = await ctx.repository.countBatches('default', ['big', 'small'])
  t.same([counts.get('big')?.mailboxesStalled, counts.get('small')?.mailboxesStalled], [166, 2])
  t.equal((await ctx.repository.countBatches('fabrikam', ['big'])).get('big')?.mailboxesStalled, 6)
  t.same(await sweep.runOnce(), { swept: true, batches: 3, stalled: 0 }, 'a second sweep finds nothing new')
  const feed = await ctx.app.changes.list('default', { after: 0, types: ['failure.stalled'], limit: 1000 })
  t.equal(feed.length, 168)
})

t.test('the app sweeps in chunks of its store\'s size, and other callbacks run between two chunks', async (t) => {
  const ctx = await buildTestApp(t)
  // On SQLite a chunk is a synchronous transaction that holds the event loop: its chunk is smaller.
  const chunk = SWEEP_CHUNK[ctx.repository.dialect]
  t.equal(chunk, ctx.repository.dialect === 'sqlite' ? 100 : 500)
  const at = Date.parse(SYNCED_AT)
  await ctx.repository.recordEvents('default', Array.from({ length: 2 * chunk + 1 }, (_, i) =>
    classifyEvent(syncedEvent({ id: `e-${i}`, mailbox: `u${i}@contoso.com`, occurredAt: SYNCED_AT }) as unknown as EventInput)), at)
  ctx.clock.advance(30 * HOUR)
  // The real store's chunks, watched: the limit each was given, and whether a callback queued
  // during the previous chunk had run before it started.
  const sweepStalls = ctx.repository.sweepStalls.bind(ctx.repository)
  const seen: Array<{ limit: number, ranBetween: boolean }> = []
  let ran = true
  ctx.repository.sweepStalls = async (tenantId, batchId, after, detection, limit) => {
    seen.push({ limit, ranBetween: ran })
    ran = false
    setImmediate(() => { ran = true })
    return await sweepStalls(tenantId, batchId, after, detection, limit)
  }
  t.same(await ctx.app.stallSweep.runOnce(), { swept: true, batches: 1, stalled: 2 * chunk + 1 })
  t.same(seen, Array.from({ length: 3 }, () => ({ limit: chunk, ranBetween: true })))
})

t.test('closing the app ends a sweep after the chunk under way', async (t) => {
  const ctx = await buildTestApp(t)
  const chunk = SWEEP_CHUNK[ctx.repository.dialect]
  const at = Date.parse(SYNCED_AT)
  await ctx.repository.recordEvents('default', Array.from({ length: 3 * chunk }, (_, i) =>
    classifyEvent(syncedEvent({ id: `e-${i}`, mailbox: `u${i}@contoso.com`, occurredAt: SYNCED_AT }) as unknown as EventInput)), at)
  ctx.clock.advance(30 * HOUR)
  let chunks = 0
  const sweepStalls = ctx.repository.sweepStalls.bind(ctx.repository)
  ctx.repository.sweepStalls = async (...args) => {
    chunks += 1
    return await sweepStalls(...args)
  }
  const run = ctx.app.stallSweep.runOnce()
  await ctx.app.close()
  t.same(await run, { swept: true, batches: 0, stalled: chunk }, 'one chunk of three ran')
  t.equal(chunks, 1)
})

t.test('on SQLite the sweep finds a mailbox\'s failures by the primary key, not by scanning the batch', async (t) => {
  const { client } = openSqlite(':memory:')
  t.teardown(() => { client.close() })
  const plan = client.prepare(`explain query plan ${SWEEP_FAILURES_OF_MAILBOX}`).all('default', 'batch-1', 'alice@contoso.com') as Array<{ detail: string }>
  t.same(plan.map((step) => step.detail), ['SEARCH failures USING INDEX sqlite_autoindex_failures_1 (tenant_id=? AND batch_id=? AND mailbox=?)'])
})

t.test('the sweep runs on its timer in the background and stops with the app', async (t) => {
  const ctx = await buildTestApp(t, { STALL_SWEEP_INTERVAL: '1s' })
  await postEvent(ctx, syncedEvent({ occurredAt: SYNCED_AT }))
  ctx.clock.advance(30 * HOUR)
  await ctx.app.ready()
  // Polls (bounded) for the timer's first run: no read sweeps.
  const deadline = Date.now() + 10_000
  while (await ctx.app.changes.latestSeq('default') === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(await ctx.app.changes.latestSeq('default'), 1)
})
