import t from 'tap'
import { Ajv } from 'ajv'
import * as ajvFormats from 'ajv-formats'
import { ErrorReportSchema, ReportItemSchema } from '../src/schemas/batches.js'
import { buildTestApp, failedEvent, postEvent, report, syncedEvent, walkReport as walk, type TestApp } from './helpers/app.js'

async function seedMailboxes (ctx: TestApp, count: number): Promise<void> {
  const events = Array.from({ length: count }, (_, i) => failedEvent({
    mailbox: `user${String(i).padStart(3, '0')}@contoso.com`,
    occurredAt: new Date(Date.parse('2026-11-23T00:00:00Z') + (i % 7) * 60_000).toISOString()
  }))
  const response = await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events } })
  if (response.statusCode !== 200) throw new Error(response.body)
}

t.test('the report, serialized by hand for speed, is exactly the documented shape', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ mailbox: 'a@contoso.com', context: { server: 'imap"quoted"\\host\u00e9' } }))
  await postEvent(ctx, failedEvent({ mailbox: 'b@contoso.com', failure: { category: 'throttled', message: 'busy "now"\n\u2028' } }))
  await postEvent(ctx, syncedEvent({ mailbox: 'c@contoso.com' }))
  const response = await ctx.inject({ method: 'GET', url: '/batches/batch-1/errors?limit=1' })
  t.equal(response.statusCode, 200)
  t.equal(response.headers['content-type'], 'application/json; charset=utf-8')
  const body = response.json()
  const ajv = new Ajv({ strict: false })
  ajvFormats.default.default(ajv)
  t.ok(ajv.validate(ErrorReportSchema, body), JSON.stringify(ajv.errors))
  t.same(Object.keys(body).sort(), Object.keys(ErrorReportSchema.properties).sort(), 'no other keys')
  const walked = await walk(ctx, 'limit=1')
  t.equal(walked.length, 2)
  for (const item of walked) t.same(Object.keys(item).sort(), Object.keys(ReportItemSchema.properties).sort(), 'no other item keys')
  t.match(walked.find((item) => item.mailbox === 'a@contoso.com')?.troubleshooting.steps[0].text ?? '', 'imap"quoted"\\host\u00e9', 'odd characters survive')
  t.equal(walked.find((item) => item.mailbox === 'b@contoso.com')?.lastMessage, 'busy "now"\n\u2028')
})

t.test('the report of an unknown batch is a 404 problem', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'GET', url: '/batches/nope/errors' })
  t.equal(response.statusCode, 404)
  t.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.same(response.json(), { type: 'urn:problem:sync-failure-reports:not-found', title: 'Not Found', status: 404, detail: 'batch "nope" has no events', instance: response.headers['x-request-id'] })
})

t.test('the report carries the summary, the item and its troubleshooting guide', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ context: { migrationType: 'imap', server: 'imap.contoso.com' } }))
  await postEvent(ctx, failedEvent({ mailbox: 'bob@contoso.com', failure: { code: '113', message: 'NO [OVERQUOTA] Quota exceeded' } }))
  const { statusCode, body } = await report(ctx)
  t.equal(statusCode, 200)
  t.same(body.summary, { openFailures: 2, mailboxesFailing: 2, byCategory: { source_sign_in_failed: 1, cloud_mailbox_full: 1 } })
  t.equal(body.nextCursor, null)
  const alice = body.items.find((item) => item.mailbox === 'alice@contoso.com')
  t.ok(alice)
  t.match(alice, { title: String, blocking: true, side: 'source', rule: 'imapsync.exit.161' })
  // No credentialMode: the super-user checks are included.
  t.ok(alice?.troubleshooting.steps.some((step) => step.steps.length === 3))
})

t.test('the summary counts the whole batch, not the page', async (t) => {
  const ctx = await buildTestApp(t)
  await seedMailboxes(ctx, 30)
  const { body } = await report(ctx, 'batch-1', 'limit=5')
  t.equal(body.items.length, 5)
  t.same(body.summary, { openFailures: 30, mailboxesFailing: 30, byCategory: { source_sign_in_failed: 30 } })
})

t.test('items are ordered by lastSeenAt descending, then mailbox', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ mailbox: 'b@contoso.com', occurredAt: '2026-11-23T10:00:00Z' }))
  await postEvent(ctx, failedEvent({ mailbox: 'a@contoso.com', occurredAt: '2026-11-23T10:00:00Z' }))
  await postEvent(ctx, failedEvent({ mailbox: 'c@contoso.com', occurredAt: '2026-11-23T11:00:00Z' }))
  const { body } = await report(ctx)
  t.same(body.items.map((item) => item.mailbox), ['c@contoso.com', 'a@contoso.com', 'b@contoso.com'])
})

t.test('paging through every cursor returns each failure exactly once', async (t) => {
  const ctx = await buildTestApp(t)
  await seedMailboxes(ctx, 53)
  const items = await walk(ctx, 'limit=10')
  t.equal(items.length, 53)
  t.equal(new Set(items.map((item) => item.mailbox)).size, 53)
})

