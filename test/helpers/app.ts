import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'
import type { Static } from 'typebox'
import type { ErrorReportSchema } from '../../src/schemas/batches.js'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildApp, DEFAULT_TENANT } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { API_SCOPES } from '../../src/domain/api-keys.js'
import { issueApiKey, type ApiKeyRepository } from '../../src/repositories/api-keys.js'
import { SqliteApiKeyRepository } from '../../src/repositories/api-keys.sqlite.js'
import { SqliteFailureRepository } from '../../src/repositories/sqlite.js'
import { SqliteEmailRepository } from '../../src/repositories/email.sqlite.js'
import type { Stores } from '../../src/repositories/index.js'
import { openSqlite } from '../../src/db/sqlite.js'
import { SqliteWebhookRepository } from '../../src/repositories/webhooks.sqlite.js'
import type { WebhookResolver } from '../../src/services/webhook-client.js'
import type { BackgroundJob, FailureRepository } from '../../src/repositories/types.js'
import type { PostgresFailureRepository } from '../../src/repositories/postgres.js'
import { responseProblems } from './openapi-responses.js'

/** A controllable clock for tests: starts at `start`, moves only when told. */
export class TestClock {
  constructor (public now: number = Date.parse('2026-11-24T12:00:00Z')) {}
  readonly read = (): number => this.now
  advance (ms: number): void { this.now += ms }
}

/** Injection options; `auth: false` sends no API key. */
export type TestInjectOptions = InjectOptions & { auth?: false }

export interface TestApp {
  app: FastifyInstance
  repository: FailureRepository
  apiKeys: ApiKeyRepository
  /** An all-scopes key of tenant `default`, which `inject` sends unless told otherwise. */
  key: string
  clock: TestClock
  /** Sends `key` as the bearer token, unless the options carry their own authorization or say `auth: false`. */
  inject: (options: TestInjectOptions) => Promise<LightMyRequestResponse>
}

/** The PostgreSQL the suite runs on, or undefined: then it runs on SQLite. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL === '' ? undefined : process.env.TEST_DATABASE_URL

/** Runs one statement on its own short-lived connection (schema setup and teardown). */
export async function adminQuery (url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}

export interface TestSchema {
  name: string
  drop: () => Promise<void>
}

/** A new, empty PostgreSQL schema with a random name. */
export async function createTestSchema (url: string): Promise<TestSchema> {
  const name = `test_${randomBytes(8).toString('hex')}`
  await adminQuery(url, `create schema "${name}"`)
  return { name, drop: async () => { await adminQuery(url, `drop schema if exists "${name}" cascade`) } }
}

/**
 * Two PostgreSQL instances of the service's store on one new schema (closed and dropped at the
 * test's end), and `a` holding `job`'s lease until `release()`: for the one-at-a-time tests.
 */
export async function twoInstancesOneLease (t: Test, url: string, poolSize: number, job: BackgroundJob): Promise<{
  a: PostgresFailureRepository, b: PostgresFailureRepository, release: () => void, first: Promise<boolean>
}> {
  const schema = await createTestSchema(url)
  const { PostgresFailureRepository } = await import('../../src/repositories/postgres.js')
  const [a, b] = [await PostgresFailureRepository.open({ url, poolSize, schema: schema.name }), await PostgresFailureRepository.open({ url, poolSize, schema: schema.name })]
  t.teardown(async () => {
    await Promise.all([a.close(), b.close()])
    await schema.drop()
  })
  let release = (): void => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  let entered = (): void => {}
  const inside = new Promise<void>((resolve) => { entered = resolve })
  const first = a.withLease(job, async () => {
    entered()
    await held
  })
  await inside
  return { a, b, release, first }
}

/**
 * Opens a fresh, migrated, empty store for one test: an in-memory SQLite database, or, when
 * TEST_DATABASE_URL is set, a PostgreSQL schema of its own (tables and migration journal both),
 * dropped when the repository is closed.
 */
export async function freshRepository (): Promise<FailureRepository> {
  return (await freshStores()).repository
}

/**
 * A fresh failure store and API-key store on the same database (see freshRepository).
 * Closing the failure store closes the key store too, before its schema is dropped.
 */
