import t from 'tap'
import { buildTestApp, failedEvent, postEvent, report, syncedEvent } from './helpers/app.js'

const HOUR = 3_600_000

t.test('GET /batches lists every batch with its counts, newest batch first', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ batchId: 'old', occurredAt: '2026-11-20T10:00:00Z' }))
  ctx.clock.advance(1000)
  await postEvent(ctx, syncedEvent({ batchId: 'new', mailbox: 'a@contoso.com', occurredAt: '2026-11-24T09:00:00Z' }))
  await postEvent(ctx, failedEvent({ batchId: 'new', mailbox: 'b@contoso.com', occurredAt: '2026-11-24T10:00:00Z', failure: { category: 'items_skipped', message: 'skipped' } }))
  await postEvent(ctx, failedEvent({ batchId: 'new', mailbox: 'c@contoso.com', occurredAt: '2026-11-24T08:00:00Z', failure: { category: 'cloud_mailbox_full', message: 'full' } }))
  const response = await ctx.inject({ method: 'GET', url: '/batches' })
  t.equal(response.statusCode, 200)
  t.same(response.json(), {
    items: [{
      batchId: 'new',
      firstEventAt: '2026-11-24T08:00:00.000Z',
      lastEventAt: '2026-11-24T10:00:00.000Z',
      createdAt: '2026-11-24T12:00:01.000Z',
      mailboxesSeen: 3,
      mailboxesSynced: 2,
      mailboxesFailing: 1,
      mailboxesStalled: 0,
      openFailures: 2,
      byCategory: { cloud_mailbox_full: 1, items_skipped: 1 }
    }, {
      batchId: 'old',
      firstEventAt: '2026-11-20T10:00:00.000Z',
      lastEventAt: '2026-11-20T10:00:00.000Z',
      createdAt: '2026-11-24T12:00:00.000Z',
      mailboxesSeen: 1,
      mailboxesSynced: 0,
      mailboxesFailing: 1,
      mailboxesStalled: 0,
      openFailures: 1,
      byCategory: { source_sign_in_failed: 1 }
    }],
    nextCursor: null
  })
})

t.test('GET /batches pages with a cursor through every batch once', async (t) => {
  const ctx = await buildTestApp(t)
  // Created in the same millisecond, then one apart: ties go by batchId.
  for (let i = 0; i < 5; i += 1) {
    await postEvent(ctx, syncedEvent({ batchId: `b-${i}`, occurredAt: `2026-11-2${i % 2}T10:00:00Z` }))
    if (i >= 2) ctx.clock.advance(1)
  }
  const seen: string[] = []
  let cursor: string | null = null
  do {
    const suffix: string = cursor === null ? '' : `&cursor=${cursor}`
    const response = await ctx.inject({ method: 'GET', url: `/batches?limit=2${suffix}` })
    const body = response.json<{ items: Array<{ batchId: string }>, nextCursor: string | null }>()
    seen.push(...body.items.map((item) => item.batchId))
    cursor = body.nextCursor
  } while (cursor !== null)
  t.same(seen, ['b-4', 'b-3', 'b-0', 'b-1', 'b-2'])
})

t.test('GET /batches refuses a cursor it did not issue', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'GET', url: '/batches?cursor=garbage' })
  t.equal(response.statusCode, 400)
  t.same(response.json(), {
    type: 'urn:problem:sync-failure-reports:invalid-cursor',
    title: 'Invalid cursor',
    status: 400,
    detail: 'cursor is not one this service issued',
    errors: [{ in: 'querystring', pointer: '/cursor', detail: 'cursor is not one this service issued' }],
    instance: response.headers['x-request-id']
  })
})

t.test('GET /batches/:batchId gives the summary and the failure holding mail up longest', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, syncedEvent({ mailbox: 'a@contoso.com', occurredAt: '2026-11-22T10:00:00Z' }))
  await postEvent(ctx, failedEvent({ mailbox: 'a@contoso.com', occurredAt: '2026-11-24T10:00:00Z', failure: { category: 'items_skipped', message: 'skipped' } }))
  await postEvent(ctx, failedEvent({ mailbox: 'b@contoso.com', occurredAt: '2026-11-24T09:00:00Z' }))
  await ctx.app.stallSweep.runOnce()
  const response = await ctx.inject({ method: 'GET', url: '/batches/batch-1' })
  t.equal(response.statusCode, 200)
  t.same(response.json(), {
    batchId: 'batch-1',
    firstEventAt: '2026-11-22T10:00:00.000Z',
    lastEventAt: '2026-11-24T10:00:00.000Z',
    createdAt: '2026-11-24T12:00:00.000Z',
    mailboxesSeen: 2,
    mailboxesSynced: 0,
    mailboxesFailing: 1,
    mailboxesStalled: 1,
    openFailures: 3,
    byCategory: { items_skipped: 1, source_sign_in_failed: 1, sync_stalled: 1 },
    oldestBlockingFailure: {
      mailbox: 'a@contoso.com',
      category: 'sync_stalled',
      title: 'The mailbox is no longer being synchronized',
      heldUpSince: '2026-11-22T10:00:00.000Z'
    }
  })
})

