import t from 'tap'
import { classifyEvent, type EventInput } from '../src/domain/index.js'
import { TEST_DATABASE_URL, createTestSchema, failedEvent } from './helpers/app.js'

// The snapshot clock on PostgreSQL takes the writers' gate exclusively. Readers asking at once
// share one reading of it, started after each of them asked: fewer gate takings than readers,
// and each answer still covers every write acknowledged before its reader asked.

const SKIP = TEST_DATABASE_URL === undefined ? 'PostgreSQL only (set TEST_DATABASE_URL)' : false

t.test('readers of the snapshot clock share a reading, and never miss a write acknowledged before they asked', { skip: SKIP }, async (t) => {
  const url = TEST_DATABASE_URL as string
  const schema = await createTestSchema(url)
  const { PostgresFailureRepository } = await import('../src/repositories/postgres.js')
  const repository = await PostgresFailureRepository.open({ url, poolSize: 4, schema: schema.name })
  t.teardown(async () => {
    await repository.close()
    await schema.drop()
  })
  // Counts the readings: each one reads through queries.on(tx).
  const internals = repository as unknown as { queries: { on: (tx: unknown) => unknown } }
  const on = internals.queries.on.bind(internals.queries)
  let readings = 0
  internals.queries.on = (tx) => { readings += 1; return on(tx) }

  const answers = await Promise.all(Array.from({ length: 10 }, async () => await repository.currentSeq()))
  t.same(answers, Array(10).fill(0), 'an empty store: seq 0 for everyone')
  t.ok(readings <= 2, `10 readers at once took the gate ${readings} time(s)`)

  for (let round = 1; round <= 20; round++) {
    const { outcomes: [outcome] } = await repository.recordEvents('default', [classifyEvent(failedEvent({ id: `evt-${round}` }) as unknown as EventInput)], Date.now())
    t.equal(outcome.duplicate, false)
    // Asked after the write was acknowledged, alongside readers that asked during it.
    const seqs = await Promise.all([repository.currentSeq(), repository.currentSeq()])
    if (seqs.some((seq) => seq < round)) t.fail(`round ${round}: ${seqs.join(', ')} miss the acknowledged write`)
  }
  t.pass('every answer covered the writes acknowledged before it was asked')
})
