import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { AUTOCHECKPOINT_PAGES, BACKSTOP_PAGES, WalCheckpointer, type CheckpointResult } from '../src/db/checkpointer.js'
import { openSqlite } from '../src/db/sqlite.js'
import { classifyEvents } from '../src/domain/events.js'
import { SqliteFailureRepository } from '../src/repositories/sqlite.js'

// The WAL is checkpointed by a thread of its own (src/db/checkpointer.ts): the service's
// connection then leaves it alone unless the WAL grows past a backstop, and takes it back when
// the thread stops.

const occurredAt = '2026-11-20T10:00:00.000Z'
const events = (from: number, count: number) => classifyEvents(Array.from({ length: count }, (_, index) => ({
  id: `evt-${from + index}`,
  batchId: 'batch-1',
  mailbox: `user${from + index}@contoso.com`,
  occurredAt,
  outcome: 'failed' as const,
  failure: { message: `Host1 failure: Error login on [imap.contoso.com] with user [user${from + index}] auth [LOGIN]: 2 NO [AUTHENTICATIONFAILED] Authentication failed.` }
})))

t.test('SQLite: a thread of its own checkpoints the WAL, and the service connection takes over when it stops', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sfr-checkpoint-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const file = join(dir, 'service.db')
  const { db, client } = openSqlite(file)
  t.equal(client.pragma('wal_autocheckpoint', { simple: true }), AUTOCHECKPOINT_PAGES, 'before: the connection checkpoints itself')
  const repository = SqliteFailureRepository.on(db)
  const results: CheckpointResult[] = []
  const errors: unknown[] = []
  repository.checkpointInBackground((error) => { errors.push(error) }, (result) => { results.push(result) })
  t.equal(client.pragma('wal_autocheckpoint', { simple: true }), BACKSTOP_PAGES, 'while it runs: only past the backstop')
  for (let from = 0; from < 3000; from += 500) await repository.recordEvents('default', events(from, 500), Date.parse(occurredAt))
  // Wait for a pass that found the writes in the WAL and copied all of it back.
  const deadline = Date.now() + 10_000
  while (!results.some((result) => result.log > 0 && result.checkpointed === result.log) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.ok(results.some((result) => result.log > 0 && result.checkpointed === result.log), `the thread copied the WAL back: ${JSON.stringify(results.slice(-3))}`)
  t.same(errors, [])
  // The next write starts the WAL again from its beginning: it does not grow without end.
  await repository.recordEvents('default', events(3000, 10), Date.parse(occurredAt))
  const walFrames = (client.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>)[0].log
  t.ok(walFrames < 200, `the WAL restarted after the thread's checkpoint (${walFrames} frames)`)
  await repository.close()
  const reopened = openSqlite(file)
  t.teardown(() => { reopened.client.close() })
  t.equal(reopened.client.prepare('select count(*) from events').pluck().get(), 3010, 'every event is in the database')
  t.equal(reopened.client.pragma('integrity_check', { simple: true }), 'ok')
})

t.test('SQLite: the stop of the thread gives checkpoints back to the connection; memory databases get no thread', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sfr-checkpoint-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const { client } = openSqlite(join(dir, 'service.db'))
  t.teardown(() => { client.close() })
  const checkpointer = WalCheckpointer.start(client, { intervalMs: 20, onError: (error) => { t.fail(String(error)) } })
  t.equal(client.pragma('wal_autocheckpoint', { simple: true }), BACKSTOP_PAGES)
  await checkpointer.stop()
  t.equal(client.pragma('wal_autocheckpoint', { simple: true }), AUTOCHECKPOINT_PAGES, 'stopped: the connection checkpoints itself again')

  const memory = openSqlite(':memory:')
  const inMemory = SqliteFailureRepository.on(memory.db)
  inMemory.checkpointInBackground((error) => { t.fail(String(error)) })
  t.not(memory.client.pragma('wal_autocheckpoint', { simple: true }), BACKSTOP_PAGES, 'no thread for a database in memory')
  await inMemory.close()
})
