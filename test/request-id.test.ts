import { Writable } from 'node:stream'
import t from 'tap'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { buildTestApp, freshStores } from './helpers/app.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('a well-formed x-request-id is kept: returned, and the instance of a problem', async (t) => {
  const ctx = await buildTestApp(t)
  const ok = await ctx.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'lb-7f3a9c.01:2' } })
  t.equal(ok.headers['x-request-id'], 'lb-7f3a9c.01:2')
  const missing = await ctx.inject({ method: 'GET', url: '/batches/nope/errors', headers: { 'x-request-id': 'trace-42' } })
  t.equal(missing.statusCode, 404)
  t.equal(missing.headers['x-request-id'], 'trace-42')
  t.equal(missing.json().instance, 'trace-42')
})

t.test('without one, or with one that is not well formed, the service generates a UUID', async (t) => {
  const ctx = await buildTestApp(t)
  const ids = new Set<string>()
  for (const header of [undefined, '', 'has space', '<script>', 'x'.repeat(201), 'line\u0001break']) {
    const response = await ctx.inject({ method: 'POST', url: '/events', payload: {}, headers: header === undefined ? {} : { 'x-request-id': header } })
    t.equal(response.statusCode, 400)
    const id = response.headers['x-request-id'] as string
    t.match(id, UUID, `${JSON.stringify(header)} replaced`)
    t.equal(response.json().instance, id)
    ids.add(id)
  }
  t.equal(ids.size, 6, 'each request has an id of its own')
})

t.test('refusals before the route runs (401, 429) carry it too', async (t) => {
  const ctx = await buildTestApp(t, { RATE_LIMIT_MAX: '1' })
  const unauthorized = await ctx.inject({ method: 'GET', url: '/batches', auth: false, headers: { 'x-request-id': 'a1' } })
  t.equal(unauthorized.statusCode, 401)
  t.equal(unauthorized.json().instance, 'a1')
  await ctx.inject({ method: 'GET', url: '/batches' })
  const limited = await ctx.inject({ method: 'GET', url: '/batches', headers: { 'x-request-id': 'a2' } })
  t.equal(limited.statusCode, 429)
  t.equal(limited.headers['x-request-id'], 'a2')
  t.equal(limited.json().instance, 'a2')
})

t.test('every log line of a request carries its id', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    }
  })
  const stores = await freshStores()
  const app = await buildApp(loadConfig({ LOG_LEVEL: 'info', MAX_EVENT_LOOP_DELAY: '0' }), { stores, logger: { level: 'info', stream } })
  t.teardown(async () => { await app.close() })
  await app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'log-me' } })
  const ofRequest = lines.filter((line) => line.reqId === 'log-me')
  t.ok(ofRequest.some((line) => line.msg === 'incoming request'))
  t.ok(ofRequest.some((line) => line.msg === 'request completed'))
})
