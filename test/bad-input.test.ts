import t, { type Test } from 'tap'
import fc from 'fast-check'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { CATEGORY_LIST } from '../src/domain/index.js'
import { buildTestApp, failedEvent, postEvent, syncedEvent, type TestApp } from './helpers/app.js'

// Malformed and hostile requests, generated: every one gets a 4xx problem+json and changes
// nothing. Each generated request carries at least one defect that makes it invalid, so a
// 2xx is a bug, not bad luck.

const RUNS = 400
const CATEGORY_IDS = new Set<string>(CATEGORY_LIST.map((info) => info.id))
const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '$where', '']

/** The store as a reader sees it: the last event seq and the whole report of the seeded batch. */
async function storeState (ctx: TestApp): Promise<string> {
  const report = await ctx.inject({ method: 'GET', url: '/batches/batch-1/errors?status=all&limit=500' })
  return JSON.stringify({ seq: await ctx.repository.currentSeq(), report: report.json() as unknown })
}

async function seededApp (t: Test): Promise<{ ctx: TestApp, before: string }> {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ id: 'seed-1', mailbox: 'alice@contoso.com' }))
  await postEvent(ctx, failedEvent({ id: 'seed-2', mailbox: 'bob@contoso.com', failure: { category: 'cloud_mailbox_full', message: 'full' } }))
  await postEvent(ctx, syncedEvent({ id: 'seed-3', mailbox: 'bob@contoso.com' }))
  return { ctx, before: await storeState(ctx) }
}

function assertProblem (response: LightMyRequestResponse, request: InjectOptions): void {
  const where = `${String(request.method)} ${String(request.url)}`
  if (response.statusCode < 400 || response.statusCode > 499) {
    throw new Error(`${where} answered ${response.statusCode}: ${response.body.slice(0, 300)}`)
  }
  if (!String(response.headers['content-type']).startsWith('application/problem+json')) {
    throw new Error(`${where} answered ${response.statusCode} as ${String(response.headers['content-type'])}`)
  }
  const body = response.json<Record<string, unknown>>()
  if (typeof body.type !== 'string' || typeof body.title !== 'string' || body.status !== response.statusCode) {
    throw new Error(`${where}: not a problem document: ${response.body.slice(0, 300)}`)
  }
  if (response.body.includes('    at ')) throw new Error(`${where}: stack trace in the answer`)
}

async function checkRefused (ctx: TestApp, request: InjectOptions): Promise<void> {
  assertProblem(await ctx.inject(request), request)
}

// Values of every JSON kind, including deep nesting, huge and odd-Unicode strings.
const oddString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '\uFEFF', '\u202E', '\uD800', 'ｅｖｔ', '💥', '../../etc/passwd', "'; drop table events; --", '<script>', 'null', 'NaN'),
  fc.integer({ min: 8193, max: 70_000 }).map((length) => 'x'.repeat(length))
)
const deepValue = fc.integer({ min: 50, max: 2000 }).map((depth) => {
  let value: unknown = 'bottom'
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { nested: value }
  return value
})
const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), oddString, deepValue, fc.constant(null), fc.double())

