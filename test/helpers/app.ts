import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'
import type { Static } from 'typebox'
import type { ErrorReportSchema } from '../../src/schemas/batches.js'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { SqliteFailureRepository } from '../../src/repositories/sqlite.js'
import type { FailureRepository } from '../../src/repositories/types.js'

/** A controllable clock for tests: starts at `start`, moves only when told. */
export class TestClock {
  constructor (public now: number = Date.parse('2026-11-24T12:00:00Z')) {}
  readonly read = (): number => this.now
  advance (ms: number): void { this.now += ms }
}

export interface TestApp {
  app: FastifyInstance
  repository: FailureRepository
  clock: TestClock
  inject: (options: InjectOptions) => Promise<LightMyRequestResponse>
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
 * Opens a fresh, migrated, empty store for one test: an in-memory SQLite database, or, when
 * TEST_DATABASE_URL is set, a PostgreSQL schema of its own (tables and migration journal both),
 * dropped when the repository is closed.
 */
export async function freshRepository (): Promise<FailureRepository> {
  if (TEST_DATABASE_URL === undefined) return SqliteFailureRepository.open(':memory:')
  const url = TEST_DATABASE_URL
  const schema = await createTestSchema(url)
  const { PostgresFailureRepository } = await import('../../src/repositories/postgres.js')
  const repository = await PostgresFailureRepository.open({ url, poolSize: 4, schema: schema.name })
  const close = repository.close.bind(repository)
  return Object.assign(repository, {
    close: async () => {
      await close()
      await schema.drop()
    }
  })
}

/** The real app on a fresh database, closed when the test ends. */
export async function buildTestApp (t: Test, env: Record<string, string> = {}): Promise<TestApp> {
  const config = loadConfig({ LOG_LEVEL: 'silent', ...env })
  const repository = await freshRepository()
  const clock = new TestClock()
  const app = await buildApp(config, { repository, clock: clock.read, logger: false })
  t.teardown(async () => { await app.close() })
  return { app, repository, clock, inject: async (options) => await app.inject(options) }
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
