import t, { type Test } from 'tap'
import fc from 'fast-check'
import { classifyEvent, heldUpSince, type BatchCounts, type CategoryId, type EventInput } from '../src/domain/index.js'
import { openSqlite } from '../src/db/sqlite.js'
import { SqliteFailureRepository } from '../src/repositories/sqlite.js'
import type { FailureRepository } from '../src/repositories/types.js'
import { StallSweep } from '../src/services/stall-sweep.js'
import { TEST_DATABASE_URL, adminQuery, createTestSchema, freshRepository } from './helpers/app.js'

// The batch summaries come from counters the writes keep (src/domain/counts.ts). Whatever
// happens to a batch, they must equal a full recount of its rows, and the index-backed oldest
// blocking failure must be the one a scan of every open failure finds.

const BASE = Date.parse('2026-11-23T10:00:00Z')
const MINUTE = 60_000
const STALL_AFTER = 30 * MINUTE
const BATCHES = ['batch-a', 'batch-b']
const MAILBOXES = ['m0@contoso.com', 'm1@contoso.com', 'm2@contoso.com', 'm3@contoso.com']
// Blocking ones, a non-blocking one, and a stall an engine reports itself.
const CATEGORIES: CategoryId[] = ['source_sign_in_failed', 'throttled', 'items_skipped', 'sync_stalled']

interface EventStep { kind: 'event', batch: number, mailbox: number, minute: number, failed: boolean, category: number, repeat: boolean }

const eventStep = fc.record({
  kind: fc.constant('event' as const),
  batch: fc.nat({ max: BATCHES.length - 1 }),
  mailbox: fc.nat({ max: MAILBOXES.length - 1 }),
  // Out of order: any minute of the window, whatever arrived before.
  minute: fc.nat({ max: 120 }),
  failed: fc.boolean(),
  category: fc.nat({ max: CATEGORIES.length - 1 }),
  // Sends the previous event of the round again (a retry: stored once).
  repeat: fc.boolean()
})
const sweepStep = fc.record({ kind: fc.constant('sweep' as const), minutes: fc.integer({ min: 0, max: 90 }) })
// A round runs its events at once, as concurrent requests (a bulk of several and singles).
const rounds = fc.array(fc.oneof(fc.array(eventStep, { minLength: 1, maxLength: 6 }), sweepStep.map((step) => [step])), { minLength: 1, maxLength: 12 })

function toEvent (step: EventStep, id: string): ReturnType<typeof classifyEvent> {
  const input: Record<string, unknown> = {
    id,
    batchId: BATCHES[step.batch],
    mailbox: MAILBOXES[step.mailbox],
    occurredAt: new Date(BASE + step.minute * MINUTE).toISOString(),
    outcome: step.failed ? 'failed' : 'synced',
    ...(step.failed ? { failure: { category: CATEGORIES[step.category], message: `failure ${CATEGORIES[step.category]}` } } : {}),
    context: { engine: 'imapsync', migrationType: 'imap' }
  }
  return classifyEvent(input as unknown as EventInput)
}

/** The oldest blocking failure as a scan of every open failure of the batch finds it. */
async function scannedOldest (repository: FailureRepository, tenantId: string, batchId: string) {
  const page = await repository.listFailures(tenantId, batchId, {
    filter: { status: 'open', categories: [], mailbox: null, since: null, until: null }, after: null, snapshotSeq: await repository.currentSeq(), limit: 1000
  })
  const syncs = await repository.lastSyncs(tenantId, batchId, page.items.map((failure) => failure.mailbox))
  const held = page.items
    .map((failure) => ({ mailbox: failure.mailbox, category: failure.category, heldUpSince: heldUpSince(failure, syncs.get(failure.mailbox) ?? null) }))
    .filter((entry) => entry.heldUpSince !== null)
    .sort((a, b) => (a.heldUpSince as number) - (b.heldUpSince as number) || (a.mailbox < b.mailbox ? -1 : a.mailbox > b.mailbox ? 1 : 0) ||
      (a.category < b.category ? -1 : 1))
  return held[0] ?? null
}

async function keptOldest (repository: FailureRepository, tenantId: string, batchId: string) {
  const oldest = await repository.oldestBlockingFailure(tenantId, batchId)
  return oldest === null ? null : { mailbox: oldest.failure.mailbox, category: oldest.failure.category, heldUpSince: oldest.heldUpSince }
}

/** Counts as JSON with the categories in name order (the stores may list them in any). */
function canonical (counts: BatchCounts | undefined): string {
  if (counts === undefined) return 'null'
  return JSON.stringify({ ...counts, byCategory: Object.fromEntries(Object.entries(counts.byCategory).sort(([a], [b]) => a < b ? -1 : 1)) })
}

async function checkAgainstRecount (t: Test, repository: FailureRepository, tenantId: string, label: string): Promise<boolean> {
  const kept = await repository.countBatches(tenantId, BATCHES)
  const recounted = await repository.recountBatches(tenantId, BATCHES)
  let ok = true
  for (const batchId of BATCHES) {
    const same = canonical(kept.get(batchId)) === canonical(recounted.get(batchId))
    if (!same) t.same(kept.get(batchId) ?? null, recounted.get(batchId) ?? null, `${label}: counters of ${batchId} equal a recount`)
    const oldest = await keptOldest(repository, tenantId, batchId)
    const scanned = await scannedOldest(repository, tenantId, batchId)
    if (JSON.stringify(oldest) !== JSON.stringify(scanned)) {
      t.same(oldest, scanned, `${label}: oldest blocking failure of ${batchId} is the scan's`)
      ok = false
    }
    ok &&= same
  }
  return ok
}

