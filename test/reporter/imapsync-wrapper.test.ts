import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { AUTHORIZATION, ensureBuilt, PACKAGE_ROOT, startService } from '../helpers/service-process.js'

// A loaded CI machine must not turn the service's answers into 503s (load shedding is tested on its own).
process.env.MAX_EVENT_LOOP_DELAY = '0'

// End to end: `sfr-report imapsync` as installed (the package's bin), wrapping a stand-in that
// replays a recorded real imapsync log and its exit status, reporting to the real service process.

const BIN = join(PACKAGE_ROOT, JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).bin['sfr-report'] as string)
const STANDIN = join(PACKAGE_ROOT, 'test', 'fixtures', 'imapsync-standin.js')
const LOGS = join(PACKAGE_ROOT, 'test', 'fixtures', 'imapsync-logs')
const PASSWORD1 = 'Correct-Horse-Battery-1'
const PASSWORD2 = 'Correct-Horse-Battery-2'

interface Ended { status: number | null, signal: NodeJS.Signals | null, stdout: Buffer, stderr: string }

async function sfrReport (args: string[], env: Record<string, string>): Promise<Ended> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: PACKAGE_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), NODE_OPTIONS: '', IMAPSYNC: STANDIN, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const stdout: Buffer[] = []
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout.push(chunk) })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  return await new Promise((resolve) => {
    child.once('close', (status, signal) => { resolve({ status, signal, stdout: Buffer.concat(stdout), stderr }) })
  })
}

/** A local port nothing listens on (fetch refuses the well-known "bad" ports such as 9 outright). */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => { server.close(resolve) })
  return port
}

const imapsyncArgs = (user1: string, ...more: string[]): string[] => [
  '--host1', 'mail.contoso.local', '--user1', user1, '--password1', PASSWORD1,
  '--host2', 'outlook.office365.com', '--user2', 'alice@contoso.com', `--password2=${PASSWORD2}`, ...more
]

// The bin runs the compiled reporter.
ensureBuilt()

