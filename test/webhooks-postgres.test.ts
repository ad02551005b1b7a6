import t from 'tap'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { API_SCOPES } from '../src/domain/api-keys.js'
import { issueApiKey } from '../src/repositories/api-keys.js'
import type { FastifyInstance } from 'fastify'
import type { WebhookResolver } from '../src/services/webhook-client.js'
import { createTestSchema, failedEvent, TEST_DATABASE_URL } from './helpers/app.js'
import { startReceiver } from './helpers/webhook-receiver.js'

if (TEST_DATABASE_URL === undefined) {
  t.test('two instances on PostgreSQL share webhook deliveries', { skip: 'PostgreSQL tests SKIPPED: set TEST_DATABASE_URL to run the webhook sharing test' }, async () => {})
} else {
  const url = TEST_DATABASE_URL
  t.test('two instances on PostgreSQL share webhook deliveries, and no attempt is made twice', async (t) => {
    const schema = await createTestSchema(url)
    t.teardown(schema.drop)
    const { PostgresFailureRepository } = await import('../src/repositories/postgres.js')
    const { PostgresApiKeyRepository } = await import('../src/repositories/api-keys.postgres.js')
    const { PostgresWebhookRepository } = await import('../src/repositories/webhooks.postgres.js')
    const config = loadConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '1000000', MAX_EVENT_LOOP_DELAY: '0', WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', WEBHOOK_CONCURRENCY: '4' })
    const attemptsBy = [0, 0]
    const instances: FastifyInstance[] = []
    for (const index of [0, 1]) {
      // Every attempt looks the name up once: the count says which instance made it.
      const resolver: WebhookResolver = async (hostname) => {
        if (hostname !== 'hooks.test') throw Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
        attemptsBy[index] += 1
        return [{ address: '127.0.0.1', family: 4 }]
      }
      const stores = {
        repository: await PostgresFailureRepository.open({ url, poolSize: 4, schema: schema.name }),
        apiKeys: await PostgresApiKeyRepository.open({ url, poolSize: 1, schema: schema.name }),
        webhooks: await PostgresWebhookRepository.open({ url, poolSize: 4, schema: schema.name })
      }
      const app = await buildApp(config, { stores, logger: false, webhookResolver: resolver })
      await app.ready()
      instances.push(app)
    }
    t.teardown(async () => { await Promise.all(instances.map(async (app) => { await app.close() })) })
    const { secret: key } = await issueApiKey(instances[0].apiKeys, { tenantId: 'default', scopes: [...API_SCOPES] }, Date.now())
    const headers = { authorization: `Bearer ${key}` }
    const receiver = await startReceiver(t)
    for (let index = 0; index < 4; index++) {
      const created = await instances[index % 2].inject({ method: 'POST', url: '/webhooks', headers, payload: { url: `http://hooks.test:${receiver.port}/hooks` } })
      t.equal(created.statusCode, 201)
      receiver.secrets.push(created.json().secret)
    }
    // 50 mailboxes, posted through both instances: 4 webhooks x 50 changes = 200 messages.
    await Promise.all(Array.from({ length: 50 }, async (_, index) => {
      const response = await instances[index % 2].inject({ method: 'POST', url: '/events', headers, payload: failedEvent({ mailbox: `user${index}@contoso.com` }) })
      t.equal(response.statusCode, 201)
    }))
    for (let round = 0; round < 50 && receiver.received.length < 200; round++) {
      await Promise.all(instances.map(async (app) => await app.webhooks.dispatcher.runOnce()))
    }
    const hooks = await receiver.waitFor(200, 30_000)
    await Promise.all(instances.map(async (app) => await app.webhooks.dispatcher.runOnce()))
    t.equal(receiver.received.length, 200, 'each message once: none made twice, none queued twice')
    t.equal(new Set(hooks.map((hook) => hook.headers['webhook-id'])).size, 200)
    t.ok(hooks.every((hook) => hook.verifiedWith !== null), 'every one verifies')
    t.equal(attemptsBy[0] + attemptsBy[1], 200)
    t.ok(attemptsBy[0] > 0 && attemptsBy[1] > 0, `both instances delivered (${attemptsBy.join(' + ')})`)
  })
}
