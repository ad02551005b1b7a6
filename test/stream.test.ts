import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { issueApiKey } from '../src/repositories/api-keys.js'
import { HEARTBEAT_MS } from '../src/routes/stream.js'
import { STREAM_PAGE } from '../src/services/stream-hub.js'
import { TEST_DATABASE_URL, buildTestApp, createTestSchema, failedEvent, postEvent, syncedEvent } from './helpers/app.js'
import { listenOnLoopback, openStream } from './helpers/sse.js'

interface ChangeData { seq: number, type: string, batchId: string, mailbox: string, failure: { lastMessage: string } }

t.test('the stream sends each change of the batch once, id = feed seq, and resumes from Last-Event-ID', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ mailbox: 'a@contoso.com' }))
  const base = await listenOnLoopback(ctx.app)
  const auth = { authorization: `Bearer ${ctx.key}` }
  const stream = await openStream(base, '/batches/batch-1/stream', auth)
  t.teardown(stream.close)
  t.equal(stream.status, 200)
  t.match(stream.headers['content-type'], /^text\/event-stream/)
  t.equal(stream.headers['cache-control'], 'no-store')

  // From now on by default: the change before the stream opened is not sent.
  await postEvent(ctx, failedEvent({ mailbox: 'b@contoso.com', failure: { message: 'b fails' } }))
  await postEvent(ctx, failedEvent({ batchId: 'other', mailbox: 'c@contoso.com' }))
  await postEvent(ctx, syncedEvent({ mailbox: 'a@contoso.com', occurredAt: '2026-11-24T11:00:00Z' }))
  const first = await stream.next()
  t.equal(first.event, 'failure.opened')
  const body = JSON.parse(first.data) as ChangeData
  t.equal(body.mailbox, 'b@contoso.com')
  t.equal(first.id, String(body.seq))
  const second = await stream.next()
  t.equal(second.event, 'failure.resolved')
  t.equal((JSON.parse(second.data) as ChangeData).mailbox, 'a@contoso.com')
  t.ok(Number(second.id) > Number(first.id) + 1, 'the other batch\'s change in between was not sent')

  // A reconnect with Last-Event-ID gets what came after it, with no gap and no repeat.
  const resumed = await openStream(base, '/batches/batch-1/stream', { ...auth, 'last-event-id': first.id as string })
  t.teardown(resumed.close)
  const replay = await resumed.next()
  t.equal(replay.id, second.id)
  await postEvent(ctx, failedEvent({ mailbox: 'd@contoso.com' }))
  const live = [await stream.next(), await resumed.next()]
  t.same(live.map((event) => (JSON.parse(event.data) as ChangeData).mailbox), ['d@contoso.com', 'd@contoso.com'])
  t.equal(ctx.app.streams.size, 2)
})

t.test('the stream refuses what it cannot serve before it starts', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent())
  const base = await listenOnLoopback(ctx.app)
  const auth = { authorization: `Bearer ${ctx.key}` }
  const missing = await openStream(base, '/batches/nope/stream', auth)
  t.equal(missing.status, 404)
  t.match(JSON.parse(await missing.body()), { status: 404 })
  const badId = await openStream(base, '/batches/batch-1/stream', { ...auth, 'last-event-id': 'abc' })
  t.equal(badId.status, 400)
  t.match(await badId.body(), /last-event-id/)
  const anonymous = await openStream(base, '/batches/batch-1/stream', {})
  t.equal(anonymous.status, 401)
  await anonymous.body()
  // Another tenant's batch is not found, as in the API.
  const { secret } = await issueApiKey(ctx.apiKeys, { tenantId: 'other-tenant', scopes: ['reports:read'] }, ctx.clock.now)
  const foreign = await openStream(base, '/batches/batch-1/stream', { authorization: `Bearer ${secret}` })
  t.equal(foreign.status, 404)
  await foreign.body()
})

