import t from 'tap'
import { corpusSignals, demoEvents, postDemo } from '../scripts/demo.js'
import { buildTestApp } from './helpers/app.js'
import { listenOnLoopback } from './helpers/sse.js'

t.test('npm run demo posts a realistic batch: a few hundred mailboxes, every corpus failure, some resolved, some stalled', async (t) => {
  const ctx = await buildTestApp(t)
  const now = ctx.clock.now
  const events = demoEvents(now)
  const signals = corpusSignals()
  const messages = new Set(events.flatMap((event) => event.failure === undefined ? [] : [event.failure.message]))
  t.ok(signals.every((signal) => messages.has(signal.message)), 'every corpus signal is posted')
  t.ok(events.every((event) => Date.parse(event.occurredAt) <= now && Date.parse(event.occurredAt) > now - 50 * 3_600_000), 'times are relative to now')
  const base = await listenOnLoopback(ctx.app)
  await postDemo(base, ctx.key, events)
  await ctx.app.stallSweep.runOnce()
  const batchId = events[0].batchId
  const summary = (await ctx.inject({ method: 'GET', url: `/batches/${batchId}` })).json<Record<string, number>>()
  t.equal(summary.mailboxesSeen, 300)
  t.ok(summary.mailboxesSynced > 100, `syncing: ${summary.mailboxesSynced}`)
  t.ok(summary.mailboxesFailing > 50, `failing: ${summary.mailboxesFailing}`)
  t.ok(summary.mailboxesStalled > 20, `stalled: ${summary.mailboxesStalled}`)
  const resolved = (await ctx.inject({ method: 'GET', url: `/batches/${batchId}/errors?status=resolved&limit=1` })).json<{ items: unknown[] }>()
  t.equal(resolved.items.length, 1, 'some failures are resolved')
  // Posting again is a retry: nothing new is stored.
  await postDemo(base, ctx.key, events)
  t.equal((await ctx.inject({ method: 'GET', url: `/batches/${batchId}` })).json<Record<string, number>>().mailboxesSeen, 300)
  await t.rejects(postDemo(base, 'sfr_' + 'A'.repeat(43), events), /401/)
})
