import t from 'tap'
import { API_SCOPES } from '../src/domain/api-keys.js'
import { classifyEvent, type EventInput } from '../src/domain/index.js'
import { issueApiKey } from '../src/repositories/api-keys.js'
import { buildTestApp, failedEvent, postEvent, syncedEvent, type TestApp } from './helpers/app.js'

const HOUR = 3_600_000

interface ChangeItem { seq: number, type: string, batchId: string, mailbox: string, category: string, status: string, occurredAt: string, rule: string }
interface ChangePage { items: ChangeItem[], next: number, latestSeq: number }

async function changes (ctx: TestApp, query = '', key?: string): Promise<ChangePage> {
  const response = await ctx.inject({
    method: 'GET',
    url: `/changes${query === '' ? '' : `?${query}`}`,
    ...(key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } })
  })
  t.equal(response.statusCode, 200, response.body)
  return response.json<ChangePage>()
}

function summary (page: ChangePage): string[] {
  return page.items.map((item) => `${item.seq} ${item.type} ${item.mailbox} ${item.category} ${item.status}`)
}

t.test('each lifecycle transition is one change, numbered from 1 in commit order', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T10:00:00Z' }))
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T10:30:00Z' }))
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-23T11:00:00Z' }))
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T12:00:00Z' }))
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-23T13:00:00Z' }))
  ctx.clock.advance(40 * HOUR)
  await ctx.app.stallSweep.runOnce()
  const page = await changes(ctx)
  t.same(summary(page), [
    '1 failure.opened alice@contoso.com source_sign_in_failed open',
    '2 failure.resolved alice@contoso.com source_sign_in_failed resolved',
    '3 failure.reopened alice@contoso.com source_sign_in_failed open',
    '4 failure.resolved alice@contoso.com source_sign_in_failed resolved',
    '5 failure.stalled alice@contoso.com sync_stalled open'
  ])
  t.same({ next: page.next, latestSeq: page.latestSeq }, { next: 5, latestSeq: 5 })
  t.match(page.items[0], {
    batchId: 'batch-1',
    occurredAt: '2026-11-23T10:00:00.000Z',
    recordedAt: '2026-11-24T12:00:00.000Z',
    failure: { firstSeenAt: '2026-11-23T10:00:00.000Z', occurrences: 1, reopenCount: 0, lastCode: '161', resolvedAt: null, context: { engine: 'imapsync' } }
  })
  t.match(page.items[2], { occurredAt: '2026-11-23T12:00:00.000Z', failure: { occurrences: 3, reopenCount: 1 } })
  t.match(page.items[4], {
    rule: 'service.stall-detection',
    occurredAt: '2026-11-24T15:00:00.000Z',
    recordedAt: '2026-11-26T04:00:00.000Z',
    failure: { firstSeenAt: '2026-11-23T13:00:00.000Z', lastSeenAt: '2026-11-24T15:00:00.000Z' }
  })
  // The open stall is recorded once, however often the sweep runs.
  await ctx.app.stallSweep.runOnce()
  t.equal((await changes(ctx)).latestSeq, 5)
})

t.test('a repeated event and an event that changes no status record no change', async (t) => {
  const ctx = await buildTestApp(t)
  const event = failedEvent()
  await postEvent(ctx, event)
  t.equal((await postEvent(ctx, event)).statusCode, 200)
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T10:05:00Z' }))
  await postEvent(ctx, syncedEvent({ mailbox: 'bob@contoso.com' }))
  t.same(summary(await changes(ctx)), ['1 failure.opened alice@contoso.com source_sign_in_failed open'])
})

t.test('a refused request records no change, and requests committed with it keep theirs', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ id: 'taken', mailbox: 'a@contoso.com' }))
  // Arriving together, they share one group commit on SQLite: the refused one rolls back alone.
  const [refused, stored] = await Promise.all([
    ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events: [failedEvent({ mailbox: 'b@contoso.com' }), failedEvent({ id: 'taken', mailbox: 'c@contoso.com' })] } }),
    ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events: [failedEvent({ mailbox: 'd@contoso.com' })] } })
  ])
  t.equal(refused.statusCode, 422)
  t.equal(stored.statusCode, 200)
  t.same(summary(await changes(ctx)), [
    '1 failure.opened a@contoso.com source_sign_in_failed open',
    '2 failure.opened d@contoso.com source_sign_in_failed open'
  ])
})

