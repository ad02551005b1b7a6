import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import Database from 'better-sqlite3'
import { backupSqlite } from '../scripts/backup.js'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { openStores } from '../src/repositories/index.js'
import { issueApiKey } from '../src/repositories/api-keys.js'
import { failedEvent } from './helpers/app.js'

t.test('a backup taken during writes restores with every event acknowledged before it began, and only acknowledged ones', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'sfr-backup-'))
  t.teardown(() => { rmSync(directory, { recursive: true, force: true }) })
  const path = join(directory, 'live.db')
  const config = loadConfig({ DATABASE_URL: path, LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '1000000', MAX_EVENT_LOOP_DELAY: '0' })
  const stores = await openStores(config.database, { poolSize: 1 })
  const { secret } = await issueApiKey(stores.apiKeys, { tenantId: 'default', scopes: ['events:write'] }, Date.now())
  const app = await buildApp(config, { stores, logger: false, clock: () => Date.parse('2026-11-24T12:00:00Z') })
  t.teardown(async () => { await app.close() })

  const acknowledged: string[] = []
  const post = async (id: string): Promise<void> => {
    const response = await app.inject({ method: 'POST', url: '/events', headers: { authorization: `Bearer ${secret}` }, payload: failedEvent({ id, mailbox: `${id}@contoso.com` }) })
    if (response.statusCode === 201) acknowledged.push(id)
  }
  for (let i = 0; i < 300; i++) await post(`before-${i}`)
  const beforeBackup = [...acknowledged]

  // Writes go on while the backup copies.
  const state = { writing: true }
  const writer = (async () => {
    for (let i = 0; state.writing && i < 5000; i++) await post(`during-${i}`)
  })()
  const target = join(directory, 'backup.db')
  // The real command, in a process of its own as an operator runs it (tap's loader runs the TypeScript).
  const backup = spawn(process.execPath, [...process.execArgv, fileURLToPath(new URL('../scripts/backup.ts', import.meta.url)), target], {
    env: { ...process.env, DATABASE_URL: path }, stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  backup.stdout.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
  backup.stderr.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
  const [code] = await once(backup, 'exit') as [number]
  const duringBackup = acknowledged.length - beforeBackup.length
  state.writing = false
  await writer
  t.equal(code, 0, output)
  t.match(output, /backed up .* pages\)/)
  t.ok(duringBackup > 0, `${duringBackup} writes were acknowledged while the backup ran`)

  const restored = new Database(target, { readonly: true })
  t.teardown(() => { restored.close() })
  t.equal(restored.pragma('integrity_check', { simple: true }), 'ok')
  const ids = new Set((restored.prepare('select event_id as id from events').all() as Array<{ id: string }>).map((row) => row.id))
  t.same(beforeBackup.filter((id) => !ids.has(id)), [], 'every event acknowledged before the backup began is in it')
  t.same([...ids].filter((id) => !acknowledged.includes(id)), [], 'nothing that was not acknowledged')
  const failures = restored.prepare("select count(*) as n from failures where status = 'open'").get() as { n: number }
  t.equal(failures.n, ids.size, 'each event\'s failure came with it: one consistent state')
})

t.test('a backup never overwrites and needs an existing database', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'sfr-backup-'))
  t.teardown(() => { rmSync(directory, { recursive: true, force: true }) })
  await t.rejects(backupSqlite(join(directory, 'none.db'), join(directory, 'b.db')), /no SQLite database/)
  new Database(join(directory, 'a.db')).close()
  new Database(join(directory, 'b.db')).close()
  await t.rejects(backupSqlite(join(directory, 'a.db'), join(directory, 'b.db')), /exists already/)
})