// Each defect alone makes an otherwise valid event invalid.
type EventDefect = (event: Record<string, unknown>) => Record<string, unknown>
const eventDefect: fc.Arbitrary<EventDefect> = fc.oneof(
  fc.tuple(fc.constantFrom(...HOSTILE_KEYS, 'extra', 'Id'), anyValue).map(([key, value]) => (event: Record<string, unknown>) => {
    const copy = { ...event }
    Object.defineProperty(copy, key, { value, enumerable: true, configurable: true, writable: true })
    return copy
  }),
  fc.constantFrom('id', 'batchId', 'mailbox', 'occurredAt', 'outcome').map((key) => (event: Record<string, unknown>) => {
    const { [key]: _dropped, ...rest } = event
    return rest
  }),
  fc.tuple(fc.constantFrom('id', 'batchId', 'mailbox', 'occurredAt', 'outcome', 'failure', 'context'),
    // Not numbers, booleans, null or one-item arrays: ajv's coerceTypes turns those into strings.
    fc.oneof(fc.array(fc.integer(), { minLength: 2, maxLength: 3 }), deepValue, fc.constant({ bogus: true })))
    .map(([key, value]) => (event: Record<string, unknown>) => ({ ...event, [key]: value })),
  fc.tuple(fc.constantFrom('id', 'batchId'), oddString.filter((text) => !/^[A-Za-z0-9._:-]{1,128}$/.test(text)))
    .map(([key, value]) => (event: Record<string, unknown>) => ({ ...event, [key]: value })),
  oddString.filter((text) => !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(text))
    .map((mailbox) => (event: Record<string, unknown>) => ({ ...event, mailbox })),
  oddString.map((occurredAt) => (event: Record<string, unknown>) => ({ ...event, occurredAt })),
  oddString.filter((text) => text !== 'failed' && text !== 'synced').map((outcome) => (event: Record<string, unknown>) => ({ ...event, outcome })),
  oddString.filter((text) => !CATEGORY_IDS.has(text))
    .map((category) => (event: Record<string, unknown>) => ({ ...event, failure: { category, message: 'x' } })),
  fc.constant((event: Record<string, unknown>) => ({ ...event, outcome: 'synced' })),
  fc.constant((event: Record<string, unknown>) => ({ ...event, failure: { code: '161' } })),
  fc.constant((event: Record<string, unknown>) => ({ ...event, failure: { message: 'm'.repeat(8193) } })),
  fc.tuple(fc.constantFrom(...HOSTILE_KEYS), anyValue).map(([key, value]) => (event: Record<string, unknown>) => {
    const context: Record<string, unknown> = {}
    Object.defineProperty(context, key, { value, enumerable: true, configurable: true, writable: true })
    return { ...event, context }
  })
)

const brokenEvent = fc.tuple(fc.nat(), fc.array(eventDefect, { minLength: 1, maxLength: 3 }))
  .map(([n, defects]) => defects.reduce((event, defect) => defect(event), failedEvent({ id: `bad-${n}`, mailbox: `m${n}@contoso.com` })))

const notJson = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }).filter((text) => { try { JSON.parse(text); return false } catch { return true } }),
  fc.constantFrom('{', '{"id":', '[1,2', '{"id":"a",}', "{'id':'a'}", 'undefined', '{"a":1}{"b":2}', '\uFEFF{', 'NaN')
)

// JSON texts of the wrong shape, and hostile JSON the parser itself must refuse or survive.
const hostileJsonText = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).filter((value) => value === null || typeof value !== 'object' || Array.isArray(value)).map((value) => JSON.stringify(value)),
  fc.constantFrom(
    '{"__proto__":{"polluted":true},"id":"p1","batchId":"b","mailbox":"a@b.co","occurredAt":"2026-11-23T10:00:00Z","outcome":"synced"}',
    '{"constructor":{"prototype":{"polluted":true}},"id":"p2","batchId":"b","mailbox":"a@b.co","occurredAt":"2026-11-23T10:00:00Z","outcome":"synced"}',
    '{"id":"p3","id":"p4"}',
    '['.repeat(5000) + ']'.repeat(5000),
    '{"a":'.repeat(3000) + '1' + '}'.repeat(3000)
  )
)

const wrongContentType = fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
  'application/xml', 'application/jsonx', 'image/png', '*/*', 'text/json')

const eventRoutes = fc.constantFrom('/events', '/events/bulk')

t.test('malformed and hostile events are refused with a problem and change nothing', async (t) => {
  const { ctx, before } = await seededApp(t)
  await fc.assert(fc.asyncProperty(
    fc.oneof(
      brokenEvent.map((event) => ({ url: '/events', payload: event })),
      fc.array(brokenEvent, { minLength: 1, maxLength: 5 }).chain((broken) => fc.array(fc.nat(), { maxLength: 5 }).map((ids) => ({
        url: '/events/bulk',
        // Valid events around the bad ones must not be stored either: all or nothing.
        payload: { events: [...ids.map((id) => failedEvent({ id: `ok-${id}`, mailbox: `ok${id}@contoso.com` })), ...broken] }
      }))),
      fc.oneof(fc.constant([]), fc.constant(Array.from({ length: 1001 }, (_, i) => failedEvent({ id: `many-${i}` }))), anyValue)
        .map((events) => ({ url: '/events/bulk', payload: { events } })),
      fc.tuple(fc.constantFrom(...HOSTILE_KEYS, 'event'), anyValue).map(([key, value]) => ({ url: '/events/bulk', payload: JSON.stringify({ events: [failedEvent()], [key]: value }) }))
    ),
    async ({ url, payload }) => {
      await checkRefused(ctx, { method: 'POST', url, payload: payload as InjectOptions['payload'], headers: { 'content-type': 'application/json' } })
    }
  ), { numRuns: RUNS })
  t.equal(await storeState(ctx), before)
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted')
})