t.test('the wrapper passes imapsync through unchanged and reports its run to the service', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sfr-wrapper-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const service = await startService(join(dir, 'reports.db'))
  t.teardown(() => { service.child.kill('SIGKILL') })
  const created = await fetch(`${service.baseUrl}/admin/api-keys`, {
    method: 'POST',
    headers: { ...AUTHORIZATION, 'content-type': 'application/json' },
    body: JSON.stringify({ scopes: ['events:write'], name: 'imapsync on migrate-01' })
  })
  const { key } = await created.json() as { key: string }
  const spoolDir = join(dir, 'spool')
  const env = { SFR_URL: service.baseUrl, SFR_API_KEY: key, SFR_SPOOL_DIR: spoolDir }
  const mailbox = async (address: string): Promise<{ eventCount: number, events: Array<Record<string, unknown>> }> => {
    const response = await fetch(`${service.baseUrl}/batches/e2e/mailboxes/${address}`, { headers: AUTHORIZATION })
    t.equal(response.status, 200)
    return await response.json() as { eventCount: number, events: Array<Record<string, unknown>> }
  }

  const failed = await sfrReport(['imapsync', '--batch', 'e2e', '--mailbox', 'alice@contoso.com', '--', ...imapsyncArgs('onprem-alice')],
    { ...env, IMAPSYNC_STANDIN_LOG: join(LOGS, 'badpass1.log') })
  t.equal(failed.status, 161, 'imapsync\'s exit status comes back')
  t.ok(failed.stdout.equals(readFileSync(join(LOGS, 'badpass1.log'))), 'stdout is imapsync\'s, byte for byte')
  t.equal(failed.stderr, 'stand-in imapsync: 11 arguments\nsfr-report: sent 1 event (1 new, 0 already known)\n')
  const alice = await mailbox('alice@contoso.com')
  t.equal(alice.eventCount, 1)
  t.match(alice.events[0], {
    outcome: 'failed',
    code: '161',
    category: 'source_sign_in_failed',
    message: 'Host1 failure: Error login on [127.0.0.1] with user [onprem-alice] auth [LOGIN]: 2 NO [AUTHENTICATIONFAILED] Authentication failed.',
    occurredAt: '2026-11-23T23:46:02.000Z',
    context: { engine: 'imapsync', migrationType: 'imap', server: 'mail.contoso.local', credentialMode: 'user' }
  })
  t.same(readdirSync(spoolDir).filter((name) => name.endsWith('.json')), [], 'delivered: the spool is empty')

  // The service unreachable: imapsync's status still comes back, the event waits, without passwords.
  const offline = await sfrReport(['imapsync', '--batch', 'e2e', '--mailbox', 'alice@contoso.com', '--', ...imapsyncArgs('onprem-alice')],
    { ...env, SFR_URL: `http://127.0.0.1:${await closedPort()}`, IMAPSYNC_STANDIN_LOG: join(LOGS, 'badpass1.log') })
  t.equal(offline.status, 161)
  t.match(offline.stderr, /sfr-report: the service is unreachable \(ECONNREFUSED\): 1 event waits in .*spool; "sfr-report flush" or the next run sends them\n$/)
  const waiting = readdirSync(spoolDir).filter((name) => name.endsWith('.json'))
  t.equal(waiting.length, 1)
  const spooledText = readFileSync(join(spoolDir, waiting[0]), 'utf8')
  t.match(spooledText, /"code":"161"/)

  // An admin (proxy) login with the mailbox from --user1, and a clean run: exit 0, synced; the waiting event goes along.
  const synced = await sfrReport(['imapsync', '--batch', 'e2e', '--', ...imapsyncArgs('bob@contoso.com', '--authuser1', 'migration-admin')],
    { ...env, IMAPSYNC_STANDIN_LOG: join(LOGS, 'ok.log') })
  t.equal(synced.status, 0)
  t.ok(synced.stdout.equals(readFileSync(join(LOGS, 'ok.log'))))
  t.equal(synced.stderr, 'stand-in imapsync: 13 arguments\nsfr-report: sent 2 events (1 new, 1 already known)\n',
    'the replayed run is the same run (same PID and start): a duplicate')
  t.match((await mailbox('bob@contoso.com')).events, [{ outcome: 'synced', occurredAt: '2026-11-23T23:46:01.000Z' }])
  t.equal((await mailbox('alice@contoso.com')).eventCount, 1)

  // Ended by a signal: reported as such, and the wrapper ends by the same signal.
  const killed = await sfrReport(['imapsync', '--batch', 'e2e', '--', ...imapsyncArgs('carol@contoso.com', '--authuser1', 'migration-admin')],
    { ...env, IMAPSYNC_STANDIN_LOG: join(LOGS, 'quota2.log'), IMAPSYNC_STANDIN_SIGNAL: 'SIGTERM' })
  t.equal(killed.signal, 'SIGTERM')
  t.match((await mailbox('carol@contoso.com')).events, [{ outcome: 'failed', code: 'SIGTERM', message: 'imapsync was ended by SIGTERM', context: { credentialMode: 'admin' } }])

  // Passwords reached neither the service, the spool, nor anything printed.
  const everything = [failed.stderr, offline.stderr, synced.stderr, killed.stderr, spooledText,
    JSON.stringify(await mailbox('alice@contoso.com')), JSON.stringify(await mailbox('bob@contoso.com')), JSON.stringify(await mailbox('carol@contoso.com'))].join('\n')
  t.notOk(everything.includes(PASSWORD1) || everything.includes(PASSWORD2), 'no password anywhere')
})

t.test('a missing imapsync is a clear usage error, before anything is reported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sfr-wrapper-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const run = await sfrReport(['imapsync', '--batch', 'b', '--mailbox', 'a@contoso.com', '--', '--host1', 'h'], {
    SFR_URL: 'http://127.0.0.1:9', SFR_API_KEY: 'sfr_' + 'k'.repeat(43), SFR_SPOOL_DIR: join(dir, 'spool'), IMAPSYNC: join(dir, 'no-such-imapsync')
  })
  t.equal(run.status, 2)
  t.equal(run.stderr, `sfr-report: cannot run imapsync: "${join(dir, 'no-such-imapsync')}" was not found (install imapsync, or set IMAPSYNC to its path)\n`)
  t.same(readdirSync(dir), [])
})
