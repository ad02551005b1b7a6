import { createServer, connect, type Server, type Socket } from 'node:net'
import { once } from 'node:events'
import t from 'tap'
import { buildApp, DEFAULT_TENANT } from '../src/app.js'
import { API_SCOPES } from '../src/domain/api-keys.js'
import { issueApiKey } from '../src/repositories/api-keys.js'
import { SqliteApiKeyRepository } from '../src/repositories/api-keys.sqlite.js'
import { SqliteWebhookRepository } from '../src/repositories/webhooks.sqlite.js'
import { loadConfig } from '../src/config.js'
import { PostgresFailureRepository, isUnavailable } from '../src/repositories/postgres.js'
import { StoreUnavailableError } from '../src/repositories/types.js'
import { TEST_DATABASE_URL, TestClock, createTestSchema, failedEvent } from './helpers/app.js'

t.test('connection failures count as the database being unavailable, wrapped or not', async (t) => {
  const withCode = (code: string): Error => Object.assign(new Error('x'), { code })
  t.ok(isUnavailable(withCode('ECONNREFUSED')))
  t.ok(isUnavailable(withCode('57P01')), 'admin shutdown (server restart)')
  t.ok(isUnavailable(withCode('08006')), 'connection failure')
  t.ok(isUnavailable(new Error('Failed query: select 1', { cause: new Error('Connection terminated unexpectedly') })), 'as drizzle wraps it')
  t.ok(isUnavailable(new StoreUnavailableError(null)))
  t.notOk(isUnavailable(withCode('23505')), 'a unique violation is a bug, not an outage')
  t.notOk(isUnavailable(new Error('syntax error at or near "selec"')))
})

/**
 * Stands between the service and PostgreSQL so the test can take "the database" down and
 * bring it back without touching the shared server: down closes the port and cuts every
 * open connection, like a restart does.
 */
class DatabaseProxy {
  private server: Server | null = null
  private readonly sockets = new Set<Socket>()
  port = 0

  constructor (private readonly target: { host: string, port: number }) {}

  async up (): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host)
      for (const socket of [client, upstream]) {
        this.sockets.add(socket)
        socket.on('close', () => { this.sockets.delete(socket) })
        socket.on('error', () => { client.destroy(); upstream.destroy() })
      }
      client.pipe(upstream).pipe(client)
    })
    server.listen(this.port, '127.0.0.1')
    await once(server, 'listening')
    const address = server.address()
    if (address !== null && typeof address === 'object') this.port = address.port
    this.server = server
  }

  async down (): Promise<void> {
    const server = this.server
    this.server = null
    for (const socket of this.sockets) socket.destroy()
    if (server !== null) await new Promise<void>((resolve) => server.close(() => { resolve() }))
  }
}

if (TEST_DATABASE_URL === undefined) {
  t.test('the service survives a database outage', { skip: 'PostgreSQL tests SKIPPED: set TEST_DATABASE_URL to run the outage test' }, async () => {})
} else {
  const databaseUrl = TEST_DATABASE_URL
  t.test('while the database is down requests get 503 problem+json, and recover by themselves after', async (t) => {
    const schema = await createTestSchema(databaseUrl)
    t.teardown(schema.drop)
    const direct = new URL(databaseUrl)
    const proxy = new DatabaseProxy({ host: direct.hostname, port: Number(direct.port === '' ? 5432 : direct.port) })
    await proxy.up()
    t.teardown(async () => { await proxy.down() })
    const viaProxy = new URL(databaseUrl)
    viaProxy.hostname = '127.0.0.1'
    viaProxy.port = String(proxy.port)

    const repository = await PostgresFailureRepository.open({ url: viaProxy.toString(), poolSize: 2, schema: schema.name, connectionTimeoutMs: 2000 })
    // The keys live apart from the database that goes down: only the failure store is cut off.
    const apiKeys = SqliteApiKeyRepository.open(':memory:')
    const { secret } = await issueApiKey(apiKeys, { tenantId: DEFAULT_TENANT, scopes: [...API_SCOPES] }, Date.now())
    const headers = { authorization: `Bearer ${secret}` }
    const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent', MAX_EVENT_LOOP_DELAY: '0' }), { stores: { repository, apiKeys, webhooks: SqliteWebhookRepository.open(':memory:') }, clock: new TestClock().read, logger: false })
    t.teardown(async () => { await app.close() })
    const post = async (id: string) => await app.inject({ method: 'POST', url: '/events', payload: failedEvent({ id }), headers })
    const ready = async () => await app.inject({ method: 'GET', url: '/health/ready' })

    t.equal((await post('before')).statusCode, 201)
    t.same((await ready()).json(), { status: 'ready', database: { dialect: 'postgres', reachable: true, migrated: true } })

    await proxy.down()
    const during = await post('during')
    t.equal(during.statusCode, 503)
    t.equal(during.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.equal(during.headers['retry-after'], '5')
    t.same(during.json(), { type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'The service is temporarily unavailable; retry shortly.', instance: during.headers['x-request-id'] })
    const reportDuring = await app.inject({ method: 'GET', url: '/batches/batch-1/errors', headers })
    t.equal(reportDuring.statusCode, 503)
    const notReady = await ready()
    t.equal(notReady.statusCode, 503)
    t.same(notReady.json(), { type: 'urn:problem:sync-failure-reports:not-ready', title: 'Not ready', status: 503, detail: 'the database is unreachable', instance: notReady.headers['x-request-id'] })

    await proxy.up()
    t.equal((await ready()).statusCode, 200, 'ready again without a restart of the service')
    const after = await post('after')
    t.equal(after.statusCode, 201)
    t.same(after.json(), { id: 'after', duplicate: false, category: 'source_sign_in_failed', rule: 'imapsync.exit.161', failureStatus: 'open' })
    const report = await app.inject({ method: 'GET', url: '/batches/batch-1/errors', headers })
    t.equal(report.statusCode, 200)
    t.equal(report.json().items[0].occurrences, 2, 'the event sent during the outage was not stored; the others were')
  })
}