t.test('bodies that are not JSON, not an object or not declared JSON are refused and change nothing', async (t) => {
  const { ctx, before } = await seededApp(t)
  await fc.assert(fc.asyncProperty(
    eventRoutes,
    fc.oneof(
      fc.tuple(fc.oneof(notJson, hostileJsonText), fc.constant('application/json')),
      fc.tuple(fc.constant(JSON.stringify(failedEvent())), wrongContentType),
      fc.tuple(fc.constant(''), fc.constantFrom('application/json', 'text/plain'))
    ),
    async (url, [body, contentType]) => {
      await checkRefused(ctx, { method: 'POST', url, body, headers: { 'content-type': contentType } })
    }
  ), { numRuns: RUNS })
  // Over the size limits: 413.
  const big = 'x'.repeat(65 * 1024)
  const oversized = await ctx.inject({ method: 'POST', url: '/events', payload: { ...failedEvent(), context: { engine: big } } })
  t.equal(oversized.statusCode, 413)
  assertProblem(oversized, { method: 'POST', url: '/events' })
  t.equal(await storeState(ctx), before)
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted')
})

// A query string that is certainly refused: each has at least one bad or unknown parameter.
const badReportParam = fc.oneof(
  fc.oneof(oddString, fc.base64String({ maxLength: 200 }), fc.constantFrom('e30', 'WzFd', 'null', 'W10')).filter((text) => text.length <= 2000).map((cursor) => ['cursor', cursor]),
  fc.jsonValue({ maxDepth: 2 }).map((value) => ['cursor', Buffer.from(JSON.stringify([1, value, 'a@b.co', 'x', 0, 'not-this-walk'])).toString('base64url')]),
  fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 501 }), fc.double({ noInteger: true }), oddString).map((limit) => ['limit', String(limit)]),
  oddString.filter((text) => !['open', 'resolved', 'all'].includes(text)).map((status) => ['status', status]),
  oddString.filter((text) => !CATEGORY_IDS.has(text)).map((category) => ['category', category]),
  oddString.filter((text) => !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(text) || text.length > 320).map((mailbox) => ['mailbox', mailbox]),
  oddString.filter((text) => text !== 'json' && text !== 'csv').map((format) => ['format', format]),
  fc.tuple(fc.constantFrom(...HOSTILE_KEYS.filter((key) => key !== ''), 'Status', 'offset', 'page'), oddString).map(([key, value]) => [key, value]),
  fc.constantFrom(['status', 'open&status=all'], ['limit', '1&limit=2'], ['format', 'csv&format=json'])
)
const goodReportParam = fc.constantFrom(['status', 'all'], ['limit', '5'], ['category', 'throttled'], ['mailbox', 'alice@contoso.com'])

/** encodeURIComponent that also takes lone surrogates (as a replacement character). */
function uriComponent (text: string): string {
  return encodeURIComponent(text.replace(/[\uD800-\uDFFF]/g, '\uFFFD'))
}

function queryString (params: ReadonlyArray<readonly string[]>): string {
  return params.map(([key, value]) => `${uriComponent(key)}=${value.includes('&') ? value : uriComponent(value)}`).join('&')
}

