import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { issueApiKey } from '../src/repositories/api-keys.js'
import { buildTestApp, failedEvent, freshStores, postEvent, syncedEvent, type TestApp } from './helpers/app.js'
import { SESSION_COOKIE, sessionKey } from '../src/plugins/session.js'
import { trendFromChanges, TREND_DAYS, escapeXml, statesSvg } from '../src/pages/charts.js'
import type { Change } from '../src/domain/changes.js'

const XSS = '<img src=x onerror=alert(1)>'

function cookieOf (response: LightMyRequestResponse): string {
  const header = response.headers['set-cookie']
  const line = (Array.isArray(header) ? header : [header ?? '']).find((value) => value.startsWith(`${SESSION_COOKIE}=`)) ?? ''
  return line.split(';')[0]
}

function csrfOf (html: string): string {
  return /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? ''
}

/** Signs in through the form as a browser does; returns the session cookie. */
async function signIn (ctx: TestApp, apiKey = ctx.key, next = ''): Promise<{ cookie: string, response: LightMyRequestResponse }> {
  const form = await ctx.inject({ method: 'GET', url: '/', auth: false })
  const cookie = cookieOf(form)
  const response = await ctx.inject({
    method: 'POST',
    url: `/sign-in${next}`,
    auth: false,
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ apiKey, _csrf: csrfOf(form.body) }).toString()
  })
  return { cookie: cookieOf(response) || cookie, response }
}

async function page (ctx: TestApp, url: string, cookie: string): Promise<LightMyRequestResponse> {
  return await ctx.inject({ method: 'GET', url, auth: false, headers: { cookie } })
}

t.test('sign in with a reports:read key, read the pages, sign out', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ mailbox: 'x@contoso.com', failure: { message: XSS } }))
  const anonymous = await ctx.inject({ method: 'GET', url: '/', auth: false })
  t.equal(anonymous.statusCode, 200)
  t.match(anonymous.body, /<h1>Sign in<\/h1>/)
  const away = await ctx.inject({ method: 'GET', url: '/ui/batches/batch-1', auth: false })
  t.equal(away.statusCode, 303)
  t.equal(away.headers.location, '/?next=%2Fui%2Fbatches%2Fbatch-1')

  const { cookie, response } = await signIn(ctx, ctx.key, '?next=%2Fui%2Fbatches%2Fbatch-1')
  t.equal(response.statusCode, 303)
  t.equal(response.headers.location, '/ui/batches/batch-1')
  const setCookie = String(response.headers['set-cookie'])
  t.match(setCookie, /HttpOnly/)
  t.match(setCookie, /SameSite=Strict/)
  t.match(setCookie, /Max-Age=43200/)
  t.notMatch(setCookie, /Secure/, 'not Secure without an https PUBLIC_URL')
  t.notOk(setCookie.includes(ctx.key), 'the key is not in the cookie')
  t.notOk(response.body.includes(ctx.key), 'nor in the answer')

  const list = await page(ctx, '/', cookie)
  t.equal(list.statusCode, 200)
  t.match(list.body, /href="\/ui\/batches\/batch-1"/)
  t.match(list.body, /Sign out/)
  const batch = await page(ctx, '/ui/batches/batch-1', cookie)
  t.equal(batch.statusCode, 200)
  t.ok(batch.body.includes('&lt;img src=x onerror=alert(1)&gt;'), 'the hostile message is escaped')
  t.notOk(batch.body.includes(XSS), 'and never raw')
  t.match(batch.body, /<svg[^>]+role="img"/)
  t.match(batch.body, /The chart&#39;s figures as a table|The chart's figures as a table/)
  t.match(batch.body, /data-stream="\/batches\/batch-1\/stream"/)
  t.match(batch.body, /<details class="steps">/)
  t.match(batch.body, /errors\?format=csv&amp;status=open/)
  t.match(batch.headers['content-security-policy'], /script-src 'self'/)
  t.notMatch(batch.headers['content-security-policy'], /upgrade-insecure-requests/)
  t.notMatch(batch.body, /<script>/, 'no inline script')

  const mailbox = await page(ctx, '/ui/batches/batch-1/mailboxes/x%40contoso.com', cookie)
  t.equal(mailbox.statusCode, 200)
  t.match(mailbox.body, /x@contoso\.com/)
  t.ok(mailbox.body.includes('&lt;img'))
  const guides = await page(ctx, '/ui/troubleshooting', cookie)
  t.equal(guides.statusCode, 200)
  t.match(guides.body, /id="source_sign_in_failed"/)
  // The session reads the API too (GET only), as the CSV buttons need.
  const csv = await page(ctx, '/batches/batch-1/errors?format=csv', cookie)
  t.equal(csv.statusCode, 200)
  t.match(csv.headers['content-type'], /text\/csv/)
  // It never writes: a cookie the browser sends by itself cannot post events or reach admin routes.
  const write = await ctx.inject({ method: 'POST', url: '/events', auth: false, headers: { cookie }, payload: failedEvent() })
  t.equal(write.statusCode, 401)
  const admin = await page(ctx, '/api-keys', cookie)
  t.equal(admin.statusCode, 401)

  const out = await ctx.inject({
    method: 'POST',
    url: '/sign-out',
    auth: false,
    // The list page started the session's CSRF secret: the browser keeps the cookie it was sent.
    headers: { cookie: cookieOf(list) || cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: `_csrf=${encodeURIComponent(csrfOf(list.body))}`
  })
  t.equal(out.statusCode, 303)
  t.match(String(out.headers['set-cookie']), /Max-Age=0|Expires=Thu, 01 Jan 1970/)
  const after = await page(ctx, '/ui/batches/batch-1', cookieOf(out))
  t.equal(after.statusCode, 303)
})

