import t, { type Test } from 'tap'
import { SEARCH_SCAN } from '../src/repositories/read-queries.js'
import { buildTestApp, failedEvent, postEvent, report, syncedEvent, walkReport, type ErrorReport, type TestApp } from './helpers/app.js'

// The error report's partial mailbox search (mailboxContains), on whichever store the suite runs.

async function post (ctx: TestApp, mailboxes: string[], overrides: (index: number) => Record<string, unknown> = () => ({})): Promise<void> {
  const events = mailboxes.map((mailbox, index) => failedEvent({ mailbox, ...overrides(index) }))
  const response = await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events } })
  if (response.statusCode !== 200) throw new Error(response.body)
}

async function found (ctx: TestApp, query: string): Promise<string[]> {
  const { statusCode, body } = await report(ctx, 'batch-1', query)
  if (statusCode !== 200) throw new Error(JSON.stringify(body))
  return body.items.map((item) => item.mailbox).sort()
}

/** The walk's items, each page checked to hold at most 4 (the limit these walks ask for). */
async function walk (t: Test, ctx: TestApp, query: string, between?: (page: number) => Promise<void>): Promise<ErrorReport['items']> {
  return await walkReport(ctx, query, async (page, body) => {
    t.ok(body.items.length <= 4, `page ${page} holds at most limit items`)
    if (between !== undefined) await between(page)
  })
}

t.test('mailboxContains finds every mailbox whose address contains the text, in any case', async (t) => {
  const ctx = await buildTestApp(t)
  await post(ctx, ['alice@contoso.com', 'KALINA@fabrikam.com', 'bob@contoso.com', 'carol@fabrikam.com'])
  t.same(await found(ctx, 'mailboxContains=ALI'), ['alice@contoso.com', 'kalina@fabrikam.com'])
  t.same(await found(ctx, 'mailboxContains=%40Contoso.COM'), ['alice@contoso.com', 'bob@contoso.com'])
  t.same(await found(ctx, 'mailboxContains=carol%40fabrikam.com'), ['carol@fabrikam.com'], 'a whole address is a match too')
  t.same(await found(ctx, 'mailboxContains=nobody'), [])
})

t.test('mailboxContains combines with status, category and the exact mailbox filter', async (t) => {
  const ctx = await buildTestApp(t)
  await post(ctx, ['alice@contoso.com', 'alina@contoso.com'])
  await postEvent(ctx, failedEvent({ mailbox: 'alan@contoso.com', failure: { category: 'throttled', message: 'busy' } }))
  await postEvent(ctx, syncedEvent({ mailbox: 'alina@contoso.com' }))
  t.same(await found(ctx, 'mailboxContains=al'), ['alan@contoso.com', 'alice@contoso.com'], 'open only, by default')
  t.same(await found(ctx, 'mailboxContains=al&status=resolved'), ['alina@contoso.com'])
  t.same(await found(ctx, 'mailboxContains=al&status=all&category=throttled'), ['alan@contoso.com'])
  t.same(await found(ctx, 'mailboxContains=ice&mailbox=alice%40contoso.com'), ['alice@contoso.com'])
  t.same(await found(ctx, 'mailboxContains=bob&mailbox=alice%40contoso.com'), [], 'both must hold')
  t.same(await found(ctx, 'mailbox=ALICE%40contoso.com'), ['alice@contoso.com'], 'the exact filter works as before')
})

t.test('percent sign, underscore and backslash in the search are literal characters, not wildcards', async (t) => {
  const ctx = await buildTestApp(t)
  await post(ctx, ['a_b@x.com', 'axb@x.com', 'a%b@x.com', 'ab@x.com'])
  t.same(await found(ctx, 'mailboxContains=_'), ['a_b@x.com'])
  t.same(await found(ctx, 'mailboxContains=%25'), ['a%b@x.com'])
  t.same(await found(ctx, 'mailboxContains=a_b'), ['a_b@x.com'], 'an underscore does not stand for any one character')
  t.same(await found(ctx, 'mailboxContains=a%25b'), ['a%b@x.com'], 'a percent sign does not stand for any text')
  t.same(await found(ctx, 'mailboxContains=%5C'), [], 'a backslash is searched for, not taken as an escape')
  t.same(await found(ctx, 'mailboxContains=a%5C_b'), [], 'no address holds a backslash')
  t.same(await found(ctx, 'mailboxContains=%25%25'), [])
})

t.test('paging with cursors stays exact with the search applied, also while events arrive', async (t) => {
  const ctx = await buildTestApp(t)
  const mailboxes = Array.from({ length: 60 }, (_, i) => `${i % 3 === 0 ? 'team' : 'user'}${String(i).padStart(2, '0')}@contoso.com`)
  await post(ctx, mailboxes, (i) => ({ occurredAt: new Date(Date.parse('2026-11-23T00:00:00Z') + (i % 7) * 60_000).toISOString() }))
  const matching = mailboxes.filter((mailbox) => mailbox.startsWith('team')).sort()
  const quiet = await walk(t, ctx, 'limit=4&mailboxContains=TEAM')
  t.same(quiet.map((item) => item.mailbox).sort(), matching, 'every matching failure once, no other')
  let tick = 0
  const busy = await walk(t, ctx, 'limit=4&mailboxContains=team', async () => {
    tick += 1
    // Move a matching failure still ahead of the cursor to the top, and open new ones, matching and not.
    await postEvent(ctx, failedEvent({ mailbox: matching[matching.length - 1 - (tick % matching.length)], occurredAt: `2026-11-24T0${tick % 10}:00:00Z` }))
    await postEvent(ctx, failedEvent({ mailbox: `team-new${tick}@contoso.com`, occurredAt: '2026-11-22T00:00:00Z' }))
    await postEvent(ctx, failedEvent({ mailbox: `user-new${tick}@contoso.com`, occurredAt: '2026-11-22T00:00:00Z' }))
  })
  const names = busy.map((item) => item.mailbox)
  t.same(names.filter((name) => !name.includes('-new')).sort(), matching, 'each failure that matched when the walk began')
  t.equal(new Set(names).size, names.length, 'none twice')
  t.ok(names.every((name) => name.includes('team')), 'nothing that does not match')
})

