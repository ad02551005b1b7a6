import t, { type Test } from 'tap'
import { WebhookDispatcher } from '../src/services/webhook-dispatcher.js'
import { failedEvent, postEvent, syncedEvent, type TestApp } from './helpers/app.js'
import { hooksApp, PRIVATE_OK, startReceiver, subscribeWebhook as subscribe, type ReceivedWebhook } from './helpers/webhook-receiver.js'

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

t.test('after a rotation both secrets verify for 24 hours, then only the new one', async (t) => {
  const ctx = await hooksApp(t)
  const receiver = await startReceiver(t)
  const { id, secret: old } = await subscribe(ctx, receiver)
  const rotated = await ctx.inject({ method: 'POST', url: `/webhooks/${id}/rotate-secret` })
  t.equal(rotated.statusCode, 200)
  const { secret: fresh, previousSecretExpiresAt } = rotated.json()
  t.not(fresh, old)
  t.equal(Date.parse(previousSecretExpiresAt), ctx.clock.now + 86_400_000)
  await postEvent(ctx, failedEvent())
  const [hook] = await receiver.waitFor(1)
  const signatures = String(hook.headers['webhook-signature']).split(' ')
  t.equal(signatures.length, 2, 'two signatures, space-separated')
  receiver.secrets = [old]
  await postEvent(ctx, syncedEvent())
  t.equal((await receiver.waitFor(2))[1].verifiedWith, old, 'a receiver still on the old secret accepts')
  receiver.secrets = [fresh]
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T13:00:00Z' }))
  t.equal((await receiver.waitFor(3))[2].verifiedWith, fresh, 'one on the new secret accepts')
  // A day later only the new secret signs (the receiver's clock moves along in this test).
  ctx.clock.advance(86_400_001)
  const later = ctx.app.webhooks.dispatcher
  const { signedHeaders } = await import('../src/services/webhook-dispatcher.js')
  const subscription = await ctx.app.webhooks.store.findSubscription('default', id)
  const headers = signedHeaders(subscription!, { id: 'msg_x', payload: '{}' } as Parameters<typeof signedHeaders>[1], ctx.clock.now)
  t.equal(headers['webhook-signature'].split(' ').length, 1)
  t.ok(later)
  const view = (await ctx.inject({ method: 'GET', url: `/webhooks/${id}` })).json()
  t.equal(view.previousSecretExpiresAt, null)
})

t.test('digest mode folds 2,000 changes of two batches into one message per batch, then one per interval', async (t) => {
  const ctx = await hooksApp(t)
  const receiver = await startReceiver(t)
  await subscribe(ctx, receiver, { mode: 'digest', groupWaitSeconds: 30, groupIntervalSeconds: 60 })
  for (const batchId of ['batch-a', 'batch-b']) {
    const events = Array.from({ length: 1000 }, (_, index) => failedEvent({ batchId, mailbox: `user${index}@contoso.com` }))
    t.equal((await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events } })).statusCode, 200)
  }
  await ctx.app.webhooks.dispatcher.runOnce()
  t.equal(receiver.received.length, 0, 'the group waits group_wait for the rest of the burst')
  ctx.clock.advance(31_000)
  await ctx.app.webhooks.dispatcher.runOnce()
  const digests = await receiver.waitFor(2)
  for (const digest of digests) {
    t.equal(digest.verifiedWith, receiver.secrets[0])
    t.equal(digest.json.type, 'failure.digest')
    t.match(digest.json.data, { total: 1000, more: 900, byCategory: { source_sign_in_failed: 1000 }, byType: { 'failure.opened': 1000 } })
    t.equal((digest.json.data.changes as unknown[]).length, 100)
    t.ok(Buffer.byteLength(digest.body) < 20_000, `body under 20 KB (${Buffer.byteLength(digest.body)})`)
  }
  t.same(digests.map((digest) => digest.json.data.batchId).sort(), ['batch-a', 'batch-b'])
  // More changes of batch-a within the interval wait for it.
  await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events: Array.from({ length: 5 }, (_, index) => syncedEvent({ batchId: 'batch-a', mailbox: `user${index}@contoso.com` })) } })
  ctx.clock.advance(31_000)
  await ctx.app.webhooks.dispatcher.runOnce()
  t.equal(receiver.received.length, 2, 'not before group_interval since the last message')
  ctx.clock.advance(30_000)
  await ctx.app.webhooks.dispatcher.runOnce()
  const [, , third] = await receiver.waitFor(3)
  t.match(third.json.data, { batchId: 'batch-a', total: 5, more: 0, byType: { 'failure.resolved': 5 } })
})

