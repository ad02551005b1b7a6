import t from 'tap'
import fc from 'fast-check'
import { classifyEvents, type CategoryId, type EventInput } from '../src/domain/index.js'
import type { FailureRepository } from '../src/repositories/types.js'
import { TEST_DATABASE_URL, freshRepository } from './helpers/app.js'

// A bulk is written set-wise: its events are folded in memory per mailbox and stored with one
// statement per table. Whatever the events, the result must be the one the same events give
// when posted one by one: the same report, mailboxes, counters and per-event answers, and a
// change feed that ends each failure in the status the report shows.

const BASE = Date.parse('2026-11-23T10:00:00Z')
const MINUTE = 60_000
const BATCHES = ['batch-a', 'batch-b']
const MAILBOXES = ['m0@contoso.com', 'm1@contoso.com', 'M2@contoso.com']
// Blocking and non-blocking ones, an engine-reported stall, and one the classifier decides (no category).
const CATEGORIES: Array<CategoryId | undefined> = ['source_sign_in_failed', 'throttled', 'items_skipped', 'sync_stalled', undefined]
const MESSAGES = ['Host1 failure: Error login on [imap.contoso.com] with user [u] auth [LOGIN]: 2 NO [AUTHENTICATIONFAILED] Authentication failed.', 'mailbox is full', 'something else']

const step = fc.record({
  batch: fc.nat({ max: BATCHES.length - 1 }),
  mailbox: fc.nat({ max: MAILBOXES.length - 1 }),
  // Any minute of the window, whatever arrived before: late arrivals replay the mailbox.
  minute: fc.nat({ max: 60 }),
  failed: fc.boolean(),
  category: fc.nat({ max: CATEGORIES.length - 1 }),
  message: fc.nat({ max: MESSAGES.length - 1 }),
  server: fc.constantFrom(undefined, 'imap.contoso.com', 'imap.fabrikam.com'),
  // Sends an earlier event of the run again, unchanged (a retry, within the bulk or across).
  repeat: fc.option(fc.nat(), { freq: 4 })
})
const rounds = fc.array(fc.array(step, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 5 })

/** JSON with every object's keys in name order: equal values, equal text. */
function canonical (value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => inner !== null && typeof inner === 'object' && !Array.isArray(inner)
    ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
    : inner)
}

type Step = typeof step extends fc.Arbitrary<infer S> ? S : never

function toInput (s: Step, id: string): EventInput {
  const category = CATEGORIES[s.category]
  return {
    id,
    batchId: BATCHES[s.batch],
    mailbox: MAILBOXES[s.mailbox],
    occurredAt: new Date(BASE + s.minute * MINUTE).toISOString(),
    outcome: s.failed ? 'failed' : 'synced',
    ...(s.failed ? { failure: { ...(category === undefined ? {} : { category }), code: String(s.message), message: MESSAGES[s.message] } } : {}),
    context: { engine: 'imapsync', ...(s.server === undefined ? {} : { server: s.server }) }
  }
}

/** What a reader sees of a tenant, without the seqs (a bulk stamps a changed failure with its mailbox's last seq). */
async function readBack (repository: FailureRepository, tenantId: string) {
  const report: Record<string, unknown> = {}
  const feedEnd: Record<string, string> = {}
  for (const batchId of BATCHES) {
    const page = await repository.listFailures(tenantId, batchId, {
      filter: { status: 'all', categories: [], mailbox: null, since: null, until: null }, after: null, snapshotSeq: await repository.currentSeq(), limit: 1000
    })
    report[batchId] = {
      failures: page.items.map(({ seq: _seq, ...failure }) => failure).sort((a, b) => `${a.mailbox} ${a.category}`.localeCompare(`${b.mailbox} ${b.category}`)),
      mailboxes: await Promise.all(MAILBOXES.map(async (mailbox) => await repository.findMailbox(tenantId, batchId, mailbox.toLowerCase()))),
      counts: (await repository.countBatches(tenantId, [batchId])).get(batchId) ?? null
    }
  }
  for (const change of await repository.listChanges(tenantId, { after: 0, limit: 10_000 })) {
    feedEnd[`${change.batchId} ${change.mailbox} ${change.category}`] = change.status
  }
  return { report, feedEnd }
}

t.test('a bulk gives what the same events posted one by one give', { timeout: 600_000 }, async (t) => {
  const repository = await freshRepository()
  t.teardown(async () => { await repository.close() })
  // Printed first, so that any failing run can be replayed with BULK_SEED.
  const seed = Number(process.env.BULK_SEED ?? Date.now() % 1_000_000)
  t.comment(`fast-check seed ${seed}`)
  let run = 0
  await fc.assert(fc.asyncProperty(rounds, async (plan) => {
    run += 1
    const sent: EventInput[] = []
    const answers: Record<'bulk' | 'single', unknown[]> = { bulk: [], single: [] }
    for (const round of plan) {
      const inputs = round.map((s) => {
        const input = s.repeat !== null && sent.length > 0 ? sent[s.repeat % sent.length] : toInput(s, `evt-${sent.length}`)
        sent.push(input)
        return input
      })
      const events = classifyEvents(inputs)
      const bulk = await repository.recordEvents(`bulk-${run}`, events, BASE)
      answers.bulk.push(...bulk.outcomes.map(({ id, duplicate, category, rule }) => ({ id, duplicate, category, rule })))
      for (const event of events) {
        const { outcomes: [outcome] } = await repository.recordEvents(`single-${run}`, [event], BASE)
        answers.single.push({ id: outcome.id, duplicate: outcome.duplicate, category: outcome.category, rule: outcome.rule })
      }
    }
    const bulk = await readBack(repository, `bulk-${run}`)
    const single = await readBack(repository, `single-${run}`)
    t.same(answers.bulk, answers.single, `run ${run}: the same answers per event`)
    t.same(bulk.report, single.report, `run ${run}: the same report, mailboxes and counters`)
    t.same(bulk.feedEnd, single.feedEnd, `run ${run}: each failure's last change has the same status`)
    // Every failure the report holds was opened in the feed, and its last change is its status.
    const statuses = Object.fromEntries(Object.entries(bulk.report).flatMap(([batchId, value]) =>
      (value as { failures: Array<{ mailbox: string, category: string, status: string }> }).failures
        .map((failure) => [`${batchId} ${failure.mailbox} ${failure.category}`, failure.status])))
    t.same(bulk.feedEnd, statuses, `run ${run}: the feed ends where the report stands`)
    return canonical([answers.bulk, bulk]) === canonical([answers.single, single]) && canonical(bulk.feedEnd) === canonical(statuses)
  }), { numRuns: TEST_DATABASE_URL === undefined ? 60 : 15, endOnFailure: true, seed })
})