t.test('a batch with no open blocking failure has no oldest blocking failure', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, syncedEvent())
  const response = await ctx.inject({ method: 'GET', url: '/batches/batch-1' })
  t.match(response.json(), { mailboxesSynced: 1, oldestBlockingFailure: null })
})

t.test('an unknown batch is a 404 problem on every batch route', async (t) => {
  const ctx = await buildTestApp(t)
  for (const url of ['/batches/nope', '/batches/nope/retry-list', '/batches/nope/mailboxes/a@contoso.com']) {
    const response = await ctx.inject({ method: 'GET', url })
    t.equal(response.statusCode, 404, url)
    t.same(response.json(), { type: 'urn:problem:sync-failure-reports:not-found', title: 'Not Found', status: 404, detail: 'batch "nope" has no events', instance: response.headers['x-request-id'] })
  }
})

t.test('the batch summary answers 304 to its own ETag until its content changes', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-24T10:00:00Z' }))
  const first = await ctx.inject({ method: 'GET', url: '/batches/batch-1' })
  const etag = first.headers.etag as string
  t.match(etag, /^"[A-Za-z0-9_-]{43}"$/)
  const again = await ctx.inject({ method: 'GET', url: '/batches/batch-1', headers: { 'if-none-match': etag } })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')
  t.equal(again.headers.etag, etag)
  // Another batch's events do not change this one.
  await postEvent(ctx, failedEvent({ batchId: 'other' }))
  t.equal((await ctx.inject({ method: 'GET', url: '/batches/batch-1', headers: { 'if-none-match': etag } })).statusCode, 304)
  // The sweep changes it once the mailbox stalls.
  ctx.clock.advance(30 * HOUR)
  await ctx.app.stallSweep.runOnce()
  const stalled = await ctx.inject({ method: 'GET', url: '/batches/batch-1', headers: { 'if-none-match': etag } })
  t.equal(stalled.statusCode, 200)
  t.not(stalled.headers.etag, etag)
  t.equal(stalled.json().mailboxesStalled, 1)
})

t.test('the batch list and the error report answer 304 to their ETag and change with an event', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent())
  for (const url of ['/batches', '/batches/batch-1/errors']) {
    const first = await ctx.inject({ method: 'GET', url })
    const etag = first.headers.etag as string
    const notModified = await ctx.inject({ method: 'GET', url, headers: { 'if-none-match': `W/"x", ${etag}` } })
    t.equal(notModified.statusCode, 304, url)
    t.equal(notModified.body, '', 'no body')
    t.equal(notModified.headers['content-type'], undefined, 'no content headers')
    t.equal(notModified.headers.etag, etag, 'the tag again')
    await postEvent(ctx, failedEvent({ mailbox: `${url.length}@contoso.com` }))
    const changed = await ctx.inject({ method: 'GET', url, headers: { 'if-none-match': etag } })
    t.equal(changed.statusCode, 200, url)
    t.not(changed.headers.etag, etag)
  }
})

t.test('the error report ETag ignores events of other batches', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent())
  await postEvent(ctx, failedEvent({ mailbox: 'b@contoso.com' }))
  const first = await ctx.inject({ method: 'GET', url: '/batches/batch-1/errors?limit=1' })
  await postEvent(ctx, failedEvent({ batchId: 'other' }))
  const again = await ctx.inject({ method: 'GET', url: '/batches/batch-1/errors?limit=1', headers: { 'if-none-match': first.headers.etag as string } })
  t.equal(again.statusCode, 304)
})

t.test('the retry list is CSV of the stalled mailboxes by default', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, syncedEvent({ mailbox: 'zed@contoso.com', occurredAt: '2026-11-22T10:00:00Z' }))
  await postEvent(ctx, syncedEvent({ mailbox: 'amy@contoso.com', occurredAt: '2026-11-22T10:00:00Z' }))
  await postEvent(ctx, syncedEvent({ mailbox: 'fresh@contoso.com', occurredAt: '2026-11-24T10:00:00Z' }))
  await postEvent(ctx, failedEvent({ mailbox: 'bob@contoso.com' }))
  await ctx.app.stallSweep.runOnce()
  const response = await ctx.inject({ method: 'GET', url: '/batches/batch-1/retry-list' })
  t.equal(response.statusCode, 200)
  t.equal(response.headers['content-type'], 'text/csv; charset=utf-8')
  t.equal(response.headers['content-disposition'], 'attachment; filename="batch-1-retry.csv"')
  t.equal(response.body, 'EmailAddress\r\namy@contoso.com\r\nzed@contoso.com\r\n')
})

