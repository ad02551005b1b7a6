import type { DatabaseTarget } from '../config.js'
import type { FailureRepository } from './types.js'
import type { ApiKeyRepository } from './api-keys.js'
import { SqliteFailureRepository } from './sqlite.js'
import { SqliteApiKeyRepository } from './api-keys.sqlite.js'

/** Opens the store DATABASE_URL names, migrated and ready. */
export async function openRepository (target: DatabaseTarget): Promise<FailureRepository> {
  if (target.dialect === 'sqlite') return SqliteFailureRepository.open(target.path)
  throw new Error('PostgreSQL is not supported yet')
}

/** Opens the API-key store of the same database (its own connection). */
export async function openApiKeyRepository (target: DatabaseTarget): Promise<ApiKeyRepository> {
  if (target.dialect === 'sqlite') return SqliteApiKeyRepository.open(target.path)
  throw new Error('PostgreSQL is not supported yet')
}