t.test('the feed pages with after and limit, and filters by batch and type', async (t) => {
  const ctx = await buildTestApp(t)
  for (let i = 0; i < 5; i++) await postEvent(ctx, failedEvent({ mailbox: `u${i}@contoso.com`, batchId: i % 2 === 0 ? 'even' : 'odd' }))
  await postEvent(ctx, syncedEvent({ mailbox: 'u0@contoso.com', batchId: 'even' }))
  const first = await changes(ctx, 'limit=2')
  t.same(first.items.map((item) => item.seq), [1, 2])
  t.same({ next: first.next, latestSeq: first.latestSeq }, { next: 2, latestSeq: 6 })
  t.same((await changes(ctx, `after=${first.next}&limit=10`)).items.map((item) => item.seq), [3, 4, 5, 6])
  const end = await changes(ctx, 'after=6')
  t.same({ items: end.items, next: end.next }, { items: [], next: 6 })
  t.same((await changes(ctx, 'batchId=even')).items.map((item) => item.seq), [1, 3, 5, 6])
  t.same((await changes(ctx, 'type=failure.resolved')).items.map((item) => item.seq), [6])
  t.same((await changes(ctx, 'batchId=odd&type=failure.opened&type=failure.resolved')).items.map((item) => item.seq), [2, 4])
})

t.test('bad feed parameters are a 400 problem naming each', async (t) => {
  const ctx = await buildTestApp(t)
  for (const query of ['after=-1', 'after=x', 'limit=0', 'limit=1001', 'type=failure.exploded', 'batchId=a%20b', 'other=1']) {
    const response = await ctx.inject({ method: 'GET', url: `/changes?${query}` })
    t.equal(response.statusCode, 400, query)
    t.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8', query)
    t.equal(response.json().type, 'urn:problem:sync-failure-reports:validation', query)
  }
  t.equal((await ctx.inject({ method: 'GET', url: '/changes', auth: false })).statusCode, 401)
})

t.test('each tenant has a feed of its own, numbered from 1', async (t) => {
  const ctx = await buildTestApp(t)
  const other = await issueApiKey(ctx.apiKeys, { tenantId: 'fabrikam', scopes: [...API_SCOPES] }, 0)
  await postEvent(ctx, failedEvent())
  await ctx.inject({ method: 'POST', url: '/events', payload: failedEvent({ mailbox: 'zoe@fabrikam.com' }), headers: { authorization: `Bearer ${other.secret}` } })
  t.same(summary(await changes(ctx)), ['1 failure.opened alice@contoso.com source_sign_in_failed open'])
  t.same(summary(await changes(ctx, '', other.secret)), ['1 failure.opened zoe@fabrikam.com source_sign_in_failed open'])
  const readOnly = await issueApiKey(ctx.apiKeys, { tenantId: 'fabrikam', scopes: ['events:write'] }, 0)
  t.equal((await ctx.inject({ method: 'GET', url: '/changes', headers: { authorization: `Bearer ${readOnly.secret}` } })).statusCode, 403)
})

t.test('onAppended fires after a commit that appended changes, and not otherwise', async (t) => {
  const ctx = await buildTestApp(t)
  const heard: string[] = []
  const stop = ctx.app.changes.onAppended((tenantId) => { heard.push(tenantId) })
  const event = failedEvent()
  await postEvent(ctx, event)
  const deadline = Date.now() + 10_000
  while (heard.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(heard[0], 'default')
  t.equal(await ctx.app.changes.latestSeq('default'), 1)
  stop()
  const after = heard.length
  await postEvent(ctx, failedEvent({ mailbox: 'bob@contoso.com' }))
  t.equal(heard.length, after, 'an unsubscribed listener hears nothing')
})

t.test('changes older than CHANGES_RETENTION are purged', async (t) => {
  const ctx = await buildTestApp(t, { CHANGES_RETENTION: '2d' })
  await postEvent(ctx, failedEvent())
  ctx.clock.advance(HOUR)
  await postEvent(ctx, failedEvent({ mailbox: 'bob@contoso.com' }))
  ctx.clock.advance(48 * HOUR - 30 * 60_000)
  t.equal(await ctx.app.changes.purgeExpired(), 1)
  t.same((await changes(ctx)).items.map((item) => item.seq), [2])
  t.equal((await changes(ctx)).latestSeq, 2, 'the numbering goes on after a purge')
})

t.test('a purge deletes in chunks until every expired change is gone', async (t) => {
  const ctx = await buildTestApp(t, { CHANGES_RETENTION: '1h' })
  const events = Array.from({ length: 1200 }, (_, i) => classifyEvent(failedEvent({ id: `p-${i}`, mailbox: `p${i}@contoso.com` }) as unknown as EventInput))
  await ctx.repository.recordEvents('default', events.slice(0, 1000), ctx.clock.now)
  await ctx.repository.recordEvents('default', events.slice(1000), ctx.clock.now)
  ctx.clock.advance(2 * HOUR)
  t.equal(await ctx.app.changes.purgeExpired(), 1200)
  t.same((await changes(ctx)).items, [])
})
