import t from 'tap'
import { classifyEvent, type EventInput } from '../src/domain/index.js'
import { EventConflictError, type RecordResult } from '../src/repositories/types.js'
import { failedEvent, freshRepository } from './helpers/app.js'

// Writes issued together: on SQLite they share one transaction (group commit), each in its own
// savepoint; on PostgreSQL they run side by side. Either way each call stands or falls alone.

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
