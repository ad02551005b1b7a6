import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { openSqlite } from '../src/db/sqlite.js'

t.test('a SQLite file is opened in WAL mode with every commit fsynced before it is acknowledged', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sfr-settings-'))
  const { client } = openSqlite(join(dir, 'settings.db'))
  t.teardown(() => {
    client.close()
    rmSync(dir, { recursive: true, force: true })
  })
  t.equal(client.pragma('journal_mode', { simple: true }), 'wal')
  t.equal(client.pragma('synchronous', { simple: true }), 2, 'FULL: an OS crash loses nothing acknowledged')
  t.equal(client.pragma('wal_autocheckpoint', { simple: true }), 10000)
  t.equal(client.pragma('cache_size', { simple: true }), -16384)
  t.equal(client.pragma('busy_timeout', { simple: true }), 5000)
  t.equal(client.pragma('temp_store', { simple: true }), 2, 'MEMORY: savepoint journals stay off the disk')
})