export async function freshStores (): Promise<Stores> {
  if (TEST_DATABASE_URL === undefined) {
    // One connection for both, as the service opens them (openStores).
    const { db } = openSqlite(':memory:')
    return { repository: SqliteFailureRepository.on(db), apiKeys: new SqliteApiKeyRepository(db), emails: new SqliteEmailRepository(db), webhooks: new SqliteWebhookRepository(db) }
  }
  const url = TEST_DATABASE_URL
  const schema = await createTestSchema(url)
  const { PostgresFailureRepository } = await import('../../src/repositories/postgres.js')
  const { PostgresApiKeyRepository } = await import('../../src/repositories/api-keys.postgres.js')
  const repository = await PostgresFailureRepository.open({ url, poolSize: 4, schema: schema.name })
  const { PostgresWebhookRepository } = await import('../../src/repositories/webhooks.postgres.js')
  const apiKeys = await PostgresApiKeyRepository.open({ url, poolSize: 1, schema: schema.name })
  const { PostgresEmailRepository } = await import('../../src/repositories/email.postgres.js')
  const emails = await PostgresEmailRepository.open({ url, poolSize: 2, schema: schema.name })
  const webhooks = await PostgresWebhookRepository.open({ url, poolSize: 2, schema: schema.name })
  const close = repository.close.bind(repository)
  return {
    apiKeys,
    emails,
    webhooks,
    repository: Object.assign(repository, {
      close: async () => {
        await apiKeys.close()
        await emails.close()
        await webhooks.close()
        await close()
        await schema.drop()
      }
    })
  }
}

/** The real app on a fresh database, closed when the test ends. */
export async function buildTestApp (t: Test, env: Record<string, string> = {}, options: { webhookResolver?: WebhookResolver } = {}): Promise<TestApp> {
  // Tests send many requests from one key: the rate limit is tested on its own.
  // Load shedding is off unless a test asks for it: a busy CI machine must not turn answers into 503s.
  const config = loadConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '1000000', MAX_EVENT_LOOP_DELAY: '0', ...env })
  const stores = await freshStores()
  const { repository, apiKeys } = stores
  const clock = new TestClock()
  const { secret: key } = await issueApiKey(apiKeys, { tenantId: DEFAULT_TENANT, scopes: [...API_SCOPES], name: 'test' }, clock.now)
  const app = await buildApp(config, { stores, clock: clock.read, logger: false, webhookResolver: options.webhookResolver })
  t.teardown(async () => { await app.close() })
  const inject = async ({ auth, ...options }: TestInjectOptions): Promise<LightMyRequestResponse> => {
    const headers: Record<string, string | string[] | number | undefined> = { ...options.headers }
    if (auth !== false && headers.authorization === undefined) headers.authorization = `Bearer ${key}`
    const response = await app.inject({ ...options, headers })
    // Every answer the suite receives must be what openapi/openapi.json documents.
    const method = options.method ?? 'GET'
    const url = typeof options.url === 'string' ? options.url : (options.path as string | undefined) ?? ''
    for (const problem of responseProblems(method, url, response)) t.fail(`not as documented: ${problem}`)
    return response
  }
  return { app, repository, apiKeys, key, clock, inject }
}

let counter = 0

/** A valid failed event; override any field. */
export function failedEvent (overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1
  return {
    id: `evt-${counter}`,
    batchId: 'batch-1',
    mailbox: 'alice@contoso.com',
    occurredAt: '2026-11-23T10:00:00Z',
    outcome: 'failed',
    failure: { code: '161', message: 'Host1 failure: Error login on [imap.contoso.com] with user [alice] auth [LOGIN]: 2 NO [AUTHENTICATIONFAILED] Authentication failed.' },
    context: { engine: 'imapsync', migrationType: 'imap', server: 'imap.contoso.com', credentialMode: 'user' },
    ...overrides
  }
}

export function syncedEvent (overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1
  return {
    id: `evt-${counter}`,
    batchId: 'batch-1',
    mailbox: 'alice@contoso.com',
    occurredAt: '2026-11-23T12:00:00Z',
    outcome: 'synced',
    ...overrides
  }
}

export async function postEvent (ctx: TestApp, event: Record<string, unknown>): Promise<LightMyRequestResponse> {
  return await ctx.inject({ method: 'POST', url: '/events', payload: event })
}

export type ErrorReport = Static<typeof ErrorReportSchema>

export async function report (ctx: TestApp, batchId = 'batch-1', query = ''): Promise<{ statusCode: number, body: ErrorReport }> {
  const response = await ctx.inject({ method: 'GET', url: `/batches/${batchId}/errors${query === '' ? '' : `?${query}`}` })
  return { statusCode: response.statusCode, body: response.json<ErrorReport>() }
}

/** Every item of batch-1's error report, following each nextCursor; `between` runs after each page. */
export async function walkReport (
  ctx: TestApp, query: string, between?: (page: number, body: ErrorReport) => Promise<void>
): Promise<ErrorReport['items']> {
  const items: ErrorReport['items'] = []
  let cursor: string | null = null
  let page = 0
  do {
    const suffix: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`
    const { statusCode, body } = await report(ctx, 'batch-1', query + suffix)
    if (statusCode !== 200) throw new Error(JSON.stringify(body))
    items.push(...body.items)
    cursor = body.nextCursor
    page += 1
    if (between !== undefined) await between(page, body)
  } while (cursor !== null)
  return items
}