t.test('a search reads at most SEARCH_SCAN rows a page: a short or empty page carries the cursor on', async (t) => {
  const ctx = await buildTestApp(t)
  // SEARCH_SCAN + 500 failures in report order (newest first); the one match is the oldest, last.
  const total = SEARCH_SCAN + 500
  const start = Date.parse('2026-11-20T00:00:00Z')
  const names = Array.from({ length: total - 1 }, (_, i) => `user${String(i).padStart(5, '0')}@contoso.com`)
  for (let from = 0; from < names.length; from += 1000) {
    await post(ctx, names.slice(from, from + 1000), (i) => ({ occurredAt: new Date(start + (from + i + 10) * 1000).toISOString() }))
  }
  await post(ctx, ['needle@fabrikam.com'], () => ({ occurredAt: new Date(start).toISOString() }))
  const first = await report(ctx, 'batch-1', 'limit=10&mailboxContains=needle')
  t.equal(first.statusCode, 200)
  t.same(first.body.items, [], 'the first SEARCH_SCAN rows hold no match: an empty page')
  t.type(first.body.nextCursor, 'string', 'with a cursor, as the scan stopped before the end')
  const pages: number[] = []
  const found = await walkReport(ctx, 'limit=10&mailboxContains=needle', async (_page, body) => { pages.push(body.items.length) })
  t.same(found.map((item) => item.mailbox), ['needle@fabrikam.com'], 'following the cursors finds the match')
  t.same(pages, [0, 1], 'two pages: the bounded scan, then the rest of the batch')
  const common = await walkReport(ctx, 'limit=500&mailboxContains=user0')
  const expected = names.filter((name) => name.includes('user0'))
  t.equal(common.length, expected.length, 'a common text: every match once')
  t.equal(new Set(common.map((item) => item.mailbox)).size, expected.length, 'none twice')
})

t.test('a cursor continues only the search it came from', async (t) => {
  const ctx = await buildTestApp(t)
  await post(ctx, ['team1@contoso.com', 'team2@contoso.com', 'team3@contoso.com'])
  const first = await report(ctx, 'batch-1', 'limit=1&mailboxContains=team')
  const cursor = encodeURIComponent(first.body.nextCursor ?? '')
  t.equal((await report(ctx, 'batch-1', `limit=1&mailboxContains=TEAM&cursor=${cursor}`)).statusCode, 200, 'the same search in another case is the same walk')
  for (const query of [`limit=1&mailboxContains=team1&cursor=${cursor}`, `limit=1&cursor=${cursor}`]) {
    const other = await report(ctx, 'batch-1', query)
    t.equal(other.statusCode, 400)
    t.match(other.body, { type: 'urn:problem:sync-failure-reports:invalid-cursor' })
  }
  const plain = await report(ctx, 'batch-1', 'limit=1')
  const searched = await report(ctx, 'batch-1', `limit=1&mailboxContains=team&cursor=${encodeURIComponent(plain.body.nextCursor ?? '')}`)
  t.equal(searched.statusCode, 400, 'a walk without a search cannot go on with one')
})

t.test('the CSV export holds only the failures the search finds', async (t) => {
  const ctx = await buildTestApp(t)
  await post(ctx, ['alice@contoso.com', 'bob@contoso.com', 'malice@fabrikam.com'])
  const response = await ctx.inject({ method: 'GET', url: '/batches/batch-1/errors?format=csv&mailboxContains=ALICE' })
  t.equal(response.statusCode, 200)
  const mailboxes = response.body.trimEnd().split('\r\n').slice(1).map((line) => line.split(',')[0]).sort()
  t.same(mailboxes, ['alice@contoso.com', 'malice@fabrikam.com'])
})

t.test('an empty or over-long search is a 400 problem naming it, with every other problem of the query', async (t) => {
  const ctx = await buildTestApp(t)
  await post(ctx, ['alice@contoso.com'])
  const empty = await report(ctx, 'batch-1', 'mailboxContains=')
  t.equal(empty.statusCode, 400)
  t.match(empty.body, { type: 'urn:problem:sync-failure-reports:validation', errors: [{ in: 'querystring', pointer: '/mailboxContains' }] })
  const long = await ctx.inject({ method: 'GET', url: `/batches/batch-1/errors?mailboxContains=${'a'.repeat(321)}&mailbox=alice&limit=0` })
  t.equal(long.statusCode, 400)
  t.equal(long.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.same(long.json().errors.map((error: { pointer: string }) => error.pointer).sort(), ['/limit', '/mailbox', '/mailboxContains'])
  t.equal((await report(ctx, 'batch-1', `mailboxContains=${'a'.repeat(320)}`)).statusCode, 200, '320 characters are allowed')
})
