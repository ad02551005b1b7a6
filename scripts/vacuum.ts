// Turns on auto_vacuum INCREMENTAL for the SQLite database DATABASE_URL names when it was made
// before the service set it and is too big to convert at start (see convertToIncrementalVacuum):
//   npm run db:vacuum
// A VACUUM rewrites the whole file and needs as much free disk again; the service's writes wait
// for it (and fail after 5 s), so run it with the service stopped. PostgreSQL has nothing to do.
import { existsSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { ConfigError, loadConfig, loadEnvFile } from '../src/config.js'
import { convertToIncrementalVacuum } from '../src/db/sqlite.js'

export interface VacuumResult {
  bytesBefore: number
  bytesAfter: number
}

/** Converts the database at `path` to auto_vacuum INCREMENTAL (a VACUUM, whatever its size). */
export function vacuumSqlite (path: string): VacuumResult {
  if (!existsSync(path)) throw new ConfigError(`no SQLite database at ${path}`)
  const bytesBefore = statSync(path).size
  const client = new Database(path, { fileMustExist: true })
  try {
    client.pragma('busy_timeout = 5000')
    if (!convertToIncrementalVacuum(client, Infinity)) throw new ConfigError(`${path}: auto_vacuum is still not INCREMENTAL after VACUUM`)
    client.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    client.close()
  }
  return { bytesBefore, bytesAfter: statSync(path).size }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    loadEnvFile('.env')
    const { database } = loadConfig()
    if (database.dialect !== 'sqlite') throw new ConfigError('DATABASE_URL is PostgreSQL: its autovacuum reuses the space; see README, Operating > Retention')
    const { bytesBefore, bytesAfter } = vacuumSqlite(database.path)
    process.stdout.write(`${database.path}: auto_vacuum INCREMENTAL, ${bytesBefore} bytes before, ${bytesAfter} after\n`)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`db:vacuum: ${error.message}\n`)
    process.exitCode = 1
  }
}
