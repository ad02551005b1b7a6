import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import * as schema from './schema.sqlite.js'
import { migrationsFolder } from './migrations.js'
import { AUTOCHECKPOINT_PAGES } from './checkpointer.js'

export type SqliteDb = BetterSQLite3Database<typeof schema> & { $client: Database.Database }

export interface SqliteHandle {
  db: SqliteDb
  client: Database.Database
}

/** Opens (creating if needed) the SQLite file in WAL mode and applies pending migrations. */
export function openSqlite (path: string): SqliteHandle {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const client = new Database(path)
  // Freed pages go back to the file system when asked (PRAGMA incremental_vacuum, after each
  // retention purge). Set first: it takes on a database that has no table yet; an existing
  // one needs a VACUUM, which convertToIncrementalVacuum runs when the file is small.
  client.pragma('auto_vacuum = INCREMENTAL')
  client.pragma('journal_mode = WAL')
  // FULL: a commit is on disk (the WAL is fsynced) before the client hears 2xx, so nothing
  // acknowledged is lost even to an OS crash or power loss (NORMAL survives only a crash of the
  // process). Group commit shares that fsync among the requests that arrive together.
  client.pragma('synchronous = FULL')
  client.pragma('busy_timeout = 5000')
  // Checkpoint about every 40 MB of WAL rather than 4 MB: each checkpoint ends in fsyncs, and
  // at the default they cost single-event ingest about a fifth of its CPU (measured; a crash
  // replays at most that much WAL on the next open).
  // Once the service runs, a thread of its own checkpoints instead (checkpointer.ts).
  client.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`)
  // 16 MiB of page cache instead of 2: the index pages small writes touch stay in memory.
  client.pragma('cache_size = -16384')
  // Savepoint journals in memory: group commit opens a savepoint per request, and with the
  // default (a temporary file) every group created, wrote and deleted a file of its own, which
  // was about half of single-event ingest's system time (measured).
  client.pragma('temp_store = MEMORY')
  client.pragma('foreign_keys = ON')
  convertToIncrementalVacuum(client, VACUUM_AT_OPEN_BYTES)
  const db = drizzle({ client, schema })
  migrate(db, { migrationsFolder: migrationsFolder('sqlite') })
  return { db, client }
}

/** Up to this size a database made before auto_vacuum was set is converted when it is opened (a VACUUM: well under a second). */
export const VACUUM_AT_OPEN_BYTES = 64 * 1024 * 1024

/** PRAGMA auto_vacuum's value for INCREMENTAL. */
export const INCREMENTAL_VACUUM = 2

/**
 * Turns auto_vacuum INCREMENTAL on for a database that has tables already, by a VACUUM, which
 * rewrites the whole file (and needs as much free disk again while it runs): only when the
 * file is at most `maxBytes` (Infinity: whatever its size, as `npm run db:vacuum` does).
 * Returns true when the database is INCREMENTAL afterwards.
 */
export function convertToIncrementalVacuum (client: Database.Database, maxBytes: number): boolean {
  if (client.pragma('auto_vacuum', { simple: true }) === INCREMENTAL_VACUUM) return true
  const size = (client.pragma('page_count', { simple: true }) as number) * (client.pragma('page_size', { simple: true }) as number)
  if (size > maxBytes) return false
  client.pragma('auto_vacuum = INCREMENTAL')
  client.exec('VACUUM')
  return client.pragma('auto_vacuum', { simple: true }) === INCREMENTAL_VACUUM
}
