import { readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import Type, { type Static } from 'typebox'
import { Value } from 'typebox/value'
import { API_KEY_PATTERN } from './domain/api-keys.js'

const DURATION = '^[0-9]+(ms|s|m|h|d)?$'

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
  MAX_CLOCK_SKEW: Type.String({ default: '1h', pattern: DURATION }),
  SHUTDOWN_GRACE: Type.String({ default: '10s', pattern: DURATION }),
  STALL_SWEEP_INTERVAL: Type.String({ default: '5m', pattern: DURATION }),
  CHANGES_RETENTION: Type.String({ default: '30d', pattern: DURATION }),
  // 0 keeps resolved failures forever.
  RETENTION_RESOLVED: Type.String({ default: '180d', pattern: DURATION }),
  // Never echoed in errors: it is a secret.
  BOOTSTRAP_ADMIN_KEY: Type.Optional(Type.String({ pattern: API_KEY_PATTERN })),
  RATE_LIMIT_MAX: Type.String({ default: '600', pattern: '^[0-9]{1,9}$' }),
  RATE_LIMIT_WINDOW: Type.String({ default: '1m', pattern: DURATION }),
  // redis://[user:password@]host:port[/db]: instances count the rate limit together there.
  RATE_LIMIT_REDIS_URL: Type.String({ default: '' }),
  RATE_LIMIT_REDIS_PREFIX: Type.String({ default: 'sfr-rate-limit:', pattern: '^[A-Za-z0-9._:-]{1,64}$' }),
  REQUEST_TIMEOUT: Type.String({ default: '30s', pattern: DURATION }),
  MAX_EVENT_LOOP_DELAY: Type.String({ default: '1s', pattern: DURATION }),
  MAX_EVENT_LOOP_UTILIZATION: Type.String({ default: '0', pattern: '^(0(\\.[0-9]+)?|1(\\.0+)?)$' }),
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: Type.Union([Type.Literal('true'), Type.Literal('false')], { default: 'false' }),
  WEBHOOK_TIMEOUT: Type.String({ default: '15s', pattern: DURATION }),
  WEBHOOK_POLL_INTERVAL: Type.String({ default: '2s', pattern: DURATION }),
  WEBHOOK_CONCURRENCY: Type.String({ default: '8', pattern: '^[0-9]{1,3}$' }),
  // The address clients reach the service at (behind a proxy or load balancer): http(s)://host[:port][/path].
  PUBLIC_URL: Type.String({ default: '' }),
  // E-mail digests: off without SMTP_URL. Never echoed in errors: it may hold a password.
  SMTP_URL: Type.Optional(Type.String()),
  SMTP_FROM: Type.Optional(Type.String({ maxLength: 320 })),
  EMAIL_GROUP_WAIT: Type.String({ default: '1m', pattern: DURATION }),
  EMAIL_GROUP_INTERVAL: Type.String({ default: '30m', pattern: DURATION }),
  EMAIL_REPEAT_INTERVAL: Type.String({ default: '24h', pattern: DURATION }),
  EMAIL_POLL_INTERVAL: Type.String({ default: '10s', pattern: DURATION }),
  EMAIL_SEND_LEASE: Type.String({ default: '2m', pattern: DURATION }),
  // Never echoed in errors: it is a secret. Required when several instances serve the pages.
  SESSION_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  SESSION_TTL: Type.String({ default: '12h', pattern: DURATION })
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
  /** How far ahead of the server clock an event's occurredAt may be. */
  maxClockSkewMs: number
  shutdownGraceMs: number
  /** How often the background sweep looks for stalled mailboxes in every batch of every tenant. */
  stallSweepIntervalMs: number
  /** How long the change feed keeps a change. */
  changesRetentionMs: number
  /** How long a resolved failure and its events are kept after it resolved; null: forever. */
  retentionResolvedMs: number | null
  /** Created as an all-scopes key of tenant `default` when no key exists yet. */
  bootstrapAdminKey: string | null
  /** Requests per key (or per client address without a valid key) per window. */
  rateLimit: { max: number, windowMs: number, redisUrl: string | null, redisPrefix: string }
  /** Longest a request (and an idle connection) may take before the server gives up on it. */
  requestTimeoutMs: number
  /** Above these the service answers 503 instead of queueing more work; 0 turns a check off. */
  underPressure: { maxEventLoopDelayMs: number, maxEventLoopUtilization: number }
  webhooks: {
    /** Lets webhook URLs be http and reach loopback, private and link-local addresses (on-premises receivers, tests). */
    allowPrivateNetworks: boolean
    /** Longest one delivery attempt may take. */
    timeoutMs: number
    /** How often the dispatcher looks for due deliveries besides being woken by new changes. */
    pollIntervalMs: number
    /** Attempts one instance makes at once. */
    concurrency: number
  },
  /** Where clients reach the service, without a trailing slash; null when PUBLIC_URL is unset. */
  publicUrl: string | null
  /** E-mail digests; null without SMTP_URL (e-mail is off and its routes answer 409). */
  email: EmailConfig | null
  /** The pages' sign-in session: its key material (null: generated and kept in the database) and lifetime. */
  session: { secret: string | null, ttlMs: number }
}

