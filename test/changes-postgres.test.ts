import t from 'tap'
import { classifyEvent, type EventInput } from '../src/domain/index.js'
import type { PostgresFailureRepository } from '../src/repositories/postgres.js'
import { TEST_DATABASE_URL, createTestSchema, failedEvent, syncedEvent, twoInstancesOneLease } from './helpers/app.js'

// Two instances (two pools) writing one tenant's changes at once, and a reader following the
// feed meanwhile: the reader must never see a seq whose predecessors are still to come.

const SKIP = TEST_DATABASE_URL === undefined ? 'PostgreSQL only (set TEST_DATABASE_URL)' : false

t.test('two writers racing never let a reader see a gap that later fills in', { skip: SKIP }, async (t) => {
  const url = TEST_DATABASE_URL as string
  const schema = await createTestSchema(url)
  const { PostgresFailureRepository } = await import('../src/repositories/postgres.js')
  const writers: PostgresFailureRepository[] = []
  for (let i = 0; i < 2; i++) writers.push(await PostgresFailureRepository.open({ url, poolSize: 4, schema: schema.name }))
  const reader = await PostgresFailureRepository.open({ url, poolSize: 1, schema: schema.name })
  t.teardown(async () => {
    await Promise.all([...writers, reader].map(async (repository) => { await repository.close() }))
    await schema.drop()
  })
  const heard: string[] = []
  reader.onChangesAppended((tenantId) => { heard.push(tenantId) })

  const state = { writing: true }
  let seen = 0
  const violations: string[] = []
  const following = (async () => {
    while (state.writing || seen < await reader.latestChangeSeq('default')) {
      const page = await reader.listChanges('default', { after: seen, limit: 1000 })
      for (const change of page) {
        if (change.seq !== seen + 1) violations.push(`after ${seen} came ${change.seq}`)
        seen = change.seq
      }
    }
  })()
  // Each mailbox opens, resolves and reopens: three changes per mailbox, from both writers at once.
  const work = writers.map(async (writer, w) => {
    await Promise.all(Array.from({ length: 4 }, async (_, lane) => {
      for (let i = 0; i < 10; i++) {
        const mailbox = `w${w}-l${lane}-${i}@contoso.com`
        for (const [step, event] of [failedEvent, syncedEvent, failedEvent].entries()) {
          const input = event({ id: `${mailbox}-${step}`, mailbox, occurredAt: new Date(Date.parse('2026-11-23T10:00:00Z') + step * 60_000).toISOString() })
          await writer.recordEvents('default', [classifyEvent(input as unknown as EventInput)], Date.parse('2026-11-24T12:00:00Z'))
        }
      }
    }))
  })
  await Promise.all(work)
  state.writing = false
  await following
  t.same(violations, [], 'every change was read in seq order with no gap')
  t.equal(seen, 2 * 4 * 10 * 3)
  const all = await reader.listChanges('default', { after: 0, limit: 1000 })
  t.same(all.map((change) => change.seq), Array.from({ length: 240 }, (_, i) => i + 1))
  // The reader's own instance wrote nothing: it heard the writers through LISTEN/NOTIFY.
  const deadline = Date.now() + 10_000
  while (heard.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(heard[0], 'default')
})

t.test('one instance sweeps at a time: the other skips its turn while the lease is held', { skip: SKIP }, async (t) => {
  const { b, release, first } = await twoInstancesOneLease(t, TEST_DATABASE_URL as string, 1, 'stall-sweep')
  t.equal(await b.withLease('stall-sweep', async () => { t.fail('ran while the other held the lease') }), false)
  release()
  t.equal(await first, true)
  let ran = false
  t.equal(await b.withLease('stall-sweep', async () => { ran = true }), true, 'free again once the first sweep ended')
  t.ok(ran)
})
