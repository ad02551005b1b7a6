import t from 'tap'
import { ConfigError, loadConfig, parseDatabaseUrl, parseDuration } from '../src/config.js'

t.test('defaults give SQLite on 127.0.0.1:3000 with a 26 h stall threshold', async (t) => {
  t.same(loadConfig({}), {
    host: '127.0.0.1',
    port: 3000,
    database: { dialect: 'sqlite', path: './data/failure-reports.db' },
    databasePoolSize: 10,
    logLevel: 'info',
    stallAfterMs: 26 * 3_600_000,
    maxClockSkewMs: 3_600_000,
    shutdownGraceMs: 10_000,
    stallSweepIntervalMs: 300_000,
    changesRetentionMs: 30 * 86_400_000,
    retentionResolvedMs: 180 * 86_400_000,
    bootstrapAdminKey: null,
    rateLimit: { max: 600, windowMs: 60_000, redisUrl: null, redisPrefix: 'sfr-rate-limit:' },
    requestTimeoutMs: 30_000,
    underPressure: { maxEventLoopDelayMs: 1000, maxEventLoopUtilization: 0 },
    webhooks: { allowPrivateNetworks: false, timeoutMs: 15_000, pollIntervalMs: 2000, concurrency: 8 },
    publicUrl: null,
    email: null,
    session: { secret: null, ttlMs: 12 * 3_600_000 }
  })
})

t.test('e-mail: off without SMTP_URL; with it SMTP_FROM and PUBLIC_URL are required and checked', async (t) => {
  const on = { SMTP_URL: 'smtps://sfr:secret@smtp.contoso.com:465', SMTP_FROM: 'Sync failures <sfr@contoso.com>', PUBLIC_URL: 'https://sfr.contoso.com' }
  t.same(loadConfig(on).email, {
    smtpUrl: on.SMTP_URL,
    from: on.SMTP_FROM,
    publicUrl: 'https://sfr.contoso.com',
    groupWaitMs: 60_000,
    groupIntervalMs: 1_800_000,
    repeatIntervalMs: 86_400_000,
    pollIntervalMs: 10_000,
    sendLeaseMs: 120_000
  })
  t.match(loadConfig({ ...on, SMTP_URL: 'smtp://relay:25', SMTP_FROM: 'sfr@contoso.com', EMAIL_GROUP_WAIT: '30s', EMAIL_GROUP_INTERVAL: '5m', EMAIL_REPEAT_INTERVAL: '12h' }).email,
    { groupWaitMs: 30_000, groupIntervalMs: 300_000, repeatIntervalMs: 43_200_000 })
  t.throws(() => loadConfig({ ...on, SMTP_URL: 'http://smtp.contoso.com' }), { message: /SMTP_URL: scheme "http"/ })
  t.throws(() => loadConfig({ ...on, SMTP_URL: 'not a url' }), { message: /SMTP_URL: not a URL/ })
  const secret = t.throws(() => loadConfig({ ...on, SMTP_URL: 'ftp://user:hunter2@smtp.contoso.com' })) as Error
  t.notMatch(secret.message, 'hunter2', 'the password is never echoed')
  t.throws(() => loadConfig({ ...on, SMTP_FROM: undefined }), { message: /SMTP_FROM/ })
  t.throws(() => loadConfig({ ...on, SMTP_FROM: 'sfr@contoso.com\r\nBcc: x@evil.example' }), { message: /SMTP_FROM/ })
  t.throws(() => loadConfig({ ...on, PUBLIC_URL: undefined }), { message: /PUBLIC_URL/ })
  t.throws(() => loadConfig({ ...on, PUBLIC_URL: 'ftp://sfr.contoso.com' }), { message: /PUBLIC_URL/ })
  t.throws(() => loadConfig({ ...on, PUBLIC_URL: 'nope' }), { message: /PUBLIC_URL/ })
  t.throws(() => loadConfig({ ...on, EMAIL_POLL_INTERVAL: '10ms' }), { message: /EMAIL_POLL_INTERVAL/ })
  t.throws(() => loadConfig({ ...on, EMAIL_SEND_LEASE: '10ms' }), { message: /EMAIL_SEND_LEASE/ })
})