t.test('counters equal a full recount after random interleavings of events, late arrivals, retries and stalls', { timeout: 600_000 }, async (t) => {
  const repository = await freshRepository()
  t.teardown(async () => { await repository.close() })
  let run = 0
  let failures = 0
  await fc.assert(fc.asyncProperty(rounds, async (plan) => {
    run += 1
    // Each run is a tenant of its own on the one store.
    const tenantId = `tenant-${run}`
    let now = BASE + 2 * 60 * MINUTE
    const sweep = new StallSweep({ repository, clock: () => now, stallAfterMs: STALL_AFTER, chunk: 2 })
    let id = 0
    for (const round of plan) {
      const first = round[0]
      if (first.kind === 'sweep') {
        now += first.minutes * MINUTE
        await sweep.runOnce()
        continue
      }
      const events = (round as EventStep[]).map((step) => {
        if (!step.repeat || id === 0) id += 1
        return toEvent(step, `${tenantId}-evt-${id}`)
      })
      // A repeated id with other content is a conflict: that request is refused, and changes nothing.
      const requests = events
      // One bulk of the first half, singles of the rest: concurrent writers of one batch.
      const half = Math.ceil(requests.length / 2)
      await Promise.allSettled([
        repository.recordEvents(tenantId, requests.slice(0, half), now),
        ...requests.slice(half).map(async (event) => await repository.recordEvents(tenantId, [event], now))
      ])
    }
    await sweep.idle()
    const ok = await checkAgainstRecount(t, repository, tenantId, `run ${run}`)
    if (!ok) failures += 1
    return ok
  }), { numRuns: TEST_DATABASE_URL === undefined ? 40 : 8, endOnFailure: true, seed: Number(process.env.COUNTERS_SEED ?? Date.now() % 1_000_000) })
  t.equal(failures, 0, `${run} runs, counters matched the recount in each`)
})

async function seedBatch (repository: FailureRepository): Promise<void> {
  const events = MAILBOXES.flatMap((mailbox, index) => [
    toEvent({ kind: 'event', batch: 0, mailbox: index, minute: 10 + index, failed: true, category: index % CATEGORIES.length, repeat: false }, `seed-${index}-f`),
    ...(index === 1 ? [toEvent({ kind: 'event', batch: 0, mailbox: index, minute: 5, failed: false, category: 0, repeat: false }, `seed-${index}-s`)] : [])
  ])
  await repository.recordEvents('default', events, BASE)
}

t.test('a store opened on data written before counters were kept recounts them once (SQLite)', async (t) => {
  const { db } = openSqlite(':memory:')
  const first = SqliteFailureRepository.on(db)
  t.teardown(async () => { await first.close() })
  await seedBatch(first)
  const before = await keptOldest(first, 'default', BATCHES[0])
  t.ok(before !== null, 'the batch has a blocking failure')
  db.$client.exec('delete from batch_counters; update mailboxes set held_up_since = null')
  t.same((await first.countBatches('default', BATCHES)).size, 0, 'no counters left')
  const reopened = SqliteFailureRepository.on(db)
  t.ok(await checkAgainstRecount(t, reopened, 'default', 'after the backfill'))
  t.same((await reopened.countBatches('default', BATCHES)).get(BATCHES[0])?.mailboxesSeen, MAILBOXES.length)
  t.same(await keptOldest(reopened, 'default', BATCHES[0]), before)
})

t.test('a store opened on data written before counters were kept recounts them once (PostgreSQL)', {
  skip: TEST_DATABASE_URL === undefined ? 'PostgreSQL only (set TEST_DATABASE_URL)' : false
}, async (t) => {
  const url = TEST_DATABASE_URL as string
  const schema = await createTestSchema(url)
  const { PostgresFailureRepository } = await import('../src/repositories/postgres.js')
  const first = await PostgresFailureRepository.open({ url, poolSize: 2, schema: schema.name })
  let reopened: FailureRepository | null = null
  t.teardown(async () => {
    await first.close()
    await reopened?.close()
    await schema.drop()
  })
  await seedBatch(first)
  const before = await keptOldest(first, 'default', BATCHES[0])
  t.ok(before !== null, 'the batch has a blocking failure')
  await adminQuery(url, `delete from "${schema.name}".batch_counters; update "${schema.name}".mailboxes set held_up_since = null`)
  reopened = await PostgresFailureRepository.open({ url, poolSize: 2, schema: schema.name })
  t.ok(await checkAgainstRecount(t, reopened, 'default', 'after the backfill'))
  t.same((await reopened.countBatches('default', BATCHES)).get(BATCHES[0])?.mailboxesSeen, MAILBOXES.length)
  t.same(await keptOldest(reopened, 'default', BATCHES[0]), before)
})
