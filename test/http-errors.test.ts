import t from 'tap'
import { buildTestApp, failedEvent, report } from './helpers/app.js'

const PROBLEM = 'application/problem+json; charset=utf-8'

t.test('an unknown route is a 404 problem', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'GET', url: '/nowhere?x=1' })
  t.equal(response.statusCode, 404)
  t.equal(response.headers['content-type'], PROBLEM)
  t.same(response.json(), { type: 'urn:problem:sync-failure-reports:not-found', title: 'Not Found', status: 404, detail: 'No route GET /nowhere', instance: response.headers['x-request-id'] })
})

t.test('an unknown field in an event is refused with its path', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'POST', url: '/events', payload: failedEvent({ mailBox: 'typo@contoso.com' }) })
  t.equal(response.statusCode, 400)
  t.equal(response.headers['content-type'], PROBLEM)
  t.same(response.json().errors, [{ in: 'body', pointer: '/mailBox', detail: 'is not a known property; did you mean mailbox?' }])
})

t.test('a wrong type is refused with the field path', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'POST', url: '/events', payload: failedEvent({ failure: { message: 42 } }) })
  t.equal(response.statusCode, 400)
  t.same(response.json().errors, [{ in: 'body', pointer: '/failure/message', detail: 'must be string' }])
})

t.test('an unknown category is refused', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'POST', url: '/events', payload: failedEvent({ failure: { category: 'gremlins', message: 'x' } }) })
  t.equal(response.statusCode, 400)
  t.match(response.json().errors, [{ pointer: '/failure/category' }])
})

t.test('a failed event without failure is refused', async (t) => {
  const ctx = await buildTestApp(t)
  const { failure: _failure, ...event } = failedEvent()
  const response = await ctx.inject({ method: 'POST', url: '/events', payload: event })
  t.equal(response.statusCode, 400)
  t.same(response.json().errors, [{ in: 'body', pointer: '/failure', detail: 'is required when outcome is failed' }])
})

t.test('a synced event with a failure is refused', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'POST', url: '/events', payload: failedEvent({ outcome: 'synced' }) })
  t.equal(response.statusCode, 400)
  t.same(response.json().errors, [{ in: 'body', pointer: '/failure', detail: 'must be absent when outcome is synced' }])
})

t.test('a missing required field is named', async (t) => {
  const ctx = await buildTestApp(t)
  const { mailbox: _mailbox, ...event } = failedEvent()
  const response = await ctx.inject({ method: 'POST', url: '/events', payload: event })
  t.equal(response.statusCode, 400)
  t.same(response.json().errors, [{ in: 'body', pointer: '/mailbox', detail: "must have required property 'mailbox'" }])
})

t.test('bad ids, mailboxes and times are refused', async (t) => {
  const ctx = await buildTestApp(t)
  for (const [field, value] of [['id', 'has space'], ['id', ''], ['batchId', 'x'.repeat(129)], ['mailbox', 'not-an-address'], ['occurredAt', '2026-11-23 10:00'], ['occurredAt', 'yesterday']]) {
    const response = await ctx.inject({ method: 'POST', url: '/events', payload: failedEvent({ [field]: value }) })
    t.equal(response.statusCode, 400, `${field}=${value}`)
    t.match(response.json().errors, [{ pointer: `/${field}` }])
  }
})

t.test('a message over 8 KiB is refused', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'POST', url: '/events', payload: failedEvent({ failure: { message: 'x'.repeat(8193) } }) })
  t.equal(response.statusCode, 400)
  t.same(response.json().errors, [{ in: 'body', pointer: '/failure/message', detail: 'must NOT have more than 8192 characters' }])
})

t.test('a body over 64 KiB is refused with 413 and stores nothing', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'POST', url: '/events', payload: failedEvent({ padding: 'x'.repeat(70_000) }) })
  t.equal(response.statusCode, 413)
  t.equal(response.headers['content-type'], PROBLEM)
  t.match(response.json(), { type: 'about:blank', title: 'Payload Too Large', status: 413 })
  t.equal((await report(ctx)).statusCode, 404)
})

t.test('a body that is not JSON is refused with 415', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'POST', url: '/events', payload: 'id=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.equal(response.statusCode, 415)
  t.equal(response.headers['content-type'], PROBLEM)
  t.match(response.json(), { title: 'Unsupported Media Type', status: 415 })
})

t.test('malformed JSON is refused with 400', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'POST', url: '/events', payload: '{"id":', headers: { 'content-type': 'application/json' } })
  t.equal(response.statusCode, 400)
  t.equal(response.headers['content-type'], PROBLEM)
  t.match(response.json(), { status: 400, title: 'Bad Request' })
})

t.test('an empty JSON body is refused with 400', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'POST', url: '/events', payload: '', headers: { 'content-type': 'application/json' } })
  t.equal(response.statusCode, 400)
  t.equal(response.headers['content-type'], PROBLEM)
})

t.test('__proto__ keys are refused, not merged', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({
    method: 'POST',
    url: '/events',
    payload: '{"id":"p1","batchId":"b","mailbox":"a@b.co","occurredAt":"2026-11-23T10:00:00Z","outcome":"synced","__proto__":{"polluted":true}}',
    headers: { 'content-type': 'application/json' }
  })
  t.equal(response.statusCode, 400)
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('unknown query parameters and bad limits are refused', async (t) => {
  const ctx = await buildTestApp(t)
  await ctx.inject({ method: 'POST', url: '/events', payload: failedEvent() })
  for (const query of ['stauts=open', 'limit=0', 'limit=501', 'limit=ten', 'status=closed', 'category=nope']) {
    const { statusCode } = await report(ctx, 'batch-1', query)
    t.equal(statusCode, 400, query)
  }
})
