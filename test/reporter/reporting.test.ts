import t, { type Test } from 'tap'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { DEFAULT_TENANT } from '../../src/app.js'
import { issueApiKey } from '../../src/repositories/api-keys.js'
import { runReporter } from '../../src/reporter/cli.js'
import { Spool } from '../../src/reporter/spool.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { PACKAGE_ROOT } from '../helpers/service-process.js'

// The reporter, in process, against the real app listening on a port: every source's events get the
// category the service gives them, refusals and usage errors end with the documented exit status.

const LOGS = join(PACKAGE_ROOT, 'test', 'fixtures', 'imapsync-logs')
const EXPORTS = join(PACKAGE_ROOT, 'test', 'fixtures', 'exchange')

class Collected extends Writable {
  text = ''
  override _write (chunk: Buffer, _encoding: string, done: () => void): void { this.text += chunk.toString(); done() }
}

interface Reporter {
  ctx: TestApp
  env: Record<string, string>
  spoolDir: string
  run: (argv: string[], env?: Record<string, string>) => Promise<{ status: number, stdout: string, stderr: string }>
  mailbox: (batchId: string, mailbox: string) => Promise<{ eventCount: number, events: Array<Record<string, unknown>> }>
}

async function reporter (t: Test): Promise<Reporter> {
  const ctx = await buildTestApp(t)
  await ctx.app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = ctx.app.server.address() as AddressInfo
  // An engine's key: events:write only.
  const { secret } = await issueApiKey(ctx.apiKeys, { tenantId: DEFAULT_TENANT, scopes: ['events:write'], name: 'engine' }, ctx.clock.now)
  const spoolDir = mkdtempSync(join(tmpdir(), 'sfr-spool-'))
  t.teardown(() => { rmSync(spoolDir, { recursive: true, force: true }) })
  const env = { SFR_URL: `http://127.0.0.1:${port}`, SFR_API_KEY: secret, SFR_SPOOL_DIR: spoolDir }
  return {
    ctx,
    env,
    spoolDir,
    run: async (argv, extra = {}) => {
      const stdout = new Collected()
      const stderr = new Collected()
      const { status } = await runReporter(argv, { env: { ...env, ...extra }, stdout, stderr })
      return { status, stdout: stdout.text, stderr: stderr.text }
    },
    mailbox: async (batchId, mailbox) => {
      const response = await ctx.inject({ method: 'GET', url: `/batches/${batchId}/mailboxes/${mailbox}` })
      t.equal(response.statusCode, 200, `${mailbox} is known in ${batchId}`)
      return response.json()
    }
  }
}

function spooled (dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.json'))
}

const CORPUS = [
  { file: 'badpass1.log', mailbox: 'bad.pass@contoso.com', event: { outcome: 'failed', code: '161', category: 'source_sign_in_failed' } },
  { file: 'noconn1.log', mailbox: 'no.conn@contoso.com', event: { outcome: 'failed', code: '101', category: 'source_unreachable' } },
  { file: 'quota2.log', mailbox: 'over.quota@contoso.com', event: { outcome: 'failed', code: '113', category: 'cloud_mailbox_full' } },
  { file: 'ok.log', mailbox: 'all.good@contoso.com', event: { outcome: 'synced', code: null, category: null, message: null } }
]

t.test('every corpus log becomes one event with the right category; reading them again is a duplicate', async (t) => {
  const r = await reporter(t)
  for (const { file, mailbox, event } of CORPUS) {
    const run = await r.run(['imapsync-log', '--batch', 'corpus', '--mailbox', mailbox, join(LOGS, file)])
    t.same(run, { status: 0, stdout: '', stderr: 'sfr-report: sent 1 event (1 new, 0 already known)\n' }, file)
    const { eventCount, events } = await r.mailbox('corpus', mailbox)
    t.equal(eventCount, 1)
    t.match(events[0], { ...event, ...(event.outcome === 'failed' ? { context: { engine: 'imapsync', migrationType: 'imap', server: '127.0.0.1', credentialMode: 'user' } } : {}) }, file)
  }
  const again = await r.run(['imapsync-log', '--batch', 'corpus', '--mailbox', 'bad.pass@contoso.com', join(LOGS, 'badpass1.log'), join(LOGS, 'badpass1.log')])
  t.same(again, { status: 0, stdout: '', stderr: 'sfr-report: sent 1 event (0 new, 1 already known)\n' }, 'the same log twice, again: one duplicate')
  t.equal((await r.mailbox('corpus', 'bad.pass@contoso.com')).eventCount, 1)
  t.same(spooled(r.spoolDir), [], 'nothing is left in the spool')
})

