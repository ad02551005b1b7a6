import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { openSqlite } from '../src/db/sqlite.js'
import { classifyEvents } from '../src/domain/events.js'
import { SqliteFailureRepository } from '../src/repositories/sqlite.js'

// The reads a dashboard makes on every poll are built and prepared once: building drizzle's SQL
// and preparing it cost about half of a GET /batches/:id (profiled). After a first round, a
// second round of the same reads, for another batch and tenant, prepares no statement.
t.test('SQLite: the dashboard reads prepare no statement after their first use', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sfr-prepared-'))
  const { db, client } = openSqlite(join(dir, 'reads.db'))
  t.teardown(() => {
    client.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const repository = SqliteFailureRepository.on(db)
  const occurredAt = '2026-11-20T10:00:00.000Z'
  for (const [tenant, batch] of [['tenant-a', 'batch-a'], ['tenant-b', 'batch-b']]) {
    await repository.recordEvents(tenant, classifyEvents([
      { id: `${batch}-1`, batchId: batch, mailbox: 'alice@contoso.com', occurredAt, outcome: 'failed', failure: { message: 'Host1 failure: Error login on [imap.contoso.com] with user [alice] auth [LOGIN]: 2 NO [AUTHENTICATIONFAILED] Authentication failed.' } },
      { id: `${batch}-2`, batchId: batch, mailbox: 'bob@contoso.com', occurredAt, outcome: 'synced' }
    ]), Date.parse(occurredAt))
  }
  const reads = async (tenant: string, batch: string): Promise<unknown[]> => [
    await repository.findBatch(tenant, batch),
    await repository.countBatches(tenant, [batch]),
    await repository.oldestBlockingFailure(tenant, batch),
    await repository.listBatches(tenant, null, 50),
    await repository.listBatches(tenant, { createdAt: 0, batchId: '' }, 50),
    await repository.latestChangeSeq(tenant),
    await repository.findMailbox(tenant, batch, 'alice@contoso.com')
  ]
  const first = await reads('tenant-a', 'batch-a')
  const prepare = client.prepare.bind(client)
  const prepared: string[] = []
  client.prepare = ((source: string) => {
    prepared.push(source)
    return prepare(source)
  }) as typeof client.prepare
  const second = await reads('tenant-b', 'batch-b')
  client.prepare = prepare
  t.same(prepared, [], 'no statement prepared on the second round')
  // The prepared reads answer for the values they are given, not the first round's.
  t.equal((second[0] as { batchId: string }).batchId, 'batch-b')
  t.equal((first[0] as { batchId: string }).batchId, 'batch-a')
  t.equal((second[2] as { failure: { mailbox: string } }).failure.mailbox, 'alice@contoso.com')
  t.equal((second[1] as Map<string, { openFailures: number }>).get('batch-b')?.openFailures, 1)
  t.equal((second[3] as { items: unknown[] }).items.length, 1)
  t.equal((second[4] as { items: unknown[] }).items.length, 0, 'nothing lies after a position past the end')
  t.equal(second[5], 1, 'one change in tenant-b')
  t.equal(await repository.findBatch('tenant-a', 'batch-b'), null, 'another tenant\'s batch stays out of reach')
})
