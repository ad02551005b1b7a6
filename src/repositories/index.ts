import type { DatabaseTarget } from '../config.js'
import type { FailureRepository } from './types.js'
import { SqliteFailureRepository } from './sqlite.js'

/** Opens the store DATABASE_URL names, migrated and ready. */
export async function openRepository (target: DatabaseTarget): Promise<FailureRepository> {
  if (target.dialect === 'sqlite') return SqliteFailureRepository.open(target.path)
  throw new Error('PostgreSQL is not supported yet')
}
