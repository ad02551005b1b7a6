// A consistent online copy of the SQLite database DATABASE_URL names, while the service runs:
//   npm run backup -- FILE
// better-sqlite3's backup API copies one committed state of the database, never a mix,
// while the service goes on writing (see backupSqlite). PostgreSQL: use pg_dump (README).
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { ConfigError, loadConfig, loadEnvFile } from '../src/config.js'

export interface BackupResult {
  file: string
  pages: number
}

/**
 * Copies the SQLite database at `source` to `target` (which must not exist yet). By default in
 * one step: a read transaction on the WAL database, which the service's writers never wait
 * for, and which finishes however busy they are (in smaller steps, every write by the service
 * restarts the copy, and a busy service would keep it from ever finishing).
 */
export async function backupSqlite (source: string, target: string, pagesPerStep = 0x7fffffff): Promise<BackupResult> {
  if (!existsSync(source)) throw new ConfigError(`no SQLite database at ${source}`)
  if (existsSync(target)) throw new ConfigError(`${target} exists already: choose a new file (a backup never overwrites)`)
  const db = new Database(source, { fileMustExist: true })
  try {
    db.pragma('busy_timeout = 5000')
    const { totalPages } = await db.backup(target, { progress: () => pagesPerStep })
    return { file: target, pages: totalPages }
  } finally {
    db.close()
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const target = process.argv[2]
    if (target === undefined || target === '') throw new ConfigError('usage: npm run backup -- FILE')
    loadEnvFile('.env')
    const { database } = loadConfig()
    if (database.dialect !== 'sqlite') throw new ConfigError('DATABASE_URL is PostgreSQL: back it up with pg_dump (see README, Operating)')
    const { file, pages } = await backupSqlite(database.path, target)
    process.stdout.write(`backed up ${database.path} to ${file} (${pages} pages)\n`)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`backup: ${error.message}\n`)
    process.exitCode = 1
  }
}
