import Type, { type Static } from 'typebox'
import { Value } from 'typebox/value'

// Environment variables, as strings, exactly as an operator sets them.
export const EnvSchema = Type.Object({
  HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  PORT: Type.String({ default: '3000', pattern: '^[0-9]{1,5}$' }),
  DATABASE_URL: Type.String({ default: '' }),
  // Connections each instance keeps to PostgreSQL at most (ignored on SQLite).
  DATABASE_POOL_SIZE: Type.String({ default: '10', pattern: '^[0-9]{1,4}$' }),
  LOG_LEVEL: Type.Union([
    Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'),
    Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')
  ], { default: 'info' }),
  STALL_AFTER: Type.String({ default: '26h', pattern: '^[0-9]+(ms|s|m|h|d)?$' }),
  SHUTDOWN_GRACE: Type.String({ default: '10s', pattern: '^[0-9]+(ms|s|m|h|d)?$' })
})

export type Env = Static<typeof EnvSchema>

export type DatabaseTarget =
  | { dialect: 'sqlite', path: string }
  | { dialect: 'postgres', url: string }

export interface Config {
  host: string
  port: number
  database: DatabaseTarget
  /** Most connections to PostgreSQL per instance. */
  databasePoolSize: number
  logLevel: Env['LOG_LEVEL']
  /** Milliseconds without a successful sync after which a mailbox counts as stalled. */
  stallAfterMs: number
  shutdownGraceMs: number
}

export const DEFAULT_SQLITE_PATH = './data/failure-reports.db'

export class ConfigError extends Error {
  override name = 'ConfigError'
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** "26h", "90m", "15s", "500ms" or a bare number of milliseconds. */
export function parseDuration (text: string): number {
  const match = /^([0-9]+)(ms|s|m|h|d)?$/.exec(text)
  if (match === null) throw new ConfigError(`not a duration: "${text}" (use e.g. 26h, 90m, 15s, 500ms)`)
  return Number(match[1]) * UNIT_MS[match[2] ?? 'ms']
}

export function parseDatabaseUrl (url: string): DatabaseTarget {
  if (url === '') return { dialect: 'sqlite', path: DEFAULT_SQLITE_PATH }
  if (/^postgres(ql)?:\/\//i.test(url)) return { dialect: 'postgres', url }
  if (url.startsWith('file:')) {
    const path = url.slice('file:'.length).replace(/^\/\/(?=\/)/, '')
    if (path === '') throw new ConfigError('DATABASE_URL "file:" needs a path, e.g. file:./data/reports.db')
    return { dialect: 'sqlite', path }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new ConfigError(`DATABASE_URL scheme not supported: "${url.split(':')[0]}" (use a file path, file:, or postgres://)`)
  }
  return { dialect: 'sqlite', path: url }
}

/** Reads and validates the environment; throws ConfigError naming every bad variable. */
export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(EnvSchema.properties)
      .filter((key) => env[key] !== undefined && env[key] !== '')
      .map((key) => [key, env[key]])
  )
  const withDefaults = Value.Default(EnvSchema, known)
  if (!Value.Check(EnvSchema, withDefaults)) {
    const problems = Value.Errors(EnvSchema, withDefaults)
      .map((error) => `${error.instancePath.slice(1) || 'environment'}: ${error.message}`)
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`)
  }
  const port = Number(withDefaults.PORT)
  if (port > 65535) throw new ConfigError(`PORT: ${port} is not a TCP port (0-65535)`)
  const databasePoolSize = Number(withDefaults.DATABASE_POOL_SIZE)
  if (databasePoolSize < 1 || databasePoolSize > 1000) throw new ConfigError(`DATABASE_POOL_SIZE: ${databasePoolSize} is not between 1 and 1000`)
  const stallAfterMs = parseDuration(withDefaults.STALL_AFTER)
  if (stallAfterMs < 60_000) throw new ConfigError('STALL_AFTER: must be at least 1m')
  return {
    host: withDefaults.HOST,
    port,
    database: parseDatabaseUrl(withDefaults.DATABASE_URL),
    databasePoolSize,
    logLevel: withDefaults.LOG_LEVEL,
    stallAfterMs,
    shutdownGraceMs: parseDuration(withDefaults.SHUTDOWN_GRACE)
  }
}
