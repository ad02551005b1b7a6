import t, { type Test } from 'tap'
import { classifyEvent, type EventInput } from '../src/domain/index.js'
import { StallSweep } from '../src/services/stall-sweep.js'
import type { PostgresFailureRepository } from '../src/repositories/postgres.js'
import { TEST_DATABASE_URL, createTestSchema } from './helpers/app.js'

// PostgreSQL at a size where per-mailbox locks used to run out: its shared lock table holds
// about 6,400 entries by default, and each mailbox a transaction wrote or stalled took one.

const SKIP = TEST_DATABASE_URL === undefined ? 'PostgreSQL only (set TEST_DATABASE_URL)' : false
const RECEIVED_AT = Date.parse('2026-11-24T12:00:00Z')

async function repositoryFor (t: Test, poolSize: number): Promise<PostgresFailureRepository> {
  const url = TEST_DATABASE_URL as string
  const schema = await createTestSchema(url)
  const { PostgresFailureRepository } = await import('../src/repositories/postgres.js')
  const repository = await PostgresFailureRepository.open({ url, poolSize, schema: schema.name })
  t.teardown(async () => {
    await repository.close()
    await schema.drop()
  })
  return repository
}

function bulk (prefix: string, count: number, outcome: 'failed' | 'synced') {
  return Array.from({ length: count }, (_, index) => classifyEvent({
    id: `${prefix}-${index}`,
    batchId: 'batch-big',
    mailbox: `${prefix}-${index}@contoso.com`,
    occurredAt: '2026-11-01T00:00:00Z',
    outcome,
    ...(outcome === 'failed' ? { failure: { code: '161', message: 'Authentication failed.' } } : {})
  } as unknown as EventInput))
}

t.test('forty bulks of 1000 new mailboxes each, at once, all commit', { skip: SKIP }, async (t) => {
  const repository = await repositoryFor(t, 40)
  const settled = await Promise.allSettled(Array.from({ length: 40 }, async (_, index) =>
    await repository.recordEvents('default', bulk(`w${index}`, 1000, 'failed'), RECEIVED_AT)))
  const refused = settled.filter((outcome) => outcome.status === 'rejected')
  t.same(refused.map((outcome) => String(outcome.reason)).slice(0, 1), [], 'no bulk is refused')
  const counts = (await repository.countBatches('default', ['batch-big'])).get('batch-big')
  t.equal(counts?.mailboxesSeen, 40_000)
  t.equal(counts?.openFailures, 40_000)
})

t.test('a stall sweep over more mailboxes than one chunk stalls every one of them', { skip: SKIP }, async (t) => {
  const repository = await repositoryFor(t, 4)
  for (const [index, size] of [1000, 1000, 500].entries()) {
    await repository.recordEvents('default', bulk(`s${index}`, size, 'synced'), RECEIVED_AT)
  }
  const sweep = new StallSweep({ repository, clock: () => Date.parse('2026-11-24T00:00:00Z'), stallAfterMs: 60 * 60 * 1000 })
  t.match(await sweep.runOnce(), { swept: true, stalled: 2500 })
  const counts = (await repository.countBatches('default', ['batch-big'])).get('batch-big')
  t.equal(counts?.mailboxesSeen, 2500)
  t.equal(counts?.mailboxesStalled, 2500, 'all 2500 stalled, over five chunks of at most 500')
  t.match(await sweep.runOnce(), { stalled: 0 })
  t.equal((await repository.countBatches('default', ['batch-big'])).get('batch-big')?.openFailures, 2500, 'a second sweep adds nothing')
})
