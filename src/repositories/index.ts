import type { DatabaseTarget } from '../config.js'
import type { FailureRepository } from './types.js'
import type { ApiKeyRepository } from './api-keys.js'
import { SqliteFailureRepository } from './sqlite.js'
import { SqliteApiKeyRepository } from './api-keys.sqlite.js'
import { openSqlite } from '../db/sqlite.js'
import type { EmailRepository } from './email.js'
import { SqliteEmailRepository } from './email.sqlite.js'
import type { WebhookRepository } from './webhooks.js'
import { SqliteWebhookRepository } from './webhooks.sqlite.js'

export interface RepositoryOptions {
  /** Most connections to PostgreSQL (DATABASE_POOL_SIZE). */
  poolSize: number
  /** Errors of the stores' own background work (SQLite's WAL checkpointer); the default throws them. */
  onBackgroundError?: (error: unknown) => void
}

/** The service's stores: sync failures, API keys, e-mail digests and webhooks. */
export interface Stores {
  repository: FailureRepository
  apiKeys: ApiKeyRepository
  emails: EmailRepository
  webhooks: WebhookRepository
}

/** Opens the API-key store of the same database (its own connection or pool). */
export async function openApiKeyRepository (target: DatabaseTarget, options: RepositoryOptions): Promise<ApiKeyRepository> {
  if (target.dialect === 'sqlite') return SqliteApiKeyRepository.open(target.path)
  const { PostgresApiKeyRepository } = await import('./api-keys.postgres.js')
  // Key lookups are short and few: a small share of the pool is enough.
  return await PostgresApiKeyRepository.open({ url: target.url, poolSize: Math.max(1, Math.ceil(options.poolSize / 4)) })
}

/**
 * Opens both stores of the database DATABASE_URL names, migrated and ready. On SQLite they
 * share one connection: on a connection of its own, every key lookup found its page cache
 * emptied by the commit before it and read the pages again (measured: 9-12 us a lookup, 3-5 us
 * shared). Every statement on it runs synchronously, and a group commit never yields to other
 * code while it is open (see SqliteFailureRepository), so a key lookup or change never lands
 * inside one.
 */
export async function openStores (target: DatabaseTarget, options: RepositoryOptions): Promise<Stores> {
  if (target.dialect === 'sqlite') {
    const { db } = openSqlite(target.path)
    const repository = SqliteFailureRepository.on(db)
    repository.checkpointInBackground(options.onBackgroundError ?? ((error) => { throw error }))
    return { repository, apiKeys: new SqliteApiKeyRepository(db), emails: new SqliteEmailRepository(db), webhooks: new SqliteWebhookRepository(db) }
  }
  // Loaded on demand: an instance on SQLite never loads the PostgreSQL driver.
  const { PostgresFailureRepository } = await import('./postgres.js')
  const { PostgresEmailRepository } = await import('./email.postgres.js')
  const { PostgresWebhookRepository } = await import('./webhooks.postgres.js')
  return {
    repository: await PostgresFailureRepository.open({ url: target.url, poolSize: options.poolSize }),
    apiKeys: await openApiKeyRepository(target, options),
    // Digests and sending are background work: a small pool of their own.
    emails: await PostgresEmailRepository.open({ url: target.url, poolSize: Math.max(2, Math.ceil(options.poolSize / 4)) }),
    // The dispatcher's claims and results are short statements: a share of the pool.
    webhooks: await PostgresWebhookRepository.open({ url: target.url, poolSize: Math.max(2, Math.ceil(options.poolSize / 4)) })
  }
}
