import t from 'tap'
import { buildTestApp, failedEvent, postEvent, syncedEvent } from './helpers/app.js'

interface ProblemBody { detail: string, errors: Array<{ in: string, pointer: string, detail: string }>, moreErrors?: number }

function byPointer (body: ProblemBody): Record<string, string> {
  return Object.fromEntries(body.errors.map((error) => [error.pointer, error.detail]))
}

t.test('a body with several mistakes is refused naming every one, each at its pointer', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await postEvent(ctx, {
    id: 'has spaces',
    batchId: 42,
    mailbox: 'not-an-address',
    occuredAt: '2026-11-23T10:00:00Z',
    outcome: 'broken',
    failure: { message: '', extra: true },
    context: { migrationType: 'pop3', credentialMode: 'root' }
  })
  t.equal(response.statusCode, 400)
  t.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8')
  const errors = byPointer(response.json<ProblemBody>())
  t.match(errors, {
    '/id': /pattern/,
    '/batchId': /string/,
    '/mailbox': /email/,
    '/occurredAt': "must have required property 'occurredAt'",
    '/occuredAt': 'is not a known property; did you mean occurredAt?',
    '/outcome': 'must be one of "failed", "synced"',
    '/failure/message': /fewer than 1|NOT have fewer/,
    '/failure/extra': 'is not a known property',
    '/context/migrationType': 'must be one of "imap", "exchange"',
    '/context/credentialMode': 'must be one of "admin", "user"'
  })
  t.equal(response.json<ProblemBody>().errors.length, Object.keys(errors).length, 'each problem once')
  t.match(response.json<ProblemBody>().detail, /body\/id .*body\/batchId/)
})

t.test('an unknown key is matched to the known one it most likely meant, in any case', async (t) => {
  const ctx = await buildTestApp(t)
  const { occurredAt: _o, ...rest } = failedEvent()
  const cases: Array<[Record<string, unknown>, string, string]> = [
    [{ ...rest, OccurredAt: '2026-11-23T10:00:00Z' }, '/OccurredAt', 'occurredAt'],
    [{ ...rest, occurredAt: '2026-11-23T10:00:00Z', contxt: {} }, '/contxt', 'context'],
    [{ ...failedEvent(), failure: { mesage: 'x' } }, '/failure/mesage', 'message']
  ]
  for (const [body, pointer, meant] of cases) {
    const errors = byPointer((await postEvent(ctx, body)).json<ProblemBody>())
    t.equal(errors[pointer], `is not a known property; did you mean ${meant}?`, pointer)
  }
  const far = byPointer((await postEvent(ctx, { ...failedEvent(), zzz: 1 })).json<ProblemBody>())
  t.equal(far['/zzz'], 'is not a known property')
})

t.test('a bulk names every bad item by index, capped at 100 with a count of the rest', async (t) => {
  const ctx = await buildTestApp(t)
  const events = Array.from({ length: 300 }, (_, index) => index % 2 === 0 ? failedEvent({ outcome: 'nope' }) : failedEvent())
  const response = await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events } })
  t.equal(response.statusCode, 400)
  const body = response.json<ProblemBody>()
  t.equal(body.errors.length, 100)
  t.equal(body.moreErrors, 50)
  t.same(body.errors.slice(0, 3).map((error) => error.pointer), ['/events/0/outcome', '/events/2/outcome', '/events/4/outcome'])
  t.match(body.detail, /and 140 more/)
  const few = await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events: [failedEvent(), failedEvent({ mailbox: 'x' }), failedEvent({ outcome: 'x' })] } })
  t.same(few.json<ProblemBody>().errors.map((error) => error.pointer), ['/events/1/mailbox', '/events/2/outcome'])
  t.equal(few.json<ProblemBody>().moreErrors, undefined)
})

t.test('query strings name every problem too, enums with their values', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent())
  const response = await ctx.inject({ method: 'GET', url: '/batches/batch-1/errors?status=closed&limit=0&categry=x' })
  t.equal(response.statusCode, 400)
  t.match(byPointer(response.json<ProblemBody>()), {
    '/status': 'must be one of "open", "resolved", "all"',
    '/limit': />= 1/,
    '/categry': 'is not a known property; did you mean category?'
  })
})

// Domain checks (outcome with failure, MAX_CLOCK_SKEW) run with the schema's, not after it passed.

const SKEW = 'is more than 1h (MAX_CLOCK_SKEW) ahead of the server clock (2026-11-24T12:00:00.000Z)'

