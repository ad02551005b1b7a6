import t from 'tap'
import { buildTestApp, failedEvent, postEvent, report, syncedEvent } from './helpers/app.js'

t.test('a failed event is stored, classified and answered with 201', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await postEvent(ctx, failedEvent({ id: 'evt-7f3a' }))
  t.equal(response.statusCode, 201)
  t.same(response.json(), { id: 'evt-7f3a', duplicate: false, category: 'source_sign_in_failed', rule: 'imapsync.exit.161', failureStatus: 'open' })
})

t.test('an explicit category is used as given', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await postEvent(ctx, failedEvent({ failure: { category: 'cloud_mailbox_full', message: 'whatever the engine says' } }))
  t.equal(response.statusCode, 201)
  t.match(response.json(), { category: 'cloud_mailbox_full', rule: 'explicit' })
})

t.test('a synced event is stored with no category', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await postEvent(ctx, syncedEvent({ id: 'sync-1' }))
  t.equal(response.statusCode, 201)
  t.same(response.json(), { id: 'sync-1', duplicate: false, category: null, rule: null, failureStatus: null })
})

t.test('a retry with the same id and content answers 200 duplicate and counts nothing twice', async (t) => {
  const ctx = await buildTestApp(t)
  const event = failedEvent({ id: 'evt-retry' })
  t.equal((await postEvent(ctx, event)).statusCode, 201)
  const retry = await postEvent(ctx, event)
  t.equal(retry.statusCode, 200)
  t.same(retry.json(), { id: 'evt-retry', duplicate: true, category: 'source_sign_in_failed', rule: 'imapsync.exit.161', failureStatus: 'open' })
  const { body } = await report(ctx)
  t.equal(body.items[0].occurrences, 1)
})

t.test('a retry that differs only in mailbox case is the same content', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ id: 'evt-case', mailbox: 'Alice@Contoso.com' }))
  const retry = await postEvent(ctx, failedEvent({ id: 'evt-case', mailbox: 'alice@contoso.com' }))
  t.equal(retry.statusCode, 200)
})

t.test('a reused id with different content is refused with 422 and changes nothing', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ id: 'evt-dup' }))
  const response = await postEvent(ctx, failedEvent({ id: 'evt-dup', occurredAt: '2026-11-23T11:00:00Z' }))
  t.equal(response.statusCode, 422)
  t.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.match(response.json(), { type: 'urn:problem:sync-failure-reports:event-conflict', status: 422, errors: [{ pointer: '/id' }] })
  const { body } = await report(ctx)
  t.equal(body.items[0].lastSeenAt, '2026-11-23T10:00:00.000Z')
  t.equal(body.items[0].occurrences, 1)
})

t.test('concurrent retries of one event store it once', async (t) => {
  const ctx = await buildTestApp(t)
  const event = failedEvent({ id: 'evt-race' })
  const responses = await Promise.all(Array.from({ length: 10 }, async () => await postEvent(ctx, event)))
  t.same(responses.map((r) => r.statusCode).sort(), [200, 200, 200, 200, 200, 200, 200, 200, 200, 201])
  const { body } = await report(ctx)
  t.equal(body.items[0].occurrences, 1)
})

t.test('bulk stores every event in request order', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({
    method: 'POST',
    url: '/events/bulk',
    payload: {
      events: [
        failedEvent({ id: 'b-1' }),
        failedEvent({ id: 'b-2', mailbox: 'bob@contoso.com', failure: { code: '113', message: 'Exiting with return value 113 (EXIT_OVERQUOTA)' } }),
        syncedEvent({ id: 'b-3', mailbox: 'carol@contoso.com' })
      ]
    }
  })
  t.equal(response.statusCode, 200)
  t.same(response.json(), {
    results: [
      { id: 'b-1', duplicate: false, category: 'source_sign_in_failed', rule: 'imapsync.exit.161' },
      { id: 'b-2', duplicate: false, category: 'cloud_mailbox_full', rule: 'imapsync.exit.113' },
      { id: 'b-3', duplicate: false, category: null, rule: null }
    ]
  })
})

t.test('bulk with a repeated id counts the repeat as a duplicate', async (t) => {
  const ctx = await buildTestApp(t)
  const event = failedEvent({ id: 'b-twice' })
  const response = await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events: [event, event] } })
  t.equal(response.statusCode, 200)
  t.same(response.json<{ results: Array<{ duplicate: boolean }> }>().results.map((r) => r.duplicate), [false, true])
  t.equal((await report(ctx)).body.items[0].occurrences, 1)
})

t.test('bulk with one invalid item is refused whole, naming the item index', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({
    method: 'POST',
    url: '/events/bulk',
    payload: { events: [failedEvent({ id: 'ok-1' }), failedEvent({ id: 'bad', outcome: 'exploded' })] }
  })
  t.equal(response.statusCode, 400)
  t.match(response.json(), { status: 400, errors: [{ in: 'body', pointer: '/events/1/outcome' }] })
  t.equal((await report(ctx)).statusCode, 404)
})

t.test('bulk whose later item reuses an id with other content stores nothing', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ id: 'taken', batchId: 'other' }))
  const response = await ctx.inject({
    method: 'POST',
    url: '/events/bulk',
    payload: { events: [failedEvent({ id: 'fresh' }), failedEvent({ id: 'taken' })] }
  })
  t.equal(response.statusCode, 422)
  t.match(response.json(), { errors: [{ pointer: '/events/1/id' }] })
  t.equal((await report(ctx)).statusCode, 404)
})

t.test('bulk with a failed event missing its failure names the index', async (t) => {
  const ctx = await buildTestApp(t)
  const { failure: _failure, ...noFailure } = failedEvent()
  const response = await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events: [failedEvent(), noFailure] } })
  t.equal(response.statusCode, 400)
  t.same(response.json().errors, [{ in: 'body', pointer: '/events/1/failure', detail: 'is required when outcome is failed' }])
})

t.test('bulk over 1000 events is refused', async (t) => {
  const ctx = await buildTestApp(t)
  const events = Array.from({ length: 1001 }, (_, i) => syncedEvent({ id: `many-${i}` }))
  const response = await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events } })
  t.equal(response.statusCode, 400)
  t.match(response.json(), { errors: [{ pointer: '/events', detail: 'must NOT have more than 1000 items' }] })
})

t.test('an empty bulk is refused', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events: [] } })
  t.equal(response.statusCode, 400)
})