t.test('paging stays exact while events keep arriving', async (t) => {
  const ctx = await buildTestApp(t)
  await seedMailboxes(ctx, 40)
  let tick = 0
  const items = await walk(ctx, 'limit=7', async () => {
    tick += 1
    // Bump a failure that is still ahead of the cursor to the top, and open a brand-new one.
    await postEvent(ctx, failedEvent({ mailbox: `user${String(39 - tick).padStart(3, '0')}@contoso.com`, occurredAt: `2026-11-24T0${tick % 10}:00:00Z` }))
    await postEvent(ctx, failedEvent({ mailbox: `new${tick}@contoso.com`, occurredAt: '2026-11-22T00:00:00Z' }))
  })
  const seeded = items.filter((item) => item.mailbox.startsWith('user'))
  t.equal(seeded.length, 40, 'every failure that existed when the walk began is returned')
  t.equal(new Set(items.map((item) => item.mailbox)).size, items.length, 'none is returned twice')
})

t.test('filters by status, category and mailbox', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ mailbox: 'a@contoso.com' }))
  await postEvent(ctx, failedEvent({ mailbox: 'b@contoso.com', failure: { category: 'throttled', message: 'busy' } }))
  await postEvent(ctx, failedEvent({ mailbox: 'c@contoso.com', failure: { category: 'server_busy', message: 'busy' } }))
  await postEvent(ctx, syncedEvent({ mailbox: 'c@contoso.com' }))
  t.same((await report(ctx, 'batch-1', 'category=throttled&category=source_sign_in_failed')).body.items.map((i) => i.mailbox).sort(), ['a@contoso.com', 'b@contoso.com'])
  t.same((await report(ctx, 'batch-1', 'category=throttled')).body.items.map((i) => i.mailbox), ['b@contoso.com'])
  t.same((await report(ctx, 'batch-1', 'mailbox=A@Contoso.com')).body.items.map((i) => i.mailbox), ['a@contoso.com'])
  t.same((await report(ctx, 'batch-1', 'mailbox=b@contoso.com')).body.items.map((i) => i.mailbox), ['b@contoso.com'], 'same filters, other values')
  t.same((await report(ctx, 'batch-1', 'category=source_sign_in_failed')).body.items.map((i) => i.mailbox), ['a@contoso.com'], 'same filters, other values')
  t.same((await report(ctx, 'batch-1', 'status=resolved')).body.items.map((i) => i.mailbox), ['c@contoso.com'])
  t.equal((await report(ctx, 'batch-1', 'status=all')).body.items.length, 3)
})

t.test('a malformed cursor is a 400 problem', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent())
  for (const cursor of ['garbage', Buffer.from('[2,1,"a","b",1,"x"]').toString('base64url'), Buffer.from('{"a":1}').toString('base64url')]) {
    const { statusCode, body } = await report(ctx, 'batch-1', `cursor=${cursor}`)
    t.equal(statusCode, 400)
    t.match(body, { type: 'urn:problem:sync-failure-reports:invalid-cursor', errors: [{ in: 'querystring', pointer: '/cursor' }] })
  }
})

t.test('a cursor cannot continue a walk with other filters', async (t) => {
  const ctx = await buildTestApp(t)
  await seedMailboxes(ctx, 3)
  const first = await report(ctx, 'batch-1', 'limit=1')
  const other = await report(ctx, 'batch-1', `limit=1&status=all&cursor=${first.body.nextCursor ?? ''}`)
  t.equal(other.statusCode, 400)
})

t.test('Accept: text/csv returns every matching failure as CSV', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ failure: { code: '161', message: 'Login failed, "bad" password\nline two' } }))
  await postEvent(ctx, failedEvent({ mailbox: 'bob@contoso.com', failure: { category: 'throttled', message: '=HYPERLINK("http://x")' } }))
  const response = await ctx.inject({ method: 'GET', url: '/batches/batch-1/errors', headers: { accept: 'text/csv' } })
  t.equal(response.statusCode, 200)
  t.equal(response.headers['content-type'], 'text/csv; charset=utf-8')
  const lines = response.body.split('\r\n')
  t.equal(lines[0], '\uFEFFmailbox,category,title,status,blocking,side,firstSeenAt,lastSeenAt,occurrences,reopenCount,lastCode,lastMessage,rule,resolvedAt,heldUpSince,troubleshooting')
  t.match(response.body, /"Login failed, ""bad"" password\nline two"/)
  t.match(response.body, /,"'=HYPERLINK\(""http:\/\/x""\)",/)
})

t.test('format=csv returns CSV without paging', async (t) => {
  const ctx = await buildTestApp(t)
  await seedMailboxes(ctx, 620)
  const response = await ctx.inject({ method: 'GET', url: '/batches/batch-1/errors?format=csv&limit=1' })
  t.equal(response.statusCode, 200)
  t.equal(response.body.trimEnd().split('\r\n').length, 621)
})