t.test('a schema error and a domain error in one event are named together in a single 400', async (t) => {
  const ctx = await buildTestApp(t)
  const { failure: _failure, ...noFailure } = failedEvent()
  const response = await postEvent(ctx, { ...noFailure, mailbox: 'not-an-address', occurredAt: '2030-01-01T00:00:00Z', colour: 'red' })
  t.equal(response.statusCode, 400)
  t.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.same(response.json(), {
    type: 'urn:problem:sync-failure-reports:validation',
    title: 'Request validation failed',
    status: 400,
    detail: `body/colour is not a known property; body/mailbox must match format "email"; body/failure is required when outcome is failed; body/occurredAt ${SKEW}`,
    errors: [
      { in: 'body', pointer: '/colour', detail: 'is not a known property' },
      { in: 'body', pointer: '/mailbox', detail: 'must match format "email"' },
      { in: 'body', pointer: '/failure', detail: 'is required when outcome is failed' },
      { in: 'body', pointer: '/occurredAt', detail: SKEW }
    ],
    instance: response.headers['x-request-id']
  })
  t.same((await ctx.inject({ method: 'GET', url: '/batches' })).json(), { items: [], nextCursor: null }, 'nothing stored')
})

t.test('a bulk names schema and domain errors of every item in one 400, item by item', async (t) => {
  const ctx = await buildTestApp(t)
  const events = [
    failedEvent(),
    syncedEvent({ occurredAt: '2030-01-01T00:00:00Z' }),
    { ...syncedEvent({ outcome: 'failed' }), batchId: 7 },
    syncedEvent({ failure: { message: 'x' }, occurredAt: '2026-11-24T13:30:00Z', mailbox: 'a b' })
  ]
  const response = await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events } })
  t.equal(response.statusCode, 400)
  t.same(response.json<ProblemBody>().errors, [
    { in: 'body', pointer: '/events/1/occurredAt', detail: SKEW },
    { in: 'body', pointer: '/events/2/batchId', detail: 'must be string' },
    { in: 'body', pointer: '/events/2/failure', detail: 'is required when outcome is failed' },
    { in: 'body', pointer: '/events/3/mailbox', detail: 'must match format "email"' },
    { in: 'body', pointer: '/events/3/failure', detail: 'must be absent when outcome is synced' },
    { in: 'body', pointer: '/events/3/occurredAt', detail: SKEW }
  ])
  t.equal(response.json<ProblemBody>().moreErrors, undefined)
  t.same((await ctx.inject({ method: 'GET', url: '/batches' })).json(), { items: [], nextCursor: null }, 'nothing stored')
})

t.test('a bulk of schema and domain errors lists the first 100 in item order and counts the rest', async (t) => {
  const ctx = await buildTestApp(t)
  // Even items break the schema, odd ones the clock: 200 errors, listed by index, not by kind.
  const events = Array.from({ length: 200 }, (_, index) => index % 2 === 0 ? failedEvent({ outcome: 'nope' }) : failedEvent({ occurredAt: '2031-05-05T00:00:00Z' }))
  const response = await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events } })
  t.equal(response.statusCode, 400)
  const body = response.json<ProblemBody>()
  t.equal(body.errors.length, 100)
  t.equal(body.moreErrors, 100)
  t.same(body.errors.map((error) => error.pointer), Array.from({ length: 100 }, (_, index) => `/events/${index}/${index % 2 === 0 ? 'outcome' : 'occurredAt'}`))
  t.match(body.detail, /; and 190 more \(see errors and moreErrors\)$/)
})

t.test('a value the schema already refused is not named again by the domain check', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await postEvent(ctx, failedEvent({ occurredAt: 'yesterday' }))
  t.equal(response.statusCode, 400)
  t.same(response.json<ProblemBody>().errors, [{ in: 'body', pointer: '/occurredAt', detail: 'must match format "date-time"' }])
})

t.test('a body that is not an object gets the schema error only', async (t) => {
  const ctx = await buildTestApp(t)
  const single = await ctx.inject({ method: 'POST', url: '/events', payload: [failedEvent()] })
  t.equal(single.statusCode, 400)
  t.same(single.json<ProblemBody>().errors, [{ in: 'body', pointer: '', detail: 'must be object' }])
  const bulk = await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events: 'all of them' } })
  t.equal(bulk.statusCode, 400)
  t.same(bulk.json<ProblemBody>().errors, [{ in: 'body', pointer: '/events', detail: 'must be array' }])
})
