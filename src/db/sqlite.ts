import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import * as schema from './schema.sqlite.js'
import { migrationsFolder } from './migrations.js'

export type SqliteDb = BetterSQLite3Database<typeof schema> & { $client: Database.Database }

export interface SqliteHandle {
  db: SqliteDb
  client: Database.Database
}

/** Opens (creating if needed) the SQLite file in WAL mode and applies pending migrations. */
export function openSqlite (path: string): SqliteHandle {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const client = new Database(path)
  client.pragma('journal_mode = WAL')
  // FULL: a commit is on disk (the WAL is fsynced) before the client hears 2xx, so nothing
  // acknowledged is lost even to an OS crash or power loss (NORMAL survives only a crash of the
  // process). Group commit shares that fsync among the requests that arrive together.
  client.pragma('synchronous = FULL')
  client.pragma('busy_timeout = 5000')
  // Checkpoint about every 40 MB of WAL rather than 4 MB: each checkpoint ends in fsyncs, and
  // at the default they cost single-event ingest about a fifth of its CPU (measured; a crash
  // replays at most that much WAL on the next open).
  client.pragma('wal_autocheckpoint = 10000')
  // 16 MiB of page cache instead of 2: the index pages small writes touch stay in memory.
  client.pragma('cache_size = -16384')
  // Savepoint journals in memory: group commit opens a savepoint per request, and with the
  // default (a temporary file) every group created, wrote and deleted a file of its own, which
  // was about half of single-event ingest's system time (measured).
  client.pragma('temp_store = MEMORY')
  client.pragma('foreign_keys = ON')
  const db = drizzle({ client, schema })
  migrate(db, { migrationsFolder: migrationsFolder('sqlite') })
  return { db, client }
}
