import type { DatabaseTarget } from '../config.js'
import type { FailureRepository } from './types.js'
import { SqliteFailureRepository } from './sqlite.js'

export interface RepositoryOptions {
  /** Most connections to PostgreSQL (DATABASE_POOL_SIZE). */
  poolSize: number
}

/** Opens the store DATABASE_URL names, migrated and ready. */
export async function openRepository (target: DatabaseTarget, options: RepositoryOptions): Promise<FailureRepository> {
  if (target.dialect === 'sqlite') return SqliteFailureRepository.open(target.path)
  // Loaded on demand: an instance on SQLite never loads the PostgreSQL driver.
  const { PostgresFailureRepository } = await import('./postgres.js')
  return await PostgresFailureRepository.open({ url: target.url, poolSize: options.poolSize })
}
