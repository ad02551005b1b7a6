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
    shutdownGraceMs: 10_000
  })
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