t.test('sign-in refuses bad keys, keys without reports:read and forms without their CSRF token', async (t) => {
  const ctx = await buildTestApp(t)
  const bad = await signIn(ctx, 'sfr_' + 'A'.repeat(43))
  t.equal(bad.response.statusCode, 401)
  t.match(bad.response.body, /not valid or has been revoked/)
  const { secret: writer } = await issueApiKey(ctx.apiKeys, { tenantId: 'default', scopes: ['events:write'] }, ctx.clock.now)
  const narrow = await signIn(ctx, writer)
  t.equal(narrow.response.statusCode, 403)
  t.match(narrow.response.body, /reports:read/)
  const form = await ctx.inject({ method: 'GET', url: '/', auth: false })
  const forged = await ctx.inject({
    method: 'POST',
    url: '/sign-in',
    auth: false,
    headers: { cookie: cookieOf(form), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ apiKey: ctx.key, _csrf: 'forged' }).toString()
  })
  t.equal(forged.statusCode, 403)
  t.match(forged.body, /security token/)
  t.equal(forged.headers['set-cookie'] === undefined || !String(forged.headers['set-cookie']).includes('key'), true)
  const noCookie = await ctx.inject({
    method: 'POST',
    url: '/sign-in',
    auth: false,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ apiKey: ctx.key, _csrf: csrfOf(form.body) }).toString()
  })
  t.equal(noCookie.statusCode, 403)
  // A sign-in never sends the browser to another site.
  const offsite = await signIn(ctx, ctx.key, '?next=https%3A%2F%2Fevil.example%2F')
  t.equal(offsite.response.headers.location, '/')
})

t.test('tenant isolation: another tenant\'s batch is a 404 page; a revoked key ends the session', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent())
  const { secret, key } = await issueApiKey(ctx.apiKeys, { tenantId: 'other', scopes: ['reports:read'] }, ctx.clock.now)
  const { cookie } = await signIn(ctx, secret)
  const foreign = await page(ctx, '/ui/batches/batch-1', cookie)
  t.equal(foreign.statusCode, 404)
  t.match(foreign.body, /has no events/)
  const list = await page(ctx, '/', cookie)
  t.notMatch(list.body, /batch-1/)
  t.equal((await page(ctx, '/ui/batches/batch-1/mailboxes/alice%40contoso.com', cookie)).statusCode, 404)
  await ctx.apiKeys.revoke(key.id, ctx.clock.now)
  const revoked = await page(ctx, '/ui/troubleshooting', cookie)
  t.equal(revoked.statusCode, 303)
})