export interface EmailConfig {
  /** smtp:// (STARTTLS when offered) or smtps://, user and password in the URL. */
  smtpUrl: string
  from: string
  /** Base address links in mails point to. */
  publicUrl: string
  groupWaitMs: number
  groupIntervalMs: number
  repeatIntervalMs: number
  /** How often the digester and the sender look for work. */
  pollIntervalMs: number
  /** How long a claimed delivery is one instance's; after a crash, another retries it once this ran out. */
  sendLeaseMs: number
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

/** RATE_LIMIT_REDIS_URL: redis:// or rediss://, or null when unset (each instance counts alone). */
export function parseRedisUrl (text: string): string | null {
  if (text === '') return null
  if (!/^rediss?:\/\/[^\s]+$/.test(text) || !URL.canParse(text)) throw new ConfigError('RATE_LIMIT_REDIS_URL: must be a redis:// or rediss:// URL')
  return text
}

/** PUBLIC_URL as an absolute http(s) URL without query, fragment or trailing slash. */
export function parsePublicUrl (text: string): string | null {
  if (text === '') return null
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new ConfigError(`PUBLIC_URL: "${text}" is not an absolute URL (e.g. https://reports.example.org)`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError('PUBLIC_URL: must be an http or https URL')
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new ConfigError('PUBLIC_URL: must not carry credentials, a query or a fragment')
  }
  return url.href.replace(/\/+$/, '')
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
  const stallSweepIntervalMs = parseDuration(withDefaults.STALL_SWEEP_INTERVAL)
  if (stallSweepIntervalMs < 1000) throw new ConfigError('STALL_SWEEP_INTERVAL: must be at least 1s')
  const changesRetentionMs = parseDuration(withDefaults.CHANGES_RETENTION)
  if (changesRetentionMs < 3_600_000) throw new ConfigError('CHANGES_RETENTION: must be at least 1h')
  const retentionResolvedMs = parseDuration(withDefaults.RETENTION_RESOLVED)
  if (retentionResolvedMs !== 0 && retentionResolvedMs < 3_600_000) throw new ConfigError('RETENTION_RESOLVED: must be 0 (keep forever) or at least 1h')
  const rateLimitMax = Number(withDefaults.RATE_LIMIT_MAX)
  if (rateLimitMax < 1) throw new ConfigError('RATE_LIMIT_MAX: must be at least 1')
  const rateLimitWindowMs = parseDuration(withDefaults.RATE_LIMIT_WINDOW)
  if (rateLimitWindowMs < 1000) throw new ConfigError('RATE_LIMIT_WINDOW: must be at least 1s')
  const requestTimeoutMs = parseDuration(withDefaults.REQUEST_TIMEOUT)
  if (requestTimeoutMs < 1000) throw new ConfigError('REQUEST_TIMEOUT: must be at least 1s')
  const publicUrl = parsePublicUrl(withDefaults.PUBLIC_URL)
  const sessionTtlMs = parseDuration(withDefaults.SESSION_TTL)
  if (sessionTtlMs < 60_000) throw new ConfigError('SESSION_TTL: must be at least 1m')
  const webhookTimeoutMs = parseDuration(withDefaults.WEBHOOK_TIMEOUT)
  if (webhookTimeoutMs < 100 || webhookTimeoutMs > 60_000) throw new ConfigError('WEBHOOK_TIMEOUT: must be between 100ms and 60s')
  const webhookPollIntervalMs = parseDuration(withDefaults.WEBHOOK_POLL_INTERVAL)
  if (webhookPollIntervalMs < 100) throw new ConfigError('WEBHOOK_POLL_INTERVAL: must be at least 100ms')
  const webhookConcurrency = Number(withDefaults.WEBHOOK_CONCURRENCY)
  if (webhookConcurrency < 1) throw new ConfigError('WEBHOOK_CONCURRENCY: must be at least 1')
  return {
    email: emailConfig(withDefaults, publicUrl),
    host: withDefaults.HOST,
    port,
    database: parseDatabaseUrl(withDefaults.DATABASE_URL),
    databasePoolSize,
    logLevel: withDefaults.LOG_LEVEL,
    stallAfterMs,
    maxClockSkewMs: parseDuration(withDefaults.MAX_CLOCK_SKEW),
    shutdownGraceMs: parseDuration(withDefaults.SHUTDOWN_GRACE),
    stallSweepIntervalMs,
    changesRetentionMs,
    retentionResolvedMs: retentionResolvedMs === 0 ? null : retentionResolvedMs,
    bootstrapAdminKey: withDefaults.BOOTSTRAP_ADMIN_KEY ?? null,
    rateLimit: { max: rateLimitMax, windowMs: rateLimitWindowMs, redisUrl: parseRedisUrl(withDefaults.RATE_LIMIT_REDIS_URL), redisPrefix: withDefaults.RATE_LIMIT_REDIS_PREFIX },
    requestTimeoutMs,
    underPressure: {
      maxEventLoopDelayMs: parseDuration(withDefaults.MAX_EVENT_LOOP_DELAY),
      maxEventLoopUtilization: Number(withDefaults.MAX_EVENT_LOOP_UTILIZATION)
    },
    webhooks: {
      allowPrivateNetworks: withDefaults.WEBHOOK_ALLOW_PRIVATE_NETWORKS === 'true',
      timeoutMs: webhookTimeoutMs,
      pollIntervalMs: webhookPollIntervalMs,
      concurrency: webhookConcurrency
    },
    session: { secret: withDefaults.SESSION_SECRET ?? null, ttlMs: sessionTtlMs },
    publicUrl
  }
}

/** SMTP_FROM: an address, or a display name and <address>; one line. */
// eslint-disable-next-line no-control-regex
const FROM_PATTERN = /^(?:[^\u0000-\u001f<>]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/

function emailConfig (env: Env, publicUrl: string | null): EmailConfig | null {
  if (env.SMTP_URL === undefined) return null
  let smtp: URL
  try {
    smtp = new URL(env.SMTP_URL)
  } catch {
    throw new ConfigError('SMTP_URL: not a URL (use smtp://user:password@host:587 or smtps://user:password@host:465)')
  }
  if (smtp.protocol !== 'smtp:' && smtp.protocol !== 'smtps:') throw new ConfigError(`SMTP_URL: scheme "${smtp.protocol.slice(0, -1)}" not supported (use smtp:// or smtps://)`)
  if (env.SMTP_FROM === undefined || !FROM_PATTERN.test(env.SMTP_FROM)) throw new ConfigError('SMTP_FROM: required with SMTP_URL, an address such as "Sync failures <sfr@contoso.com>"')
  if (publicUrl === null) {
    throw new ConfigError('PUBLIC_URL: required with SMTP_URL, the http(s) address mails link to, e.g. https://sfr.contoso.com')
  }
  const pollIntervalMs = parseDuration(env.EMAIL_POLL_INTERVAL)
  if (pollIntervalMs < 100) throw new ConfigError('EMAIL_POLL_INTERVAL: must be at least 100ms')
  const sendLeaseMs = parseDuration(env.EMAIL_SEND_LEASE)
  // The lease outlasts nodemailer's own timeouts (30 s to connect, 60 s of silence) unless set shorter on purpose.
  if (sendLeaseMs < 1000) throw new ConfigError('EMAIL_SEND_LEASE: must be at least 1s')
  return {
    smtpUrl: env.SMTP_URL,
    from: env.SMTP_FROM,
    publicUrl,
    groupWaitMs: parseDuration(env.EMAIL_GROUP_WAIT),
    groupIntervalMs: parseDuration(env.EMAIL_GROUP_INTERVAL),
    repeatIntervalMs: parseDuration(env.EMAIL_REPEAT_INTERVAL),
    pollIntervalMs,
    sendLeaseMs
  }
}

/**
 * Reads a dotenv file (Node's own parser, as `node --env-file` and process.loadEnvFile use)
 * into `env` without overriding what is already set: the real environment wins. A missing
 * file is no error; returns the names it set.
 */
export function loadEnvFile (path: string, env: Record<string, string | undefined> = process.env): string[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new ConfigError(`${path}: ${(error as Error).message}`)
  }
  const set: string[] = []
  for (const [key, value] of Object.entries(parseEnv(text))) {
    if (value === undefined || env[key] !== undefined) continue
    env[key] = value
    set.push(key)
  }
  return set
}