t.test('POST /webhooks/:id/test sends a webhook.test event', async (t) => {
  const ctx = await hooksApp(t)
  const receiver = await startReceiver(t)
  const { id } = await subscribe(ctx, receiver)
  const response = await ctx.inject({ method: 'POST', url: `/webhooks/${id}/test` })
  t.equal(response.statusCode, 202)
  t.match(response.json(), { type: 'webhook.test', status: 'pending', attempts: 0, payload: { type: 'webhook.test', data: { webhookId: id } } })
  const [hook] = await receiver.waitFor(1)
  t.equal(hook.headers['webhook-id'], response.json().id)
  t.equal(hook.verifiedWith, receiver.secrets[0])
})

t.test('a failed delivery can be retried by hand, and replay sends every change since a time again', async (t) => {
  const ctx = await hooksApp(t)
  const receiver = await startReceiver(t)
  const { id } = await subscribe(ctx, receiver)
  const start = ctx.clock.now
  await postEvent(ctx, failedEvent())
  ctx.clock.advance(1)
  await postEvent(ctx, syncedEvent())
  await receiver.waitFor(2)
  await ctx.app.webhooks.dispatcher.runOnce()
  const log = (await ctx.inject({ method: 'GET', url: `/webhooks/${id}/deliveries?limit=1` })).json()
  t.equal(log.items.length, 1)
  t.type(log.next, 'string')
  const older = (await ctx.inject({ method: 'GET', url: `/webhooks/${id}/deliveries?limit=1&cursor=${log.next as string}` })).json()
  t.equal(older.items[0].type, 'failure.opened')
  t.equal(older.next, null)
  const retried = await ctx.inject({ method: 'POST', url: `/webhooks/${id}/deliveries/${older.items[0].id as string}/retry` })
  t.equal(retried.statusCode, 202)
  t.match(retried.json(), { status: 'pending', attempts: 0 })
  const hooks = await receiver.waitFor(3)
  t.equal(hooks[2].headers['webhook-id'], older.items[0].id, 'the retry keeps its webhook-id')
  const replay = await ctx.inject({ method: 'POST', url: `/webhooks/${id}/replay`, payload: { since: new Date(start).toISOString() } })
  t.equal(replay.statusCode, 202)
  t.same(replay.json(), { fromSeq: 0 })
  const replayed = await receiver.waitFor(5)
  t.same(replayed.slice(3).map((hook) => hook.json.data.seq), [1, 2])
  t.equal((await ctx.inject({ method: 'POST', url: `/webhooks/${id}/deliveries/msg_nope/retry` })).statusCode, 404)
  t.equal((await ctx.inject({ method: 'GET', url: `/webhooks/${id}/deliveries?cursor=bad` })).statusCode, 400)
})

