import t from 'tap'
import { buildTestApp, failedEvent, postEvent, syncedEvent, type TestApp } from './helpers/app.js'
import { startReceiver, type Receiver } from './helpers/webhook-receiver.js'

const PRIVATE_OK = { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' }

/** An app whose clock starts at the real now, so the receiver's verify accepts the signature's timestamp. */
async function hooksApp (t: Parameters<typeof buildTestApp>[0], env: Record<string, string> = PRIVATE_OK): Promise<TestApp> {
  const ctx = await buildTestApp(t, env)
  ctx.clock.now = Date.now()
  return ctx
}

async function subscribe (ctx: TestApp, receiver: Receiver, body: Record<string, unknown> = {}): Promise<{ id: string, secret: string }> {
  const response = await ctx.inject({ method: 'POST', url: '/webhooks', payload: { url: receiver.url, ...body } })
  if (response.statusCode !== 201) throw new Error(`POST /webhooks: ${response.statusCode} ${response.body}`)
  const created = response.json<{ id: string, secret: string }>()
  receiver.secrets.push(created.secret)
  return created
}

t.test('a failure posts a signed failure.opened that the standardwebhooks library verifies', async (t) => {
  const ctx = await hooksApp(t)
  const receiver = await startReceiver(t)
  const { id, secret } = await subscribe(ctx, receiver)
  t.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/)
  t.equal((await postEvent(ctx, failedEvent({ mailbox: 'bob@contoso.com' }))).statusCode, 201)
  const [hook] = await receiver.waitFor(1)
  t.equal(hook.verifiedWith, secret)
  t.equal(hook.json.type, 'failure.opened')
  t.match(hook.json.data, { seq: 1, type: 'failure.opened', batchId: 'batch-1', mailbox: 'bob@contoso.com', category: 'source_sign_in_failed', status: 'open' })
  t.match(hook.headers['webhook-id'], /^msg_/)
  t.match(hook.headers['webhook-signature'], /^v1,[A-Za-z0-9+/=]+$/)
  t.equal(hook.headers['content-type'], 'application/json')
  await ctx.app.webhooks.dispatcher.runOnce()
  const log = await ctx.inject({ method: 'GET', url: `/webhooks/${id}/deliveries` })
  t.equal(log.statusCode, 200)
  t.match(log.json(), { items: [{ id: hook.headers['webhook-id'], type: 'failure.opened', status: 'delivered', attempts: 1, nextAttemptAt: null, attemptLog: [{ statusCode: 204, error: null, nextAttemptAt: null }] }], next: null })
})

t.test('a mailbox\'s changes arrive in the order they happened', async (t) => {
  const ctx = await hooksApp(t)
  const receiver = await startReceiver(t)
  await subscribe(ctx, receiver)
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T10:00:00Z' }))
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-23T11:00:00Z' }))
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T12:00:00Z' }))
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-23T13:00:00Z' }))
  const hooks = await receiver.waitFor(4)
  t.same(hooks.map((hook) => hook.json.type), ['failure.opened', 'failure.resolved', 'failure.reopened', 'failure.resolved'])
  t.same(hooks.map((hook) => hook.json.data.seq), [1, 2, 3, 4])
})

t.test('a 500 is retried after 5 s with the same webhook-id, and the log shows both attempts', async (t) => {
  const ctx = await hooksApp(t)
  const receiver = await startReceiver(t)
  const { id } = await subscribe(ctx, receiver)
  receiver.responses.push(500)
  await postEvent(ctx, failedEvent())
  await receiver.waitFor(1)
  await ctx.app.webhooks.dispatcher.runOnce()
  let log = (await ctx.inject({ method: 'GET', url: `/webhooks/${id}/deliveries` })).json()
  t.match(log.items[0], { status: 'pending', attempts: 1, attemptLog: [{ statusCode: 500, error: 'the endpoint answered 500' }] })
  const due = Date.parse(log.items[0].nextAttemptAt) - ctx.clock.now
  t.ok(due >= 4500 && due <= 5500, `second attempt about 5 s later (${due} ms)`)
  await ctx.app.webhooks.dispatcher.runOnce()
  t.equal(receiver.received.length, 1, 'not retried before it is due')
  ctx.clock.advance(5500)
  await ctx.app.webhooks.dispatcher.runOnce()
  const [first, second] = await receiver.waitFor(2)
  t.equal(second.headers['webhook-id'], first.headers['webhook-id'])
  t.equal(second.body, first.body)
  log = (await ctx.inject({ method: 'GET', url: `/webhooks/${id}/deliveries` })).json()
  t.match(log.items[0], { status: 'delivered', attempts: 2, attemptLog: [{ statusCode: 500 }, { statusCode: 204 }] })
  const webhook = (await ctx.inject({ method: 'GET', url: `/webhooks/${id}` })).json()
  t.equal(webhook.failingSince, null, 'the success ends the failing state')
})

t.test('Retry-After of a 429 or 503 postpones the next attempt', async (t) => {
  const ctx = await hooksApp(t)
  const receiver = await startReceiver(t)
  const { id } = await subscribe(ctx, receiver)
  receiver.responses.push(() => ({ status: 503, headers: { 'retry-after': '120' } }))
  await postEvent(ctx, failedEvent())
  await receiver.waitFor(1)
  await ctx.app.webhooks.dispatcher.runOnce()
  const log = (await ctx.inject({ method: 'GET', url: `/webhooks/${id}/deliveries` })).json()
  t.equal(Date.parse(log.items[0].nextAttemptAt), ctx.clock.now + 120_000)
  ctx.clock.advance(60_000)
  await ctx.app.webhooks.dispatcher.runOnce()
  t.equal(receiver.received.length, 1, 'not before Retry-After')
  ctx.clock.advance(60_000)
  await ctx.app.webhooks.dispatcher.runOnce()
  await receiver.waitFor(2)
})

t.test('410 Gone disables the webhook at once and says so; enabling it again resumes', async (t) => {
  const ctx = await hooksApp(t)
  const receiver = await startReceiver(t)
  const { id } = await subscribe(ctx, receiver)
  receiver.responses.push(410)
  await postEvent(ctx, failedEvent())
  await receiver.waitFor(1)
  await ctx.app.webhooks.dispatcher.runOnce()
  const webhook = (await ctx.inject({ method: 'GET', url: `/webhooks/${id}` })).json()
  t.match(webhook, { enabled: false, disabledReason: 'the endpoint answered 410 Gone' })
  t.match((await ctx.inject({ method: 'GET', url: `/webhooks/${id}/deliveries` })).json().items[0], { status: 'failed', nextAttemptAt: null })
  await postEvent(ctx, syncedEvent())
  await ctx.app.webhooks.dispatcher.runOnce()
  t.equal(receiver.received.length, 1, 'nothing is sent while disabled')
  const enabled = await ctx.inject({ method: 'PATCH', url: `/webhooks/${id}`, payload: { enabled: true } })
  t.match(enabled.json(), { enabled: true, disabledReason: null })
  const hooks = await receiver.waitFor(2)
  t.equal(hooks[1].json.type, 'failure.resolved', 'the change made while disabled follows')
})