t.test('the pages\' session and public address are read and validated', async (t) => {
  const secret = 's'.repeat(32)
  t.match(loadConfig({ SESSION_SECRET: secret, SESSION_TTL: '30m', PUBLIC_URL: 'https://reports.example.com/' }), {
    session: { secret, ttlMs: 1_800_000 },
    publicUrl: 'https://reports.example.com'
  })
  const short = 'too-short-secret'
  const error = t.throws(() => loadConfig({ SESSION_SECRET: short }), { message: /SESSION_SECRET/ })
  t.notOk(error instanceof Error && error.message.includes(short), 'the secret is not echoed')
  t.throws(() => loadConfig({ SESSION_TTL: '30s' }), { message: /SESSION_TTL/ })
  t.throws(() => loadConfig({ PUBLIC_URL: 'reports.example.com' }), { message: /PUBLIC_URL/ })
})

t.test('webhook settings are read and validated', async (t) => {
  t.match(loadConfig({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', WEBHOOK_TIMEOUT: '2s', WEBHOOK_POLL_INTERVAL: '250ms', WEBHOOK_CONCURRENCY: '2' }), {
    webhooks: { allowPrivateNetworks: true, timeoutMs: 2000, pollIntervalMs: 250, concurrency: 2 }
  })
  t.throws(() => loadConfig({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'yes' }), { message: /WEBHOOK_ALLOW_PRIVATE_NETWORKS/ })
  t.throws(() => loadConfig({ WEBHOOK_TIMEOUT: '2m' }), { message: /WEBHOOK_TIMEOUT/ })
  t.throws(() => loadConfig({ WEBHOOK_POLL_INTERVAL: '10ms' }), { message: /WEBHOOK_POLL_INTERVAL/ })
  t.throws(() => loadConfig({ WEBHOOK_CONCURRENCY: '0' }), { message: /WEBHOOK_CONCURRENCY/ })
})

t.test('limits and the bootstrap key are read and validated', async (t) => {
  const key = 'sfr_' + 'A'.repeat(43)
  t.match(loadConfig({ BOOTSTRAP_ADMIN_KEY: key, RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW: '10s', REQUEST_TIMEOUT: '5s', MAX_EVENT_LOOP_DELAY: '0', MAX_EVENT_LOOP_UTILIZATION: '0.5' }), {
    bootstrapAdminKey: key,
    rateLimit: { max: 5, windowMs: 10_000 },
    requestTimeoutMs: 5000,
    underPressure: { maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0.5 }
  })
  t.throws(() => loadConfig({ BOOTSTRAP_ADMIN_KEY: 'sfr_short' }), { message: /BOOTSTRAP_ADMIN_KEY/ })
  t.throws(() => loadConfig({ BOOTSTRAP_ADMIN_KEY: 'password123password123password123' }), { message: /BOOTSTRAP_ADMIN_KEY/ })
  t.throws(() => loadConfig({ RATE_LIMIT_MAX: '0' }), { message: /RATE_LIMIT_MAX/ })
  t.match(loadConfig({ STALL_SWEEP_INTERVAL: '30s', CHANGES_RETENTION: '7d' }), { stallSweepIntervalMs: 30_000, changesRetentionMs: 7 * 86_400_000 })
  t.throws(() => loadConfig({ STALL_SWEEP_INTERVAL: '500ms' }), { message: /STALL_SWEEP_INTERVAL/ })
  t.throws(() => loadConfig({ CHANGES_RETENTION: '30m' }), { message: /CHANGES_RETENTION/ })
  t.throws(() => loadConfig({ RATE_LIMIT_WINDOW: 'hourly' }), { message: /RATE_LIMIT_WINDOW/ })
  t.throws(() => loadConfig({ REQUEST_TIMEOUT: '10ms' }), { message: /REQUEST_TIMEOUT/ })
  t.throws(() => loadConfig({ MAX_EVENT_LOOP_UTILIZATION: '1.5' }), { message: /MAX_EVENT_LOOP_UTILIZATION/ })
})

t.test('RETENTION_RESOLVED is a duration of at least 1h, or 0 to keep resolved failures forever', async (t) => {
  t.equal(loadConfig({ RETENTION_RESOLVED: '90d' }).retentionResolvedMs, 90 * 86_400_000)
  t.equal(loadConfig({ RETENTION_RESOLVED: '2h' }).retentionResolvedMs, 2 * 3_600_000)
  t.equal(loadConfig({ RETENTION_RESOLVED: '0' }).retentionResolvedMs, null)
  t.throws(() => loadConfig({ RETENTION_RESOLVED: '30m' }), new ConfigError('RETENTION_RESOLVED: must be 0 (keep forever) or at least 1h'))
  t.throws(() => loadConfig({ RETENTION_RESOLVED: '6 months' }), { message: /^invalid configuration: RETENTION_RESOLVED: / })
  t.throws(() => loadConfig({ RETENTION_RESOLVED: '-1d' }), { message: /RETENTION_RESOLVED/ })
  t.equal(loadConfig({ RETENTION_RESOLVED: '' }).retentionResolvedMs, 180 * 86_400_000, 'empty: the default, as for every variable')
})

t.test('a bad bootstrap key is refused without echoing it', async (t) => {
  const secret = 'sfr_' + 'x'.repeat(10) + '!'.repeat(30)
  const error = t.throws(() => loadConfig({ BOOTSTRAP_ADMIN_KEY: secret }), { message: /BOOTSTRAP_ADMIN_KEY/ })
  t.notOk(error instanceof Error && error.message.includes(secret))
})

t.test('DATABASE_URL chooses the store', async (t) => {
  t.same(parseDatabaseUrl('file:./x.db'), { dialect: 'sqlite', path: './x.db' })
  t.same(parseDatabaseUrl('file:///var/lib/x.db'), { dialect: 'sqlite', path: '/var/lib/x.db' })
  t.same(parseDatabaseUrl('/tmp/y.db'), { dialect: 'sqlite', path: '/tmp/y.db' })
  t.same(parseDatabaseUrl('postgres://u@h:5432/d'), { dialect: 'postgres', url: 'postgres://u@h:5432/d' })
  t.throws(() => parseDatabaseUrl('mysql://h/d'), ConfigError)
})

t.test('durations take ms, s, m, h and d', async (t) => {
  t.equal(parseDuration('500ms'), 500)
  t.equal(parseDuration('15s'), 15_000)
  t.equal(parseDuration('90m'), 5_400_000)
  t.equal(parseDuration('2d'), 172_800_000)
  t.equal(parseDuration('1200'), 1200)
  t.throws(() => parseDuration('soon'), ConfigError)
})

t.test('bad variables are refused with a message naming each', async (t) => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), { name: 'ConfigError', message: /PORT/ })
  t.throws(() => loadConfig({ PORT: '70000' }), { message: /PORT: 70000/ })
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), { message: /LOG_LEVEL/ })
  t.throws(() => loadConfig({ STALL_AFTER: 'a while' }), { message: /STALL_AFTER/ })
  t.throws(() => loadConfig({ STALL_AFTER: '30s' }), { message: /STALL_AFTER: must be at least 1m/ })
})

