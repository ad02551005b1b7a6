import t from 'tap'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { runReporter } from '../../src/reporter/cli.js'
import { AUTHORIZATION, ensureBuilt, PACKAGE_ROOT, startService, type ServiceProcess } from '../helpers/service-process.js'

// A loaded CI machine must not turn the service's answers into 503s (load shedding is tested on its own).
process.env.MAX_EVENT_LOOP_DELAY = '0'

// Nothing is lost, nothing is counted twice: runs while the real service is stopped wait in the
// spool (exit 4); once it runs again, a flush delivers each event exactly once.

const LOGS = join(PACKAGE_ROOT, 'test', 'fixtures', 'imapsync-logs')
const EXPORTS = join(PACKAGE_ROOT, 'test', 'fixtures', 'exchange')

class Collected extends Writable {
  text = ''
  override _write (chunk: Buffer, _encoding: string, done: () => void): void { this.text += chunk.toString(); done() }
}

async function stop (service: ServiceProcess): Promise<void> {
  service.child.kill('SIGTERM')
  await service.exited
}

interface ReportItem { mailbox: string, category: string, occurrences: number }

t.test('events reported while the service is down are sent once it is back, each exactly once', async (t) => {
  ensureBuilt()
  const dir = mkdtempSync(join(tmpdir(), 'sfr-outage-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const databasePath = join(dir, 'reports.db')
  const spoolDir = join(dir, 'spool')
  let service = await startService(databasePath)
  t.teardown(() => { service.child.kill('SIGKILL') })
  const deadUrl = service.baseUrl
  await stop(service)

  const run = async (argv: string[], url: string): Promise<{ status: number, stderr: string }> => {
    const stderr = new Collected()
    const { status } = await runReporter(argv, {
      env: { SFR_URL: url, SFR_API_KEY: AUTHORIZATION.authorization.slice('Bearer '.length), SFR_SPOOL_DIR: spoolDir },
      stdout: new Collected(),
      stderr
    })
    return { status, stderr: stderr.text }
  }
  const exportRun = ['exchange', '--time-zone', 'Europe/Vienna', '--exported-at', '2023-08-30T10:00:00Z', join(EXPORTS, 'ps7.json')]
  const logRun = ['imapsync-log', '--batch', 'outage', '--mailbox', 'alice@contoso.com', join(LOGS, 'quota2.log'), join(LOGS, 'badpass1.log')]

  const first = await run(exportRun, deadUrl)
  t.equal(first.status, 4)
  t.match(first.stderr, /the service is unreachable \(ECONNREFUSED\): 6 events wait in .*spool; "sfr-report flush" or the next run sends them/)
  t.match((await run(logRun, deadUrl)).stderr, /8 events wait/)
  // The same export read again while the service is still down: spooled again, sent once.
  t.match((await run(exportRun, deadUrl)), { status: 4, stderr: /14 events wait/ })
  t.equal(readdirSync(spoolDir).filter((name) => name.endsWith('.json')).length, 3, 'one spool file per run')

  service = await startService(databasePath)
  const flushed = await run(['flush'], service.baseUrl)
  t.same(flushed, { status: 0, stderr: 'sfr-report: sent 8 events (8 new, 0 already known)\n' })
  t.same(readdirSync(spoolDir).filter((name) => name.endsWith('.json')), [], 'the spool is empty')

  const report = async (batchId: string): Promise<ReportItem[]> => {
    const response = await fetch(`${service.baseUrl}/batches/${batchId}/errors?status=all`, { headers: AUTHORIZATION })
    t.equal(response.status, 200)
    return (await response.json() as { items: ReportItem[] }).items
  }
  t.same((await report('outage')).map((item) => [item.category, item.occurrences]).sort(), [['cloud_mailbox_full', 1], ['source_sign_in_failed', 1]])
  t.same((await report('IMAP-Wave2')).map((item) => [item.mailbox, item.occurrences]), [['jane.doe@contoso.com', 1]])
  // (Their 2023 syncs are long past: the service also counts those mailboxes as stalled.)
  t.same((await report('Hybrid-Wave1')).filter((item) => item.category !== 'sync_stalled').map((item) => [item.mailbox, item.category, item.occurrences]),
    [['john.roe@contoso.com', 'items_skipped', 1]])

  // Later runs of the same inputs are duplicates.
  t.same(await run(exportRun, service.baseUrl), {
    status: 0,
    stderr: `sfr-report: ${join(EXPORTS, 'ps7.json')}: 6 users: 3 failed, 2 synced, 1 with skipped items; not reported (neither failed nor synced): Queued 1\n` +
      'sfr-report: sent 6 events (0 new, 6 already known)\n'
  })
  t.same((await report('IMAP-Wave2')).map((item) => item.occurrences), [1])
  await stop(service)
})
