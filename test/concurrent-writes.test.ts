import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { classifyEvent, type EventInput } from '../src/domain/index.js'
import { authenticateApiKey, issueApiKey } from '../src/repositories/api-keys.js'
import { EventConflictError, type RecordResult } from '../src/repositories/types.js'
import { failedEvent, freshRepository, freshStores, TEST_DATABASE_URL } from './helpers/app.js'

// Writes issued together: on SQLite they share one transaction (group commit; after a refusal
// the group runs again with each call in its own savepoint); on PostgreSQL they run side by
// side. Either way each call stands or falls alone.

const RECEIVED_AT = Date.parse('2026-11-24T12:00:00Z')

function event (overrides: Record<string, unknown> = {}) {
  return classifyEvent(failedEvent(overrides) as unknown as EventInput)
}

t.test('writes issued together each stand or fall alone, and a refused bulk leaves nothing behind', async (t) => {
  const repository = await freshRepository()
  t.teardown(async () => { await repository.close() })
  const first = event({ id: 'evt-taken', mailbox: 'taken@contoso.com' })
  await repository.recordEvents('default', [first], RECEIVED_AT)

  const singles = Array.from({ length: 20 }, (_, index) => event({ id: `evt-${index}`, mailbox: `user${index}@contoso.com` }))
  const conflicting = { ...event({ id: 'evt-taken', mailbox: 'taken@contoso.com' }), contentHash: 'other content' }
  const bulkNewcomer = event({ id: 'evt-bulk-new', mailbox: 'bulk@contoso.com' })
  // Issued in one tick, without awaiting in between: on SQLite they all join the same commit.
  const calls: Array<Promise<RecordResult>> = [
    ...singles.slice(0, 10).map(async (single) => await repository.recordEvents('default', [single], RECEIVED_AT)),
    repository.recordEvents('default', [conflicting], RECEIVED_AT),
    repository.recordEvents('default', [bulkNewcomer, conflicting], RECEIVED_AT),
    ...singles.slice(10).map(async (single) => await repository.recordEvents('default', [single], RECEIVED_AT))
  ]
  const settled = await Promise.allSettled(calls)

  const refused = settled.map((outcome, index) => ({ outcome, index })).filter(({ outcome }) => outcome.status === 'rejected')
  t.same(refused.map(({ index }) => index), [10, 11], 'only the two calls that reuse an id with other content are refused')
  for (const { outcome } of refused) {
    t.ok(outcome.status === 'rejected' && outcome.reason instanceof EventConflictError, 'refused as a conflict')
  }
  for (const outcome of settled) {
    if (outcome.status === 'fulfilled') t.equal(outcome.value.outcomes[0].duplicate, false, 'stored as new')
  }
  for (const single of singles) {
    t.not(await repository.findMailbox('default', 'batch-1', single.mailbox), null, `${single.mailbox} is stored`)
  }
  t.equal(await repository.findMailbox('default', 'batch-1', 'bulk@contoso.com'), null, 'the refused bulk stored no mailbox')
  t.same((await repository.listMailboxEvents('default', 'batch-1', 'bulk@contoso.com', null, 10)).items, [], 'nor any of its events')
  const counts = (await repository.countBatches('default', ['batch-1'])).get('batch-1')
  t.equal(counts?.mailboxesSeen, 21, 'the 20 new mailboxes and the first one, nothing else')
  const again = await repository.recordEvents('default', [bulkNewcomer], RECEIVED_AT)
  t.equal(again.outcomes[0].duplicate, false, 'its event id is still free')
})

t.test('a write to a closed store is refused, never left waiting', async (t) => {
  const repository = await freshRepository()
  await repository.close()
  await t.rejects(repository.recordEvents('default', [event()], RECEIVED_AT))
})

t.test('key lookups and key changes made while writes wait for their group commit', async (t) => {
  const { repository, apiKeys } = await freshStores()
  t.teardown(async () => { await repository.close() })
  const { secret, key } = await issueApiKey(apiKeys, { tenantId: 'default', scopes: ['events:write'], name: 'writer' }, RECEIVED_AT)
  // Queued in one tick; the key is read and revoked before the group commit runs.
  const writes = Array.from({ length: 10 }, async (_, index) =>
    await repository.recordEvents('default', [event({ id: `evt-k${index}`, mailbox: `k${index}@contoso.com` })], RECEIVED_AT))
  const found = await authenticateApiKey(apiKeys, secret)
  t.equal(found?.id, key.id, 'the key is found meanwhile')
  t.equal(await apiKeys.revoke(key.id, RECEIVED_AT + 1), true, 'and revoked')
  const results = await Promise.all(writes)
  t.same(results.map((result) => result.outcomes[0].duplicate), Array(10).fill(false), 'every write is stored')
  t.equal(await authenticateApiKey(apiKeys, secret), null, 'the revocation holds after the commit')
  t.equal((await repository.countBatches('default', ['batch-1'])).get('batch-1')?.mailboxesSeen, 10)
})

// On PostgreSQL the service would use the public schema, shared with other runs: every other
// test injects a schema of its own, and multi-instance.test.ts starts real processes.
t.test('the service opens its own store: on SQLite both stores share the file, keys and events alike', {
  skip: TEST_DATABASE_URL === undefined ? false : 'SQLite only: the service opened on a SQLite file'
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sfr-stores-'))
  const url = join(dir, 'service.db')
  const secret = 'sfr_' + 'q'.repeat(43)
  const app = await buildApp(loadConfig({ DATABASE_URL: url, BOOTSTRAP_ADMIN_KEY: secret, LOG_LEVEL: 'silent', MAX_EVENT_LOOP_DELAY: '0' }))
  t.teardown(async () => {
    await app.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const headers = { authorization: `Bearer ${secret}` }
  const posts = await Promise.all(Array.from({ length: 5 }, async (_, index) =>
    await app.inject({ method: 'POST', url: '/events', headers, payload: failedEvent({ id: `evt-s${index}`, mailbox: `s${index}@contoso.com` }) })))
  t.same(posts.map((response) => response.statusCode), [201, 201, 201, 201, 201])
  const created = await app.inject({ method: 'POST', url: '/admin/api-keys', headers, payload: { name: 'reader', scopes: ['reports:read'] } })
  t.equal(created.statusCode, 201)
  const reader = { authorization: `Bearer ${created.json<{ key: string }>().key}` }
  const report = await app.inject({ method: 'GET', url: '/batches/batch-1/errors', headers: reader })
  t.equal(report.statusCode, 200)
  t.equal(report.json<{ items: unknown[] }>().items.length, 5, 'the new key reads what the bootstrap key wrote')
})
