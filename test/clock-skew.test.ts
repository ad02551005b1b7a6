import t from 'tap'
import { loadConfig } from '../src/config.js'
import { buildTestApp, failedEvent, postEvent, report, syncedEvent } from './helpers/app.js'

const HOUR = 3_600_000

t.test('an occurredAt more than MAX_CLOCK_SKEW ahead of the server clock is refused, naming the field', async (t) => {
  const ctx = await buildTestApp(t)
  const iso = (offset: number): string => new Date(ctx.clock.now + offset).toISOString()
  const refused = await postEvent(ctx, failedEvent({ occurredAt: '2030-01-01T00:00:00Z' }))
  t.equal(refused.statusCode, 400)
  t.match(refused.json(), {
    type: 'urn:problem:sync-failure-reports:validation',
    errors: [{ in: 'body', pointer: '/occurredAt', detail: /more than 1h \(MAX_CLOCK_SKEW\) ahead/ }]
  })
  // Another time zone's spelling is judged by the instant (the clock reads 2026-11-24T12:00:00Z).
  t.equal((await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-24T18:01:00+05:00' }))).statusCode, 400)
  t.equal((await postEvent(ctx, failedEvent({ occurredAt: '2026-11-24T17:59:00+05:00' }))).statusCode, 201)
  t.equal((await postEvent(ctx, failedEvent({ occurredAt: iso(HOUR) }))).statusCode, 201)
  // Nothing refused was stored.
  const { body } = await report(ctx, 'batch-1', 'status=all')
  t.ok(body.items.every((item) => Date.parse(item.lastSeenAt) <= ctx.clock.now + HOUR))

  const bulk = await ctx.inject({
    method: 'POST',
    url: '/events/bulk',
    payload: { events: [failedEvent({ occurredAt: iso(0) }), failedEvent({ occurredAt: iso(2 * HOUR) }), syncedEvent({ occurredAt: '2099-01-01T00:00:00Z' })] }
  })
  t.equal(bulk.statusCode, 400)
  t.same(bulk.json<{ errors: Array<{ pointer: string }> }>().errors.map((error) => error.pointer), ['/events/1/occurredAt', '/events/2/occurredAt'])
})

t.test('MAX_CLOCK_SKEW is read from the configuration', async (t) => {
  t.equal(loadConfig({ MAX_CLOCK_SKEW: '5m' }).maxClockSkewMs, 300_000)
  t.throws(() => loadConfig({ MAX_CLOCK_SKEW: 'soon' }), { message: /MAX_CLOCK_SKEW/ })
  const ctx = await buildTestApp(t, { MAX_CLOCK_SKEW: '5m' })
  t.equal((await postEvent(ctx, failedEvent({ occurredAt: new Date(ctx.clock.now + 6 * 60_000).toISOString() }))).statusCode, 400)
  t.equal((await postEvent(ctx, failedEvent({ occurredAt: new Date(ctx.clock.now + 4 * 60_000).toISOString() }))).statusCode, 201)
})