t.test('PUBLIC_URL is an absolute http(s) URL, kept without its trailing slash', async (t) => {
  t.equal(loadConfig({ PUBLIC_URL: 'https://reports.contoso.com/' }).publicUrl, 'https://reports.contoso.com')
  t.equal(loadConfig({ PUBLIC_URL: 'http://10.0.0.5:8080/sfr' }).publicUrl, 'http://10.0.0.5:8080/sfr')
  t.throws(() => loadConfig({ PUBLIC_URL: 'reports.contoso.com' }), /PUBLIC_URL: .* not an absolute URL/)
  t.throws(() => loadConfig({ PUBLIC_URL: 'ftp://reports.contoso.com' }), /PUBLIC_URL: must be an http or https URL/)
  t.throws(() => loadConfig({ PUBLIC_URL: 'https://user:pw@reports.contoso.com' }), /PUBLIC_URL: must not carry/)
  t.throws(() => loadConfig({ PUBLIC_URL: 'https://reports.contoso.com/?a=1' }), /PUBLIC_URL: must not carry/)
})

t.test('RATE_LIMIT_REDIS_URL is a redis:// or rediss:// URL', async (t) => {
  t.equal(loadConfig({ RATE_LIMIT_REDIS_URL: 'redis://127.0.0.1:6379/2' }).rateLimit.redisUrl, 'redis://127.0.0.1:6379/2')
  t.equal(loadConfig({ RATE_LIMIT_REDIS_URL: 'rediss://user:pw@cache.contoso.com:6380' }).rateLimit.redisUrl, 'rediss://user:pw@cache.contoso.com:6380')
  t.throws(() => loadConfig({ RATE_LIMIT_REDIS_URL: 'http://127.0.0.1:6379' }), /RATE_LIMIT_REDIS_URL: must be a redis/)
  t.throws(() => loadConfig({ RATE_LIMIT_REDIS_PREFIX: 'has space' }), /RATE_LIMIT_REDIS_PREFIX/)
})
