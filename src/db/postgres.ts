import pg from 'pg'
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import * as schema from './schema.postgres.js'
import { migrationsFolder } from './migrations.js'

export type PostgresDb = NodePgDatabase<typeof schema> & { $client: pg.Pool }

export interface PostgresOptions {
  /** Most connections this instance opens. */
  poolSize: number
  /**
   * Schema the tables live in (the connection's search_path); unset: the server's default,
   * normally `public`. Tests give each test its own.
   */
  schema?: string
  /**
   * Schema of drizzle's migration journal. Default: the schema the tables go to (the first
   * on the search_path), so deployments in different schemas of one database never share
   * a journal.
   */
  migrationsSchema?: string
  /** How long a request waits for a connection before failing (the store counts as down). */
  connectionTimeoutMs?: number
}

// The first key of every advisory lock this service takes on a whole-database resource; the
// two-key lock space is separate from the one-key space the mailbox locks use.
export const LOCK_NAMESPACE = 0x5f52

/** Lock ids (second key) within LOCK_NAMESPACE. */
export const LOCKS = {
  /** Held shared by every write transaction, exclusively to read a complete seq snapshot. */
  seqGate: 1
} as const

export function quoteIdentifier (name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

export function createPool (url: string, options: PostgresOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
    ...(options.schema === undefined ? {} : { options: `-c search_path=${quoteIdentifier(options.schema)}` })
  })
  // A connection the server drops (restart, failover, pg_terminate_backend) emits 'error',
  // on the pool while idle and on the client itself, sometimes twice; unheard, that would
  // crash the process. A query on it fails on its own, and the pool replaces it on next use.
  pool.on('error', () => {})
  pool.on('connect', (client) => { client.on('error', () => {}) })
  return pool
}

async function currentSchema (client: pg.PoolClient): Promise<string> {
  const { rows: [row] } = await client.query<{ schema: string | null }>('select current_schema() as schema')
  if (row?.schema == null) throw new Error('no schema on the search_path exists; create it or fix the search_path')
  return row.schema
}

/**
 * Applies pending migrations; returns the schema of the migration journal. Instances starting together take turns on a session advisory
 * lock held on one dedicated connection, so each migration runs exactly once.
 */
export async function migratePostgres (pool: pg.Pool, options: PostgresOptions): Promise<string> {
  const client = await pool.connect()
  try {
    const migrationsSchema = options.migrationsSchema ?? await currentSchema(client)
    await client.query('select pg_advisory_lock($1, hashtext($2))', [LOCK_NAMESPACE, `migrate:${migrationsSchema}`])
    try {
      await migrate(drizzle({ client, schema }), { migrationsFolder: migrationsFolder('postgres'), migrationsSchema })
    } finally {
      await client.query('select pg_advisory_unlock($1, hashtext($2))', [LOCK_NAMESPACE, `migrate:${migrationsSchema}`])
    }
    client.release()
    return migrationsSchema
  } catch (error) {
    // The connection may be broken or still hold the lock: discard it rather than reuse it.
    client.release(error as Error)
    throw error
  }
}

/** Connects a pool to PostgreSQL and applies pending migrations. */
export async function openPostgres (url: string, options: PostgresOptions): Promise<{ db: PostgresDb, migrationsSchema: string }> {
  const pool = createPool(url, options)
  try {
    const migrationsSchema = await migratePostgres(pool, options)
    return { db: drizzle({ client: pool, schema }), migrationsSchema }
  } catch (error) {
    await pool.end()
    throw error
  }
}