t.test('webhooks are listed, changed and deleted per tenant; bad input is a 400 naming each problem', async (t) => {
  const ctx = await hooksApp(t)
  const receiver = await startReceiver(t)
  const { id } = await subscribe(ctx, receiver, { eventTypes: ['failure.stalled'], batchIds: ['batch-1'], categories: ['sync_stalled'], description: 'ops' })
  const list = (await ctx.inject({ method: 'GET', url: '/webhooks' })).json()
  t.match(list, { items: [{ id, url: receiver.url, eventTypes: ['failure.stalled'], batchIds: ['batch-1'], categories: ['sync_stalled'], mode: 'each', enabled: true }] })
  t.notOk('secret' in list.items[0], 'no secret in lists')
  const patched = await ctx.inject({ method: 'PATCH', url: `/webhooks/${id}`, payload: { mode: 'digest', groupWaitSeconds: 5, description: null } })
  t.match(patched.json(), { mode: 'digest', groupWaitSeconds: 5, description: null })
  await postEvent(ctx, failedEvent())
  await ctx.app.webhooks.dispatcher.runOnce()
  t.equal(receiver.received.length, 0, 'a failure.opened does not pass the failure.stalled filter')
  const bad = await ctx.inject({ method: 'POST', url: '/webhooks', payload: { url: receiver.url, eventTypes: ['failure.exploded'], description: 'x'.repeat(501) } })
  t.equal(bad.statusCode, 400)
  t.equal(bad.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.same([...new Set(bad.json().errors.map((error: { pointer: string }) => error.pointer))].sort(), ['/description', '/eventTypes/0'])
  const notUrl = await ctx.inject({ method: 'POST', url: '/webhooks', payload: { url: 'hooks.contoso.com' } })
  t.match(notUrl.json(), { status: 400, errors: [{ in: 'body', pointer: '/url', detail: 'is not an absolute URL' }] })
  t.match((await ctx.inject({ method: 'POST', url: '/webhooks', payload: { url: 'ftp://127.0.0.1/x' } })).json(), { errors: [{ detail: 'must be an https or http URL' }] })
  t.match((await ctx.inject({ method: 'POST', url: '/webhooks', payload: { url: 'https://user:pw@127.0.0.1/x' } })).json(), { errors: [{ detail: /user name/ }] })
  t.equal((await ctx.inject({ method: 'PATCH', url: `/webhooks/${id}`, payload: {} })).statusCode, 400)
  t.equal((await ctx.inject({ method: 'GET', url: '/webhooks/wh_nope' })).statusCode, 404)
  t.equal((await ctx.inject({ method: 'DELETE', url: `/webhooks/${id}` })).statusCode, 204)
  t.equal((await ctx.inject({ method: 'DELETE', url: `/webhooks/${id}` })).statusCode, 404)
  t.same((await ctx.inject({ method: 'GET', url: '/webhooks' })).json(), { items: [] })
  const keyOfReader = await ctx.app.apiKeys.listByTenant('default')
  t.ok(keyOfReader.length > 0)
})

t.test('webhook routes need the admin scope', async (t) => {
  const ctx = await hooksApp(t)
  const { issueApiKey } = await import('../src/repositories/api-keys.js')
  const { secret } = await issueApiKey(ctx.apiKeys, { tenantId: 'default', scopes: ['reports:read'] }, ctx.clock.now)
  const response = await ctx.inject({ method: 'GET', url: '/webhooks', headers: { authorization: `Bearer ${secret}` } })
  t.equal(response.statusCode, 403)
})

t.test('a message out of attempts fails; an endpoint failing for 5 days is disabled and says so', async (t) => {
  const ctx = await hooksApp(t)
  const receiver = await startReceiver(t)
  const { id } = await subscribe(ctx, receiver)
  receiver.responses.push(...Array.from({ length: 40 }, () => 500))
  const deliveries = async () => (await ctx.inject({ method: 'GET', url: `/webhooks/${id}/deliveries` })).json().items
  await postEvent(ctx, failedEvent())
  await receiver.waitFor(1)
  for (let attempt = 1; attempt < 8; attempt++) {
    await ctx.app.webhooks.dispatcher.runOnce()
    const [delivery] = await deliveries()
    t.equal(delivery.attempts, attempt)
    ctx.clock.now = Date.parse(delivery.nextAttemptAt)
  }
  await ctx.app.webhooks.dispatcher.runOnce()
  const [exhausted] = await deliveries()
  t.match(exhausted, { status: 'failed', attempts: 8, nextAttemptAt: null })
  t.equal(exhausted.attemptLog.length, 8)
  const failing = (await ctx.inject({ method: 'GET', url: `/webhooks/${id}` })).json()
  t.match(failing, { enabled: true, failingSince: String })
  // Days later the endpoint still fails every attempt: past five days of failing it is disabled.
  ctx.clock.advance(2 * 86_400_000)
  await postEvent(ctx, syncedEvent())
  await ctx.app.webhooks.dispatcher.runOnce()
  t.match((await ctx.inject({ method: 'GET', url: `/webhooks/${id}` })).json(), { enabled: true })
  ctx.clock.advance(2 * 86_400_000)
  const [latest] = await deliveries()
  ctx.clock.now = Math.max(ctx.clock.now, Date.parse(latest.nextAttemptAt))
  await ctx.app.webhooks.dispatcher.runOnce()
  const disabled = (await ctx.inject({ method: 'GET', url: `/webhooks/${id}` })).json()
  t.match(disabled, { enabled: false, disabledReason: /^every attempt failed for 5 days/, failingSince: failing.failingSince })
})

/** A dispatcher of the app's own store, feed and client that counts its runs and wake-ups; the app's own steps aside. */
async function countingDispatcher (t: Test, ctx: TestApp, wakeDelayMs?: number) {
  await ctx.app.webhooks.dispatcher.stop()
  const { store, client } = ctx.app.webhooks
  const counts = { runs: 0, wakes: 0 }
  let woken = (): void => {}
  const dispatcher = new WebhookDispatcher({
    store, client, listChanges: ctx.app.changes.list, clock: ctx.clock.read, timeoutMs: 15_000, concurrency: 4, wakeDelayMs, onRun: () => { counts.runs += 1 }
  })
  const unsubscribe = ctx.app.changes.onAppended(() => {
    counts.wakes += 1
    dispatcher.wake()
    woken()
  })
  t.teardown(async () => {
    unsubscribe()
    await dispatcher.stop()
  })
  // On PostgreSQL a commit wakes twice, at once and by its NOTIFY.
  const perCommit = ctx.app.failures.dialect === 'postgres' ? 2 : 1
  /** Resolves once `commits` commits' wake-ups have all arrived. */
  const wokenBy = async (commits: number): Promise<void> => {
    await new Promise<void>((resolve) => {
      woken = () => { if (counts.wakes >= commits * perCommit) resolve() }
      woken()
    })
  }
  return { dispatcher, counts, wokenBy }
}

function seqs (hooks: ReceivedWebhook[]): number[] {
  return hooks.map((hook) => Number(hook.json.data.seq)).sort((a, b) => a - b)
}

function oneTo (n: number): number[] {
  return Array.from({ length: n }, (_, index) => index + 1)
}

t.test('ten commits in a row while no run is under way share one run, and each of their changes is delivered', async (t) => {
  const ctx = await hooksApp(t, { ...PRIVATE_OK, WEBHOOK_POLL_INTERVAL: '1h' })
  // A wake-up waits 5 s here instead of 25 ms: far longer than ten commits take, even on a busy
  // machine (about 0.6 s on PostgreSQL at a load average of 9).
  const { dispatcher, counts, wokenBy } = await countingDispatcher(t, ctx, 5000)
  const receiver = await startReceiver(t)
  await subscribe(ctx, receiver)
  const burst = 10
  for (let index = 0; index < burst; index++) {
    t.equal((await postEvent(ctx, failedEvent({ mailbox: `user${index}@contoso.com` }))).statusCode, 201)
  }
  await wokenBy(burst)
  t.equal(counts.runs, 0, 'every commit woke the dispatcher; none started a run of its own')
  const hooks = await receiver.waitFor(burst)
  await dispatcher.stop()
  t.equal(counts.runs, 1)
  t.same(seqs(hooks), oneTo(burst))
})

t.test('twenty commits during a run cost one run after it, not twenty, and each of their changes is delivered', async (t) => {
  const ctx = await hooksApp(t, { ...PRIVATE_OK, WEBHOOK_POLL_INTERVAL: '1h' })
  const { dispatcher, counts, wokenBy } = await countingDispatcher(t, ctx)
  const receiver = await startReceiver(t)
  let answer = (): void => {}
  receiver.responses.push(async () => {
    await new Promise<void>((resolve) => { answer = resolve })
    return { status: 204 }
  })
  await subscribe(ctx, receiver)
  await postEvent(ctx, failedEvent({ mailbox: 'first@contoso.com' }))
  await receiver.waitFor(1)
  // The first run now waits for its attempt's answer; every commit below wakes the dispatcher during it.
  const burst = 20
  for (let index = 0; index < burst; index++) {
    t.equal((await postEvent(ctx, failedEvent({ mailbox: `user${index}@contoso.com` }))).statusCode, 201)
  }
  await wokenBy(burst + 1)
  answer()
  const hooks = await receiver.waitFor(1 + burst)
  await dispatcher.stop()
  t.equal(counts.runs, 2, 'the held run, then one run for the whole burst')
  t.same(seqs(hooks), oneTo(burst + 1))
  t.ok(hooks.every((hook) => hook.verifiedWith !== null))
})