t.test('the batch page filters and pages with the API\'s cursors', async (t) => {
  const ctx = await buildTestApp(t)
  for (let i = 0; i < 55; i++) await postEvent(ctx, failedEvent({ mailbox: `u${String(i).padStart(2, '0')}@contoso.com` }))
  await postEvent(ctx, failedEvent({ mailbox: 'full@contoso.com', failure: { category: 'cloud_mailbox_full', message: 'full' } }))
  await postEvent(ctx, syncedEvent({ mailbox: 'u00@contoso.com', occurredAt: '2026-11-24T11:00:00Z' }))
  const { cookie } = await signIn(ctx)
  const first = await page(ctx, '/ui/batches/batch-1', cookie)
  const next = /href="([^"]+cursor=[^"]+)" rel="next"/.exec(first.body)?.[1].replaceAll('&amp;', '&')
  t.ok(next !== undefined, 'a next-page link')
  const second = await page(ctx, next as string, cookie)
  t.equal(second.statusCode, 200)
  t.match(second.body, /First page/)
  const full = await page(ctx, '/ui/batches/batch-1?status=open&category=cloud_mailbox_full&mailboxContains=', cookie)
  t.match(full.body, /full@contoso\.com/)
  t.notMatch(full.body, /u01@contoso\.com/)
  const one = await page(ctx, '/ui/batches/batch-1?status=resolved&category=&mailboxContains=U00%40contoso.com', cookie)
  t.match(one.body, /u00@contoso\.com/)
  t.match(one.body, /status-resolved/)
  const some = await page(ctx, '/ui/batches/batch-1?status=open&category=&mailboxContains=+U0+', cookie)
  t.same([...some.body.matchAll(/<th scope="row"><a [^>]*>([^<]+)<\/a>/g)].map((match) => match[1]).sort(),
    Array.from({ length: 9 }, (_, i) => `u0${i + 1}@contoso.com`), 'part of an address, any case, trimmed: u01-u09 (u00 is resolved)')
  t.match(some.body, /value="U0"/, 'the search box shows the search')
  t.match(some.body, /errors\?format=csv&amp;status=open&amp;mailboxContains=U0"/, 'the CSV link carries the search')
  t.equal((await page(ctx, `/ui/batches/batch-1?mailboxContains=${'a'.repeat(321)}`, cookie)).statusCode, 400)
  const stale = await page(ctx, '/ui/batches/batch-1?cursor=garbage', cookie)
  t.equal(stale.statusCode, 400)
  t.match(stale.body, /out of date/)
  const badFilter = await page(ctx, '/ui/batches/batch-1?status=nonsense', cookie)
  t.equal(badFilter.statusCode, 400)
  const badId = await page(ctx, '/ui/batches/%3Cscript%3E', cookie)
  t.equal(badId.statusCode, 400)
  t.notMatch(badId.body, /<script>/)
})

t.test('PUBLIC_URL https: Secure cookie and upgrade-insecure-requests; plain http: neither, on the pages and on /docs', async (t) => {
  const https = await buildTestApp(t, { PUBLIC_URL: 'https://reports.example.com' })
  const { response } = await signIn(https)
  t.match(String(response.headers['set-cookie']), /Secure/)
  const secure = await https.inject({ method: 'GET', url: '/', auth: false })
  t.match(secure.headers['content-security-policy'], /upgrade-insecure-requests/)
  const docsHttps = await https.inject({ method: 'GET', url: '/docs/', auth: false })
  t.match(docsHttps.headers['content-security-policy'], /upgrade-insecure-requests/)

  const http = await buildTestApp(t)
  const plain = await http.inject({ method: 'GET', url: '/', auth: false })
  t.notMatch(plain.headers['content-security-policy'], /upgrade-insecure-requests/)
  const docs = await http.inject({ method: 'GET', url: '/docs/', auth: false })
  t.equal(docs.statusCode, 200)
  t.notMatch(docs.headers['content-security-policy'], /upgrade-insecure-requests/)
  t.match(docs.headers['content-security-policy'], /script-src 'self'/)
  const asset = await http.inject({ method: 'GET', url: '/assets/live.js', auth: false })
  t.equal(asset.statusCode, 200)
  t.match(asset.headers['content-type'], /javascript/)
})

t.test('without SESSION_SECRET the key is generated once and kept in the database: instances share it', async (t) => {
  const stores = await freshStores()
  const config = loadConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '1000000', MAX_EVENT_LOOP_DELAY: '0' })
  const first = await stores.apiKeys.serviceSecret('session', 'candidate-one-candidate-one-candidate', 1)
  t.equal(await stores.apiKeys.serviceSecret('session', 'candidate-two', 2), first, 'the first one stored wins')
  const app = await buildApp(config, { stores, logger: false })
  t.teardown(async () => { await app.close() })
  const session = app.createSecureSession({ key: { id: 'x', prefix: 'y' } })
  const cookie = app.encodeSecureSession(session)
  t.equal(app.decodeSecureSession(cookie)?.get('key')?.id, 'x')
  t.equal(sessionKey(first).length, 32)
  // SESSION_SECRET, when given, is the key's source instead.
  const given = await buildTestApp(t, { SESSION_SECRET: 'z'.repeat(40) })
  t.equal(given.app.decodeSecureSession(cookie), null, 'a cookie of another secret is not read')
})

t.test('trend: open failures per category at the end of each day, worked back from now', async (t) => {
  const now = Date.parse('2026-11-24T12:00:00Z')
  const change = (type: Change['type'], recordedAt: string): Change => ({
    seq: 1,
    tenantId: 'default',
    type,
    batchId: 'b',
    mailbox: 'a@contoso.com',
    category: 'throttled',
    rule: 'r',
    status: 'open',
    occurredAt: Date.parse(recordedAt),
    recordedAt: Date.parse(recordedAt),
    failure: { firstSeenAt: 0, lastSeenAt: 0, occurrences: 1, reopenCount: 0, lastCode: null, lastMessage: '', resolvedAt: null, context: {} }
  })
  const trend = trendFromChanges({ throttled: 2 }, [
    change('failure.opened', '2026-11-20T10:00:00Z'),
    change('failure.opened', '2026-11-22T10:00:00Z'),
    change('failure.resolved', '2026-11-23T10:00:00Z'),
    change('failure.reopened', '2026-11-24T10:00:00Z')
  ], now, false)
  t.equal(trend.days.length, TREND_DAYS)
  t.equal(trend.days[TREND_DAYS - 1], '2026-11-24')
  t.same(trend.series, [{ category: 'throttled', title: trend.series[0].title, values: [0, 0, 1, 1, 2, 1, 2] }])
  t.equal(escapeXml('<a href="x">&\''), '&lt;a href=&quot;x&quot;&gt;&amp;&#39;')
  t.match(statesSvg({ syncing: 0, failing: 0, stalled: 0 }, 's'), /class="empty"/)
})