t.test('the retry list takes the categories to include, each mailbox once', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ mailbox: 'bob@contoso.com' }))
  await postEvent(ctx, failedEvent({ mailbox: 'bob@contoso.com', failure: { category: 'source_unreachable', message: 'down' } }))
  await postEvent(ctx, failedEvent({ mailbox: 'cy@contoso.com', failure: { category: 'throttled', message: 'slow' } }))
  const response = await ctx.inject({ method: 'GET', url: '/batches/batch-1/retry-list?category=source_sign_in_failed&category=source_unreachable' })
  t.equal(response.body, 'EmailAddress\r\nbob@contoso.com\r\n')
  const bad = await ctx.inject({ method: 'GET', url: '/batches/batch-1/retry-list?category=nope' })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { type: 'urn:problem:sync-failure-reports:validation', errors: [{ in: 'querystring', pointer: '/category/0' }] })
})

t.test('the retry list streams more mailboxes than one page', async (t) => {
  const ctx = await buildTestApp(t)
  const events = Array.from({ length: 520 }, (_, i) => syncedEvent({ mailbox: `u${String(i).padStart(3, '0')}@contoso.com`, occurredAt: '2026-11-20T10:00:00Z' }))
  await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events } })
  await ctx.app.stallSweep.runOnce()
  const response = await ctx.inject({ method: 'GET', url: '/batches/batch-1/retry-list' })
  const lines = response.body.trimEnd().split('\r\n')
  t.equal(lines.length, 521)
  t.equal(new Set(lines).size, 521)
})

t.test('since and until filter the error report on lastSeenAt', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ mailbox: 'a@contoso.com', occurredAt: '2026-11-23T08:00:00Z' }))
  await postEvent(ctx, failedEvent({ mailbox: 'b@contoso.com', occurredAt: '2026-11-23T10:00:00Z' }))
  await postEvent(ctx, failedEvent({ mailbox: 'c@contoso.com', occurredAt: '2026-11-23T12:00:00Z' }))
  const mailboxes = async (query: string): Promise<string[]> => (await report(ctx, 'batch-1', query)).body.items.map((item) => item.mailbox)
  t.same(await mailboxes('since=2026-11-23T10:00:00Z'), ['c@contoso.com', 'b@contoso.com'])
  t.same(await mailboxes('until=2026-11-23T10:00:00Z'), ['a@contoso.com'])
  t.same(await mailboxes('since=2026-11-23T09:00:00%2B00:00&until=2026-11-23T11:00:00Z'), ['b@contoso.com'])
  const csv = await ctx.inject({ method: 'GET', url: '/batches/batch-1/errors?format=csv&since=2026-11-23T11:00:00Z' })
  t.equal(csv.body.trimEnd().split('\r\n').length, 2)
})

t.test('since must be an RFC 3339 time and belongs to the cursor\'s filters', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ mailbox: 'a@contoso.com' }))
  await postEvent(ctx, failedEvent({ mailbox: 'b@contoso.com' }))
  const bad = await report(ctx, 'batch-1', 'since=yesterday')
  t.equal(bad.statusCode, 400)
  t.match(bad.body, { type: 'urn:problem:sync-failure-reports:validation', errors: [{ in: 'querystring', pointer: '/since' }] })
  const first = await report(ctx, 'batch-1', 'limit=1')
  const other = await report(ctx, 'batch-1', `limit=1&since=2026-11-01T00:00:00Z&cursor=${first.body.nextCursor ?? ''}`)
  t.equal(other.statusCode, 400)
  t.match(other.body, { type: 'urn:problem:sync-failure-reports:invalid-cursor' })
})

t.test('one 400 names an unrepresentable since or until together with the query\'s schema errors', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ mailbox: 'alice@contoso.com' }))
  // A leap second: the date-time format accepts it, JavaScript cannot represent it.
  const response = await ctx.inject({ method: 'GET', url: '/batches/batch-1/errors?since=2026-12-31T23:59:60Z&until=soon&limit=0' })
  t.equal(response.statusCode, 400)
  t.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8')
  const body = response.json()
  t.equal(body.type, 'urn:problem:sync-failure-reports:validation')
  t.same(body.errors.map((error: { pointer: string }) => error.pointer).sort(), ['/limit', '/since', '/until'])
  t.match(body.errors.find((error: { pointer: string }) => error.pointer === '/since'), { in: 'querystring', detail: 'is not a representable RFC 3339 time' })
  t.equal(body.errors.filter((error: { pointer: string }) => error.pointer === '/until').length, 1, 'a time the schema refused is named once')
  t.match(body.detail, /querystring\/since is not a representable RFC 3339 time/)

  const alone = await report(ctx, 'batch-1', 'until=2026-06-30T23:59:60Z')
  t.equal(alone.statusCode, 400)
  t.same(alone.body, {
    type: 'urn:problem:sync-failure-reports:validation',
    title: 'Request validation failed',
    status: 400,
    detail: 'querystring/until is not a representable RFC 3339 time',
    errors: [{ in: 'querystring', pointer: '/until', detail: 'is not a representable RFC 3339 time' }],
    instance: (alone.body as unknown as { instance: string }).instance
  })
  const badPath = await ctx.inject({ method: 'GET', url: '/batches/%3Cx%3E/errors?since=2026-12-31T23:59:60Z' })
  t.equal(badPath.statusCode, 400, 'a bad batch id is still refused as before')
  t.match(badPath.json(), { errors: [{ in: 'params', pointer: '/batchId' }] })
})