t.test('a log of a run still going is skipped and said so', async (t) => {
  const r = await reporter(t)
  const dir = mkdtempSync(join(tmpdir(), 'sfr-log-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const { writeFileSync } = await import('node:fs')
  writeFileSync(join(dir, 'running.txt'), readFileSync(join(LOGS, 'quota2.log'), 'utf8').split('\n').slice(0, 100).join('\n'))
  const run = await r.run(['imapsync-log', '--batch', 'b', '--mailbox', 'a@contoso.com', join(dir, 'running.txt')])
  t.same(run, { status: 0, stdout: '', stderr: `sfr-report: ${join(dir, 'running.txt')}: skipped, the run has not ended (no "Exiting with return value" line)\nsfr-report: nothing to send\n` })
})

// Category per user of the fixture export; the stalled StatusDetail may honestly be read three ways (see the corpus).
const EXCHANGE_CATEGORIES: Array<[string, string, string[]]> = [
  ['IMAP-Wave2', 'jane.doe@contoso.com', ['source_sign_in_failed']],
  ['Move-users-DAG1-1', 'uwe.egly@tuwien.ac.at', ['source_unreachable']],
  ['Hybrid-Wave-1-Sales', 'maria.garcia@contoso.com', ['throttled', 'server_busy', 'sync_stalled']]
]

t.test('an Exchange export gives each user its event and category; the same users in CSV are all duplicates', async (t) => {
  const r = await reporter(t)
  const run = await r.run(['exchange', '--time-zone', 'Europe/Vienna', '--exported-at', '2023-08-30T10:00:00Z', join(EXPORTS, 'ps7.json')])
  t.same(run, {
    status: 0,
    stdout: '',
    stderr: `sfr-report: ${join(EXPORTS, 'ps7.json')}: 6 users: 3 failed, 2 synced, 1 with skipped items; not reported (neither failed nor synced): Queued 1\n` +
      'sfr-report: sent 6 events (6 new, 0 already known)\n'
  })
  for (const [batchId, mailbox, categories] of EXCHANGE_CATEGORIES) {
    const { events } = await r.mailbox(batchId, mailbox)
    t.equal(events.length, 1)
    t.ok(categories.includes(events[0].category as string), `${mailbox}: ${String(events[0].category)} is one of ${categories.join(', ')}`)
    t.match(events[0], { outcome: 'failed', context: { engine: 'exchange' } })
  }
  const john = await r.mailbox('Hybrid-Wave1', 'john.roe@contoso.com')
  t.match(john.events, [{ outcome: 'failed', category: 'items_skipped', message: '22 items skipped; DataConsistencyScore Good' }, { outcome: 'synced', occurredAt: '2023-08-29T12:14:05.000Z' }])
  t.match(await r.mailbox('Hybrid-Wave1', 'ana.silva@contoso.com'), { eventCount: 1, events: [{ outcome: 'synced', occurredAt: '2023-08-28T21:30:00.000Z' }] })
  t.equal((await r.ctx.inject({ method: 'GET', url: '/batches/Hybrid-Wave1/mailboxes/li.wei@contoso.com' })).statusCode, 404, 'a queued user is not reported')

  const csv = await r.run(['exchange', '--time-zone', 'Europe/Vienna', '--exported-at', '2023-08-30T10:00:00Z', join(EXPORTS, 'de-at.csv')])
  t.equal(csv.status, 0)
  t.match(csv.stderr, /sent 6 events \(0 new, 6 already known\)/)
})

t.test('the service refusing one event sets it aside and sends the rest (exit 3)', async (t) => {
  const r = await reporter(t)
  const records = JSON.parse(readFileSync(join(EXPORTS, 'ps7.json'), 'utf8')) as Array<Record<string, unknown>>
  // An address the reporter takes but the service's stricter check does not.
  records[1].Identity = 'john.roé@contoso.com'
  const dir = mkdtempSync(join(tmpdir(), 'sfr-export-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const { writeFileSync } = await import('node:fs')
  writeFileSync(join(dir, 'future.json'), JSON.stringify(records))
  const run = await r.run(['exchange', '--time-zone', 'UTC', '--exported-at', '2023-08-30T10:00:00Z', join(dir, 'future.json')])
  t.equal(run.status, 3)
  t.match(run.stderr, /sent 4 events \(4 new, 0 already known\)\nsfr-report: the service refused event exo-[0-9a-f]{32}: \/mailbox .*; set aside in .*rejected.*\n.*the service refused event exo-[0-9a-f]{32}: \/mailbox/s)
  t.same(spooled(r.spoolDir), [], 'nothing waits')
  const rejected = readdirSync(join(r.spoolDir, 'rejected'))
  t.equal(rejected.length, 2, 'john\'s synced event and his skipped items')
  t.match(JSON.parse(readFileSync(join(r.spoolDir, 'rejected', rejected[0]), 'utf8')), { event: { mailbox: 'john.roé@contoso.com' }, problem: { status: 400 } })
  t.equal((await r.mailbox('IMAP-Wave2', 'jane.doe@contoso.com')).eventCount, 1, 'the others are stored')
})

t.test('an id already stored with other content is set aside, not retried forever', async (t) => {
  const r = await reporter(t)
  t.equal((await r.run(['imapsync-log', '--batch', 'b', '--mailbox', 'a@contoso.com', join(LOGS, 'badpass1.log')])).status, 0)
  const { events } = await r.mailbox('b', 'a@contoso.com')
  new Spool(r.spoolDir).add([{
    id: events[0].id as string, batchId: 'b', mailbox: 'a@contoso.com', occurredAt: '2026-11-23T23:46:02Z', outcome: 'failed', failure: { message: 'other' }
  }])
  const run = await r.run(['flush'])
  t.equal(run.status, 3)
  t.match(run.stderr, `the service refused event ${events[0].id as string}: /id was already recorded with different content; set aside in`)
  t.same(spooled(r.spoolDir), [])
  t.equal((await r.run(['flush'])).status, 0, 'the next run is not stuck on it')
})

t.test('a refused key keeps the events spooled (exit 3) until a flush with the right key', async (t) => {
  const r = await reporter(t)
  const wrongKey = 'sfr_' + 'w'.repeat(43)
  const run = await r.run(['imapsync-log', '--batch', 'b', '--mailbox', 'a@contoso.com', join(LOGS, 'noconn1.log')], { SFR_API_KEY: wrongKey })
  t.equal(run.status, 3)
  t.match(run.stderr, /^sfr-report: the service refused the request \(401 .*\): 1 event waits in .*; fix the URL or API key, then run "sfr-report flush"\n$/)
  t.notOk(run.stderr.includes(wrongKey), 'the key is never printed')
  t.equal(spooled(r.spoolDir).length, 1)
  t.same(await r.run(['flush']), { status: 0, stdout: '', stderr: 'sfr-report: sent 1 event (1 new, 0 already known)\n' })
  t.same(spooled(r.spoolDir), [])
  t.same(await r.run(['flush']), { status: 0, stdout: '', stderr: 'sfr-report: nothing to send\n' })
})

t.test('the wrapper in process: imapsync\'s output through, its status back, its run reported', async (t) => {
  const r = await reporter(t)
  const log = readFileSync(join(LOGS, 'quota2.log'), 'utf8')
  const run = await r.run(['imapsync', '--batch', 'w', '--', '--host1', 'imap.contoso.com', '--user1', 'Dana@Contoso.com', '--password1', 'pw-secret-1'], {
    PATH: process.env.PATH ?? '',
    IMAPSYNC: join(PACKAGE_ROOT, 'test', 'fixtures', 'imapsync-standin.js'),
    IMAPSYNC_STANDIN_LOG: join(LOGS, 'quota2.log')
  })
  t.same(run, { status: 113, stdout: log, stderr: 'stand-in imapsync: 6 arguments\nsfr-report: sent 1 event (1 new, 0 already known)\n' })
  t.match((await r.mailbox('w', 'dana@contoso.com')).events, [{
    outcome: 'failed', code: '113', category: 'cloud_mailbox_full', context: { server: 'imap.contoso.com', credentialMode: 'user' }
  }])
})

t.test('more events than one bulk holds go in several bulks', async (t) => {
  const r = await reporter(t)
  const events = Array.from({ length: 2345 }, (_, index) => ({
    id: `bulk-${index}`, batchId: 'big', mailbox: `user${index}@contoso.com`, occurredAt: '2026-11-23T10:00:00Z', outcome: 'synced' as const
  }))
  new Spool(r.spoolDir).add(events.slice(0, 1200))
  new Spool(r.spoolDir).add(events.slice(1200))
  t.same(await r.run(['flush']), { status: 0, stdout: '', stderr: 'sfr-report: sent 2345 events (2345 new, 0 already known)\n' })
  t.same(spooled(r.spoolDir), [])
  t.equal((await r.mailbox('big', 'user2344@contoso.com')).eventCount, 1)
})

t.test('usage errors exit 2, say what is wrong, and send nothing', async (t) => {
  const r = await reporter(t)
  const secretLookingKey = 'not-a-key-but-secret'
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [[], {}, /^sfr-report: no command given\n\nusage: sfr-report <command>/],
    [['frobnicate'], {}, /^sfr-report: unknown command "frobnicate"/],
    [['flush'], { SFR_URL: '' }, /the service URL is missing: set SFR_URL or give --url/],
    [['flush', '--url', 'ftp://x'], {}, /SFR_URL \/ --url "ftp:\/\/x" is not an http:\/\/ or https:\/\/ URL/],
    [['flush'], { SFR_API_KEY: secretLookingKey }, /SFR_API_KEY \/ --api-key is not an API key/],
    [['flush', 'extra'], {}, /flush takes no arguments/],
    [['flush', '--bogus'], {}, /Unknown option '--bogus'/],
    [['imapsync-log', join(LOGS, 'ok.log')], {}, /--batch ID is required/],
    [['imapsync-log', '--batch', 'has space', join(LOGS, 'ok.log')], {}, /--batch "has space" is not 1-128 of A-Za-z0-9._:-/],
    [['imapsync-log', '--batch', 'b'], {}, /no log FILE given/],
    [['imapsync-log', '--batch', 'b', join(LOGS, 'ok.log')], {}, /--user1 "onprem-alice" is not an e-mail address; give the migrated mailbox with --mailbox ADDR/],
    [['imapsync-log', '--batch', 'b', '--mailbox', 'a@contoso.com', '/nonexistent/log.txt'], {}, /cannot read \/nonexistent\/log\.txt: ENOENT/],
    [['exchange', join(EXPORTS, 'fr-fr.csv')], {}, /fr-fr\.csv: record 2 \(john\.roe@contoso\.com\): "29\/08\/2023 14:14:05" is not a date form .* --date-format.*\n.*fr-fr\.csv: record 3 /],
    [['exchange', '--time-zone', 'Nowhere/Land', join(EXPORTS, 'ps7.json')], {}, /--time-zone "Nowhere\/Land" is not a time zone/],
    [['exchange', '--exported-at', 'yesterday', join(EXPORTS, 'ps7.json')], {}, /--exported-at "yesterday" is not an RFC 3339 time/],
    [['exchange'], {}, /no export FILE given/],
    [['exchange', '/nonexistent.json'], {}, /cannot read \/nonexistent\.json: ENOENT/],
    [['imapsync', '--batch', 'b', '--', '--user1', 'alice'], {}, /imapsync arguments: --user1 "alice" is not an e-mail address/],
    [['imapsync', '--batch', 'b', '--user1', 'alice'], {}, /Unknown option '--user1'/],
    [['imapsync', '--batch', 'b'], {}, /put imapsync's arguments after "--"/]
  ]
  for (const [argv, env, message] of cases) {
    const run = await r.run(argv, env)
    t.equal(run.status, 2, argv.join(' '))
    t.match(run.stderr, message, argv.join(' '))
    t.notOk(run.stderr.includes(secretLookingKey))
  }
  t.same(readdirSync(r.spoolDir), [], 'nothing was spooled')
})

t.test('--help on every command prints its usage and exits 0', async (t) => {
  const r = await reporter(t)
  for (const argv of [['--help'], ['help'], ['imapsync', '--help'], ['imapsync-log', '-h'], ['exchange', '--help'], ['flush', '--help']]) {
    const run = await r.run(argv, { SFR_URL: '', SFR_API_KEY: '' })
    t.equal(run.status, 0)
    t.match(run.stdout, new RegExp(`^usage: sfr-report ${argv[0].startsWith('-') || argv[0] === 'help' ? '<command>' : argv[0]}`))
    t.match(run.stdout, /Exit status: 0 sent .* 2 usage .*\n3 the service refused .*\n4 the service is unreachable/s)
    t.equal(run.stderr, '')
  }
})
