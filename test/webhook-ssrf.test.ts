import t from 'tap'
import { buildTestApp, failedEvent, postEvent, type TestApp } from './helpers/app.js'
import { startReceiver } from './helpers/webhook-receiver.js'
import type { ResolvedAddress, WebhookResolver } from '../src/services/webhook-client.js'
import { newWebhookSubscription } from '../src/domain/webhooks.js'

// No request leaves loopback: names resolve through this table only (never real DNS), and the
// only listening receivers are on 127.0.0.1 and ::1.

function resolverOf (table: Record<string, () => ResolvedAddress[]>): WebhookResolver {
  return async (hostname) => {
    const entry = table[hostname]
    if (entry === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
    return entry()
  }
}

const v4 = (address: string): ResolvedAddress[] => [{ address, family: 4 }]

async function appWith (t: Parameters<typeof buildTestApp>[0], env: Record<string, string>, resolver: WebhookResolver): Promise<TestApp> {
  const ctx = await buildTestApp(t, env, { webhookResolver: resolver })
  ctx.clock.now = Date.now()
  return ctx
}

t.test('without WEBHOOK_ALLOW_PRIVATE_NETWORKS, creation refuses http and every non-public target', async (t) => {
  const ctx = await appWith(t, {}, resolverOf({
    'hooks.test': () => v4('127.0.0.1'),
    'metadata.test': () => v4('169.254.169.254'),
    'mixed.test': () => [{ address: '93.184.215.14', family: 4 }, { address: '10.0.0.7', family: 4 }],
    'cgnat.test': () => v4('100.64.3.4')
  }))
  const refusals: Array<[string, RegExp]> = [
    ['http://93.184.215.14/hooks', /must be an https URL/],
    ['https://127.0.0.1/hooks', /127\.0\.0\.1, a loopback address/],
    ['https://127.1/hooks', /127\.0\.0\.1, a loopback address/],
    ['https://[::1]/hooks', /::1, a loopback address/],
    ['https://[::ffff:127.0.0.1]/hooks', /a loopback address/],
    ['https://hooks.test/hooks', /hooks\.test resolves to 127\.0\.0\.1, a loopback address/],
    ['https://metadata.test/latest', /169\.254\.169\.254, a link-local address/],
    ['https://mixed.test/hooks', /10\.0\.0\.7, a private address/],
    ['https://cgnat.test/hooks', /carrier-grade NAT/],
    ['https://nowhere.test/hooks', /does not resolve \(ENOTFOUND\)/]
  ]
  for (const [url, detail] of refusals) {
    const response = await ctx.inject({ method: 'POST', url: '/webhooks', payload: { url } })
    t.equal(response.statusCode, 400, url)
    t.match(response.json(), { type: 'urn:problem:sync-failure-reports:validation', errors: [{ in: 'body', pointer: '/url', detail }] }, url)
  }
  t.same((await ctx.inject({ method: 'GET', url: '/webhooks' })).json(), { items: [] }, 'nothing was stored')
})

t.test('a name that turns private after creation (DNS rebinding) is refused at delivery, before any connection', async (t) => {
  const receiver = await startReceiver(t)
  let answers = 0
  const ctx = await appWith(t, {}, resolverOf({
    // Public when the webhook is created, loopback when the dispatcher connects.
    'rebind.test': () => (answers++ === 0 ? v4('93.184.215.14') : v4('127.0.0.1'))
  }))
  const created = await ctx.inject({ method: 'POST', url: '/webhooks', payload: { url: `https://rebind.test:${receiver.port}/hooks` } })
  t.equal(created.statusCode, 201)
  await postEvent(ctx, failedEvent())
  await ctx.app.webhooks.dispatcher.runOnce()
  const log = (await ctx.inject({ method: 'GET', url: `/webhooks/${created.json().id as string}/deliveries` })).json()
  t.match(log.items[0], { status: 'pending', attempts: 1, attemptLog: [{ statusCode: null, error: 'refused: rebind.test resolves to 127.0.0.1, a loopback address' }] })
  t.equal(receiver.connections, 0, 'nothing connected to the receiver')
})

t.test('a stored loopback URL is refused at delivery once private networks are no longer allowed', async (t) => {
  const receiver = await startReceiver(t)
  const ctx = await appWith(t, {}, resolverOf({}))
  const now = ctx.clock.now
  await ctx.app.webhooks.store.insertSubscription({
    ...newWebhookSubscription({ tenantId: 'default', url: `https://127.0.0.1:${receiver.port}/hooks`, cursor: 0, now }),
    id: 'wh_onprem'
  })
  await postEvent(ctx, failedEvent())
  await ctx.app.webhooks.dispatcher.runOnce()
  const log = (await ctx.inject({ method: 'GET', url: '/webhooks/wh_onprem/deliveries' })).json()
  t.match(log.items[0].attemptLog, [{ statusCode: null, error: 'refused: 127.0.0.1, a loopback address' }])
  t.equal(receiver.connections, 0)
})

t.test('with WEBHOOK_ALLOW_PRIVATE_NETWORKS=true every loopback spelling receives signed webhooks', async (t) => {
  const v4Receiver = await startReceiver(t, '127.0.0.1')
  const v6Receiver = await startReceiver(t, '::1')
  const ctx = await appWith(t, { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' }, resolverOf({ 'hooks.test': () => v4('127.0.0.1') }))
  const targets = [
    { receiver: v4Receiver, url: `http://127.1:${v4Receiver.port}/hooks` },
    { receiver: v4Receiver, url: `http://[::ffff:127.0.0.1]:${v4Receiver.port}/hooks` },
    { receiver: v4Receiver, url: `http://hooks.test:${v4Receiver.port}/hooks` },
    { receiver: v6Receiver, url: `http://[::1]:${v6Receiver.port}/hooks` }
  ]
  for (const { receiver, url } of targets) {
    const created = await ctx.inject({ method: 'POST', url: '/webhooks', payload: { url } })
    t.equal(created.statusCode, 201, url)
    receiver.secrets.push(created.json().secret)
  }
  await postEvent(ctx, failedEvent())
  const v4Hooks = await v4Receiver.waitFor(3)
  const v6Hooks = await v6Receiver.waitFor(1)
  for (const hook of [...v4Hooks, ...v6Hooks]) {
    t.equal(hook.json.type, 'failure.opened')
    t.not(hook.verifiedWith, null, 'verified with its webhook\'s secret')
  }
})
