import t from 'tap'
import fc from 'fast-check'
import { issueApiKey } from '../src/repositories/api-keys.js'
import { API_SCOPES } from '../src/domain/api-keys.js'
import { buildTestApp, failedEvent, syncedEvent, type TestApp } from './helpers/app.js'

// GET /batches is ordered by createdAt (when the service first received the batch) descending,
// then batchId: no event moves a batch, so a walk meets every batch that existed when it began
// exactly once, whatever arrives between its pages. Runs on the store the suite runs on
// (SQLite, or PostgreSQL with TEST_DATABASE_URL).

interface ListPage { items: Array<{ batchId: string, createdAt: string, lastEventAt: string }>, nextCursor: string | null }

type Action =
  | { kind: 'event', batch: number, hoursAhead: number, failed: boolean }
  | { kind: 'create', hoursAhead: number }
  | { kind: 'tick', ms: number }

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('event' as const), batch: fc.nat({ max: 11 }), hoursAhead: fc.integer({ min: -72, max: 0 }), failed: fc.boolean() }),
  fc.record({ kind: fc.constant('create' as const), hoursAhead: fc.integer({ min: -72, max: 0 }) }),
  // 0 ms keeps creation times tied, so the batchId tie-break is walked too.
  fc.record({ kind: fc.constant('tick' as const), ms: fc.constantFrom(0, 1, 60_000) })
)

const scenario = fc.record({
  // Milliseconds the clock moves after each initial batch is created (ties included).
  initial: fc.array(fc.constantFrom(0, 0, 1, 1000), { minLength: 1, maxLength: 12 }),
  limit: fc.integer({ min: 1, max: 4 }),
  // What arrives before each page is read.
  between: fc.array(fc.array(action, { maxLength: 4 }), { minLength: 1, maxLength: 12 })
})

let run = 0

async function tenantKey (ctx: TestApp, tenantId: string): Promise<string> {
  return (await issueApiKey(ctx.apiKeys, { tenantId, scopes: [...API_SCOPES], name: tenantId }, ctx.clock.now)).secret
}

async function post (ctx: TestApp, key: string, event: Record<string, unknown>): Promise<void> {
  const response = await ctx.inject({ method: 'POST', url: '/events', payload: event, headers: { authorization: `Bearer ${key}` } })
  if (response.statusCode !== 201 && response.statusCode !== 200) throw new Error(`POST /events answered ${response.statusCode}: ${response.body}`)
}

function eventFor (ctx: TestApp, batchId: string, hoursAhead: number, failed: boolean): Record<string, unknown> {
  const occurredAt = new Date(ctx.clock.now + hoursAhead * 3_600_000).toISOString()
  return failed ? failedEvent({ batchId, occurredAt }) : syncedEvent({ batchId, occurredAt })
}

t.test('a walk over GET /batches returns every batch that existed when it began exactly once while events arrive', async (t) => {
  const ctx = await buildTestApp(t)
  await fc.assert(fc.asyncProperty(scenario, async ({ initial, limit, between }) => {
    run += 1
    const key = await tenantKey(ctx, `paging-${run}`)
    const existing: string[] = []
    for (const [index, ms] of initial.entries()) {
      // Ids out of creation order, so the order cannot come from the id alone.
      const batchId = `b-${String((index * 7) % 13).padStart(2, '0')}-${index}`
      await post(ctx, key, eventFor(ctx, batchId, -index, true))
      existing.push(batchId)
      ctx.clock.advance(ms)
    }
    const all = [...existing]
    const seen: string[] = []
    let cursor: string | null = null
    let step = 0
    do {
      for (const next of between[step % between.length]) {
        if (next.kind === 'tick') ctx.clock.advance(next.ms)
        else if (next.kind === 'create') {
          const batchId = `new-${all.length}`
          all.push(batchId)
          await post(ctx, key, eventFor(ctx, batchId, next.hoursAhead, false))
        } else await post(ctx, key, eventFor(ctx, all[next.batch % all.length], next.hoursAhead, next.failed))
      }
      step += 1
      const suffix: string = cursor === null ? '' : `&cursor=${cursor}`
      const response = await ctx.inject({ method: 'GET', url: `/batches?limit=${limit}${suffix}`, headers: { authorization: `Bearer ${key}` } })
      if (response.statusCode !== 200) throw new Error(`GET /batches answered ${response.statusCode}: ${response.body}`)
      const page = response.json<ListPage>()
      seen.push(...page.items.map((item) => item.batchId))
      cursor = page.nextCursor
    } while (cursor !== null)
    // Every batch once at most; every batch of the start exactly once.
    if (new Set(seen).size !== seen.length) throw new Error(`met twice: ${seen.join(', ')}`)
    const missed = existing.filter((batchId) => !seen.includes(batchId))
    if (missed.length > 0) throw new Error(`missed ${missed.join(', ')} in ${seen.join(', ')}`)
  }), { numRuns: process.env.TEST_DATABASE_URL === undefined ? 40 : 15 })
})

t.test('GET /batches lists the newest batch first and an event in an older batch does not move it', async (t) => {
  const ctx = await buildTestApp(t)
  await post(ctx, ctx.key, failedEvent({ batchId: 'zeta', occurredAt: '2026-11-24T09:00:00Z' }))
  ctx.clock.advance(60_000)
  await post(ctx, ctx.key, failedEvent({ batchId: 'alpha', occurredAt: '2026-11-24T10:00:00Z' }))
  ctx.clock.advance(60_000)
  // zeta's activity is now the latest, yet it stays where its creation put it.
  await post(ctx, ctx.key, syncedEvent({ batchId: 'zeta', occurredAt: '2026-11-24T11:30:00Z' }))
  const response = await ctx.inject({ method: 'GET', url: '/batches' })
  t.equal(response.statusCode, 200)
  const body = response.json<ListPage>()
  t.same(body.items.map(({ batchId, createdAt, lastEventAt }) => ({ batchId, createdAt, lastEventAt })), [
    { batchId: 'alpha', createdAt: '2026-11-24T12:01:00.000Z', lastEventAt: '2026-11-24T10:00:00.000Z' },
    { batchId: 'zeta', createdAt: '2026-11-24T12:00:00.000Z', lastEventAt: '2026-11-24T11:30:00.000Z' }
  ])
  t.equal(body.nextCursor, null)
})

t.test('GET /batches refuses a cursor of the former activity order with 400 invalid-cursor', async (t) => {
  const ctx = await buildTestApp(t)
  await post(ctx, ctx.key, failedEvent({ batchId: 'batch-a' }))
  // The shape the activity-ordered list issued: ["batches", scope tag, lastEventAt, batchId].
  const old = Buffer.from(JSON.stringify(['batches', 'x', Date.parse('2026-11-23T10:00:00Z'), 'batch-a'])).toString('base64url')
  const response = await ctx.inject({ method: 'GET', url: `/batches?cursor=${old}` })
  t.equal(response.statusCode, 400)
  t.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.same(response.json(), {
    type: 'urn:problem:sync-failure-reports:invalid-cursor',
    title: 'Invalid cursor',
    status: 400,
    detail: 'cursor is not one this list issued',
    errors: [{ in: 'querystring', pointer: '/cursor', detail: 'cursor is not one this list issued' }],
    instance: response.headers['x-request-id']
  })
})