t.test('odd report queries, cursors and batch ids are refused with a problem', async (t) => {
  const { ctx, before } = await seededApp(t)
  const validCursor = (await ctx.inject({ method: 'GET', url: '/batches/batch-1/errors?status=all&limit=1' })).json<{ nextCursor: string }>().nextCursor
  await fc.assert(fc.asyncProperty(
    fc.oneof(
      fc.tuple(fc.array(goodReportParam, { maxLength: 2 }), fc.array(badReportParam, { minLength: 1, maxLength: 3 }))
        .map(([good, bad]) => `/batches/batch-1/errors?${queryString([...good, ...bad])}`),
      // A real cursor under other filters belongs to another walk.
      fc.constantFrom('status=open', 'category=throttled', 'mailbox=bob@contoso.com').map((filter) => `/batches/batch-1/errors?${filter}&cursor=${validCursor}`),
      oddString.filter((text) => text !== 'batch-1').map((batchId) => `/batches/${uriComponent(batchId)}/errors`),
      fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/).filter((batchId) => batchId !== 'batch-1').map((batchId) => `/batches/${batchId}/errors`)
    ),
    fc.constantFrom(undefined, 'text/csv', 'application/json', '*/*', 'text/csv;q=0.1, application/xml'),
    async (url, accept) => {
      await checkRefused(ctx, { method: 'GET', url, headers: accept === undefined ? {} : { accept } })
    }
  ), { numRuns: RUNS })
  t.equal(await storeState(ctx), before)
})

t.test('unknown categories and odd troubleshooting queries are refused with a problem', async (t) => {
  const ctx = await buildTestApp(t)
  const badGuideParam = fc.oneof(
    oddString.filter((text) => text !== 'admin' && text !== 'user').map((value) => ['credentialMode', value]),
    oddString.filter((text) => text !== 'imap' && text !== 'exchange').map((value) => ['migrationType', value]),
    fc.oneof(fc.constant(''), fc.constant('a b'), fc.constant('x'.repeat(256))).map((value) => ['server', value]),
    fc.tuple(fc.constantFrom(...HOSTILE_KEYS.filter((key) => key !== ''), 'category', 'format'), oddString).map(([key, value]) => [key, value])
  )
  await fc.assert(fc.asyncProperty(
    fc.oneof(
      fc.array(badGuideParam, { minLength: 1, maxLength: 3 }).map((params) => `/troubleshooting?${queryString(params)}`),
      fc.tuple(fc.constantFrom(...CATEGORY_IDS), fc.array(badGuideParam, { minLength: 1, maxLength: 3 }))
        .map(([category, params]) => `/troubleshooting/${category}?${queryString(params)}`),
      fc.oneof(oddString, fc.constantFrom(...HOSTILE_KEYS.filter((key) => key !== '')), fc.constant('x'.repeat(65)))
        .filter((category) => category !== '' && !CATEGORY_IDS.has(category))
        .map((category) => `/troubleshooting/${uriComponent(category)}`)
    ),
    async (url) => { await checkRefused(ctx, { method: 'GET', url }) }
  ), { numRuns: RUNS })
  t.pass('every odd troubleshooting request was refused')
})

t.test('unknown routes and wrong methods answer a problem and change nothing', async (t) => {
  const { ctx, before } = await seededApp(t)
  const knownPaths = ['/events', '/events/bulk', '/batches/batch-1/errors', '/troubleshooting', '/troubleshooting/throttled', '/health/live', '/health/ready']
  await fc.assert(fc.asyncProperty(
    fc.oneof(
      fc.tuple(fc.constantFrom('PUT', 'DELETE', 'PATCH', 'OPTIONS'), fc.constantFrom(...knownPaths)),
      fc.tuple(fc.constant('POST'), fc.constantFrom('/batches/batch-1/errors', '/troubleshooting', '/troubleshooting/throttled', '/health/live')),
      fc.tuple(fc.constant('GET'), fc.constantFrom('/events', '/events/bulk')),
      fc.tuple(fc.constantFrom('GET', 'POST', 'DELETE'), fc.array(oddString.filter((text) => text.length < 300), { minLength: 1, maxLength: 4 }).map((segments) => '/' + segments.map(uriComponent).join('/')).filter((path) => !knownPaths.includes(path) && path !== '/' && !/^\/(batches|troubleshooting|docs|openapi|ui|assets|sign-in|sign-out)/.test(path)))
    ),
    fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }),
    async ([method, url], body) => {
      const request: InjectOptions = { method: method as InjectOptions['method'], url, ...(body === undefined || method === 'GET' ? {} : { payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) }
      await checkRefused(ctx, request)
    }
  ), { numRuns: RUNS })
  t.equal(await storeState(ctx), before)
})
