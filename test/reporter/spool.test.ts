import t, { type Test } from 'tap'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultSpoolDir, Spool } from '../../src/reporter/spool.js'

const EVENT = { id: 'e-1', batchId: 'b', mailbox: 'a@contoso.com', occurredAt: '2026-11-23T10:00:00Z', outcome: 'synced' as const }

function spoolDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'sfr-spool-unit-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return join(dir, 'spool')
}

t.test('the default spool is in the user\'s state directory', async (t) => {
  t.equal(defaultSpoolDir({}, 'linux'), join(homedir(), '.local', 'state', 'sfr-report', 'spool'))
  t.equal(defaultSpoolDir({ XDG_STATE_HOME: '/var/state' }, 'linux'), join('/var/state', 'sfr-report', 'spool'))
  t.equal(defaultSpoolDir({ XDG_STATE_HOME: 'relative' }, 'linux'), join(homedir(), '.local', 'state', 'sfr-report', 'spool'), 'XDG: a relative path is ignored')
  t.equal(defaultSpoolDir({}, 'darwin'), join(homedir(), 'Library', 'Application Support', 'sfr-report', 'spool'))
  t.equal(defaultSpoolDir({ LOCALAPPDATA: 'C:\\Users\\a\\AppData\\Local' }, 'win32'), join('C:\\Users\\a\\AppData\\Local', 'sfr-report', 'spool'))
})

t.test('runs are spooled in order, each as one complete file readable only by its owner', async (t) => {
  const spool = new Spool(spoolDir(t))
  const second = spool.add([{ ...EVENT, id: 'e-2' }], 2000)
  const first = spool.add([EVENT], 1000)
  t.same(spool.pending().map((file) => [file.name, file.events.map((event) => event.id)]), [[first, ['e-1']], [second, ['e-2']]])
  t.same(readdirSync(spool.dir).sort(), [first, second].sort(), 'no temporary file is left behind')
  spool.replace(second, [])
  spool.remove(first)
  spool.remove(first)
  t.same(spool.pending(), [])
})

t.test('a spool that does not exist yet has nothing waiting', async (t) => {
  t.same(new Spool(join(spoolDir(t), 'never')).pending(), [])
})

t.test('files that are not finished spool files are left alone; an unreadable one is set aside', async (t) => {
  const spool = new Spool(spoolDir(t))
  spool.add([EVENT], 1000)
  writeFileSync(join(spool.dir, '.0000000002000-00000000000000ff.json.1234.tmp'), '{"events": [')
  writeFileSync(join(spool.dir, '0000000003000-00000000000000ff.json'), '{"events": [')
  t.same(spool.pending().map((file) => file.events.length), [1])
  t.same(readdirSync(spool.rejectedDir), ['0000000003000-00000000000000ff.json.unreadable'])
  const path = spool.reject(EVENT, { status: 400 })
  t.same(JSON.parse(readFileSync(path, 'utf8')), { event: EVENT, problem: { status: 400 } })
})