t.test('a reader that reconnects after a long gap catches up page by page', async (t) => {
  const ctx = await buildTestApp(t)
  const events = Array.from({ length: STREAM_PAGE + 20 }, (_, i) => failedEvent({ mailbox: `m${i}@contoso.com` }))
  for (let i = 0; i < events.length; i += 100) {
    const response = await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events: events.slice(i, i + 100) } })
    t.equal(response.statusCode, 200)
  }
  const base = await listenOnLoopback(ctx.app)
  const stream = await openStream(base, '/batches/batch-1/stream?after=0', { authorization: `Bearer ${ctx.key}` })
  t.teardown(stream.close)
  const ids: number[] = []
  for (let i = 0; i < events.length; i++) ids.push(Number((await stream.next()).id))
  t.same(ids, Array.from({ length: events.length }, (_, i) => i + 1))
})

t.test('an idle stream sends a heartbeat comment every 15 s', { timeout: 40_000 }, async (t) => {
  t.equal(HEARTBEAT_MS, 15_000)
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent())
  const base = await listenOnLoopback(ctx.app)
  const stream = await openStream(base, '/batches/batch-1/stream', { authorization: `Bearer ${ctx.key}` })
  t.teardown(stream.close)
  await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS + 1500))
  t.equal(stream.comments[0], 'connected', 'the stream opens with a comment, so its head is sent at once')
  t.ok(stream.comments.includes('heartbeat'), 'a heartbeat comment arrived')
})

const SKIP = TEST_DATABASE_URL === undefined ? 'PostgreSQL only (set TEST_DATABASE_URL): instances share changes through LISTEN/NOTIFY' : false

t.test('a change written through one instance reaches a stream held by another within 2 s', { skip: SKIP }, async (t) => {
  const url = TEST_DATABASE_URL as string
  const schema = await createTestSchema(url)
  const { PostgresFailureRepository } = await import('../src/repositories/postgres.js')
  const { PostgresApiKeyRepository } = await import('../src/repositories/api-keys.postgres.js')
  const { PostgresWebhookRepository } = await import('../src/repositories/webhooks.postgres.js')
  const config = loadConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '1000000', MAX_EVENT_LOOP_DELAY: '0' })
  const apps: FastifyInstance[] = []
  for (let i = 0; i < 2; i++) {
    const repository = await PostgresFailureRepository.open({ url, poolSize: 2, schema: schema.name })
    const apiKeys = await PostgresApiKeyRepository.open({ url, poolSize: 1, schema: schema.name })
    const webhooks = await PostgresWebhookRepository.open({ url, poolSize: 1, schema: schema.name })
    apps.push(await buildApp(config, { stores: { repository, apiKeys, webhooks }, logger: false }))
  }
  t.teardown(async () => {
    for (const app of apps) await app.close()
    await schema.drop()
  })
  const { secret } = await issueApiKey(apps[0].apiKeys, { tenantId: 'default', scopes: ['events:write', 'reports:read'] }, Date.now())
  const write = async (event: Record<string, unknown>): Promise<void> => {
    const response = await apps[1].inject({ method: 'POST', url: '/events', headers: { authorization: `Bearer ${secret}` }, payload: event })
    t.ok(response.statusCode < 300, `written: ${response.statusCode}`)
  }
  await write(failedEvent({ occurredAt: new Date(Date.now() - 60_000).toISOString() }))
  const base = await listenOnLoopback(apps[0])
  const stream = await openStream(base, '/batches/batch-1/stream', { authorization: `Bearer ${secret}` })
  t.teardown(stream.close)
  const started = Date.now()
  await write(failedEvent({ mailbox: 'far@contoso.com', occurredAt: new Date(Date.now() - 30_000).toISOString() }))
  const event = await stream.next(2000)
  t.equal((JSON.parse(event.data) as ChangeData).mailbox, 'far@contoso.com')
  t.ok(Date.now() - started < 2000, `arrived in ${Date.now() - started} ms`)
})
