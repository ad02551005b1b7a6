import t from 'tap'
import type { TestApp } from './helpers/app.js'
import { buildTestApp, failedEvent, syncedEvent, TEST_DATABASE_URL } from './helpers/app.js'
import { emailApp, PUBLIC_URL, rawHeader, smtpError, subscribeEmail as subscribe } from './helpers/smtp.js'
import { API_SCOPES } from '../src/domain/api-keys.js'
import { issueApiKey } from '../src/repositories/api-keys.js'
import { DEFAULT_TENANT } from '../src/app.js'
import { EmailSender } from '../src/services/email-digests.js'

// E-mail digests end to end: events in, the digester and sender driven by the test's clock, a
// real SMTP server on loopback, and what arrived read back with mailparser. Runs on SQLite, or
// on PostgreSQL with TEST_DATABASE_URL.

const MINUTE = 60_000
/** `count` failed events of distinct mailboxes of one batch, in bulk posts of 1000. */
async function failMailboxes (ctx: TestApp, batchId: string, count: number, overrides: Record<string, unknown> = {}): Promise<void> {
  for (let start = 0; start < count; start += 1000) {
    const events = Array.from({ length: Math.min(1000, count - start) }, (_, index) => failedEvent({
      batchId, mailbox: `user${start + index}@contoso.com`, ...overrides
    }))
    const response = await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events } })
    if (response.statusCode >= 300) throw new Error(`events: ${response.statusCode} ${response.body}`)
  }
}

t.test('without SMTP_URL the routes answer 409 problem+json', async (t) => {
  const ctx = await buildTestApp(t)
  for (const [method, url] of [['GET', '/email-subscriptions'], ['POST', '/email-subscriptions'], ['GET', '/email-subscriptions/esub_x/deliveries']] as const) {
    const response = await ctx.inject({ method, url, ...(method === 'POST' ? { payload: { recipients: ['a@contoso.com'] } } : {}) })
    t.equal(response.statusCode, 409, `${method} ${url}`)
    t.match(response.headers['content-type'], /application\/problem\+json/)
    t.match(response.json(), { type: 'urn:problem:sync-failure-reports:email-disabled', detail: /SMTP_URL/ })
  }
})

t.test('subscriptions: create, read, change, delete; bad input is 400 naming each problem', async (t) => {
  const ctx = await emailApp(t)
  const bad = await ctx.inject({
    method: 'POST',
    url: '/email-subscriptions',
    payload: { recipients: ['not-an-address', 'ok@contoso.com'], categories: ['no_such_category'], minimumSeverity: 'loud' }
  })
  t.equal(bad.statusCode, 400)
  const pointers = bad.json<{ errors: Array<{ pointer: string }> }>().errors.map((error) => error.pointer)
  t.ok(pointers.includes('/recipients/0'), 'bad address named')
  t.ok(pointers.some((pointer) => pointer.startsWith('/categories')), 'bad category named')
  t.ok(pointers.includes('/minimumSeverity'), 'bad severity named')
  const tooMany = await ctx.inject({ method: 'POST', url: '/email-subscriptions', payload: { recipients: Array.from({ length: 51 }, (_, i) => `u${i}@contoso.com`) } })
  t.equal(tooMany.statusCode, 400, 'at most 50 recipients')
  const twice = await ctx.inject({ method: 'POST', url: '/email-subscriptions', payload: { recipients: ['a@contoso.com', 'A@contoso.com'] } })
  t.equal(twice.statusCode, 400)
  t.match(twice.json(), { errors: [{ pointer: '/recipients/1' }] })

  const created = await ctx.inject({ method: 'POST', url: '/email-subscriptions', payload: { recipients: ['a@contoso.com'], batchIds: ['batch-1'], description: 'team' } })
  t.equal(created.statusCode, 201)
  const subscription = created.json<{ id: string }>()
  t.match(subscription, { recipients: ['a@contoso.com'], batchIds: ['batch-1'], categories: [], minimumSeverity: 'blocking', enabled: true, unsubscribed: [] })
  t.equal(created.headers.location, `/email-subscriptions/${subscription.id}`)
  t.same((await ctx.inject({ method: 'GET', url: `/email-subscriptions/${subscription.id}` })).json(), subscription)
  t.equal((await ctx.inject({ method: 'GET', url: '/email-subscriptions' })).json<{ items: unknown[] }>().items.length, 1)

  const patched = await ctx.inject({ method: 'PATCH', url: `/email-subscriptions/${subscription.id}`, payload: { minimumSeverity: 'warning', description: null } })
  t.equal(patched.statusCode, 200)
  t.match(patched.json(), { minimumSeverity: 'warning', description: null, recipients: ['a@contoso.com'] })
  t.match((await ctx.inject({ method: 'PATCH', url: `/email-subscriptions/${subscription.id}`, payload: {} })).json(), { minimumSeverity: 'warning' }, 'an empty PATCH changes nothing')
  t.equal((await ctx.inject({ method: 'PATCH', url: '/email-subscriptions/esub_none', payload: { enabled: false } })).statusCode, 404)

  // Another tenant sees none of it; a key without admin may not touch it.
  const other = await issueApiKey(ctx.apiKeys, { tenantId: 'fabrikam', scopes: [...API_SCOPES] }, ctx.clock.now)
  t.equal((await ctx.inject({ method: 'GET', url: `/email-subscriptions/${subscription.id}`, headers: { authorization: `Bearer ${other.secret}` } })).statusCode, 404)
  const reader = await issueApiKey(ctx.apiKeys, { tenantId: DEFAULT_TENANT, scopes: ['reports:read'] }, ctx.clock.now)
  t.equal((await ctx.inject({ method: 'GET', url: '/email-subscriptions', headers: { authorization: `Bearer ${reader.secret}` } })).statusCode, 403)

  t.equal((await ctx.inject({ method: 'DELETE', url: `/email-subscriptions/${subscription.id}` })).statusCode, 204)
  t.equal((await ctx.inject({ method: 'DELETE', url: `/email-subscriptions/${subscription.id}` })).statusCode, 404)
  t.equal((await ctx.inject({ method: 'GET', url: `/email-subscriptions/${subscription.id}/deliveries` })).statusCode, 404)
})

t.test('2,000 changes in one batch are one mail listing 100 mailboxes and "N more"; a second batch is a second mail', async (t) => {
  const ctx = await emailApp(t)
  await subscribe(ctx)
  await failMailboxes(ctx, 'batch-2026-11', 2000)
  await failMailboxes(ctx, 'batch-2026-12', 3)

  await ctx.tick()
  t.equal(ctx.smtp.received.length, 0, 'nothing before group_wait')
  ctx.clock.advance(MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 2, 'one mail per batch')
  const [big, small] = [...ctx.smtp.received].sort((a, b) => (a.parsed.subject ?? '').localeCompare(b.parsed.subject ?? ''))
  t.equal(big.parsed.subject, 'batch-2026-11: 2,000 mailboxes stopped receiving new mail')
  t.equal(small.parsed.subject, 'batch-2026-12: 3 mailboxes stopped receiving new mail')
  const text = big.parsed.text ?? ''
  const html = String(big.parsed.html)
  t.equal(text.match(/^\* user[0-9]+@contoso\.com: /gm)?.length, 100, 'lists 100 mailboxes')
  t.match(text, 'and 1,900 more failures not listed here')
  t.match(text, "Couldn't sign in to the on-premises mailbox: 2,000", 'totals per category')
  t.match(text, 'New mail held up since 2026-11-23T10:00:00.000Z')
  t.match(text, "Check that the user's account still exists on imap.contoso.com", 'guide personalised by the context, as the report')
  t.match(text, 'Engine said: [161] Host1 failure: Error login on [imap.contoso.com]')
  t.match(text, `Report of the batch: ${PUBLIC_URL}batches/batch-2026-11/errors`)
  t.match(html, '<a href="https://sfr.example.test/batches/batch-2026-11/errors">')
  t.notMatch(html, /<img|<script|src=/i, 'no external images or scripts')
  t.same(big.envelopeTo, ['admin@contoso.com'])
  t.match(big.parsed.from?.text, 'sfr@example.test')
  t.match(big.parsed.messageId, /^<[0-9a-f-]+\.digest@sfr\.example\.test>$/)
  t.equal(rawHeader(big, 'list-unsubscribe-post'), 'List-Unsubscribe=One-Click')
  t.match(rawHeader(big, 'list-unsubscribe'), /^<https:\/\/sfr\.example\.test\/email-unsubscribe\?s=esub_[^>]+>$/)

  // Later changes fold into one mail, no sooner than group_interval after the last.
  await failMailboxes(ctx, 'batch-2026-11', 1, { mailbox: 'late@contoso.com' })
  ctx.clock.advance(MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 2, 'held back by group_interval')
  ctx.clock.advance(29 * MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 3)
  t.equal(ctx.smtp.received[2].parsed.subject, 'batch-2026-11: 1 mailbox stopped receiving new mail')
})

t.test('minimumSeverity: items_skipped alone sends nothing at blocking, a mail at warning', async (t) => {
  const ctx = await emailApp(t)
  await subscribe(ctx, { recipients: ['blocking@contoso.com'] })
  await subscribe(ctx, { recipients: ['warning@contoso.com'], minimumSeverity: 'warning' })
  await subscribe(ctx, { recipients: ['other-batch@contoso.com'], batchIds: ['batch-other'], minimumSeverity: 'warning' })
  await failMailboxes(ctx, 'batch-1', 2, { failure: { category: 'items_skipped', message: 'Skipped 3 messages over the size limit' } })
  ctx.clock.advance(MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 1)
  t.same(ctx.smtp.received[0].envelopeTo, ['warning@contoso.com'])
  t.equal(ctx.smtp.received[0].parsed.subject, 'batch-1: 2 mailboxes with sync problems')
  t.match(ctx.smtp.received[0].parsed.text, 'Does not hold new mail up')
})

t.test('hostile engine messages inject neither headers nor HTML', async (t) => {
  const ctx = await emailApp(t)
  await subscribe(ctx)
  const message = 'Host1 failure: login failed\r\nBcc: victim@evil.example\r\nSubject: pwned\r\n\r\n<script>alert(1)</script><img src="https://evil.example/x.png"> & "quotes"'
  await failMailboxes(ctx, 'batch-1', 1, { failure: { code: '161\r\nX-Evil: 1', message } })
  ctx.clock.advance(MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 1)
  const mail = ctx.smtp.received[0]
  t.equal(mail.parsed.subject, 'batch-1: 1 mailbox stopped receiving new mail')
  t.equal(mail.parsed.bcc, undefined, 'no Bcc header')
  t.notOk(mail.parsed.headers.has('x-evil'), 'no injected header')
  t.same(mail.envelopeTo, ['admin@contoso.com'], 'no extra recipient')
  const html = String(mail.parsed.html)
  t.notMatch(html, /<script|<img/i)
  t.match(html, '&#60;script&#62;alert(1)&#60;/script&#62;&#60;img src=&#34;https://evil.example/x.png&#34;&#62; &#38; &#34;quotes&#34;')
  t.match(mail.parsed.text, 'login failed Bcc: victim@evil.example Subject: pwned <script>', 'the message on one line in the text part')
})

t.test('a server that answers 451 then 250 gets the mail once; 5xx fails that recipient for good', async (t) => {
  const ctx = await emailApp(t)
  const { id } = await subscribe(ctx, { recipients: ['busy@contoso.com', 'gone@contoso.com'] })
  let busy = 0
  ctx.smtp.answer = (raw) => {
    if (/^To: gone@contoso\.com/m.test(raw)) return smtpError(550, 'mailbox unavailable')
    busy += 1
    return busy === 1 ? smtpError(451, 'try again later') : null
  }
  await failMailboxes(ctx, 'batch-1', 1)
  ctx.clock.advance(MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 0)
  const first = (await ctx.inject({ method: 'GET', url: `/email-subscriptions/${id}/deliveries` })).json<{ items: Array<Record<string, unknown>> }>().items
  const byRecipient = Object.fromEntries(first.map((item) => [item.recipient, item]))
  t.match(byRecipient['busy@contoso.com'], { status: 'pending', attempts: 1, lastCode: 451, nextAttemptAt: new Date(ctx.clock.now + MINUTE).toISOString() })
  t.match(byRecipient['gone@contoso.com'], { status: 'failed', attempts: 1, lastCode: 550, lastError: /mailbox unavailable/, nextAttemptAt: null })

  await ctx.app.emailDigests.sender!.runOnce()
  t.equal(ctx.smtp.received.length, 0, 'not retried before its time')
  ctx.clock.advance(MINUTE)
  await ctx.tick()
  ctx.clock.advance(60 * MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 1, 'delivered once')
  t.equal(ctx.smtp.attempts, 3, 'two attempts for busy, one for gone')
  const after = (await ctx.inject({ method: 'GET', url: `/email-subscriptions/${id}/deliveries` })).json<{ items: Array<Record<string, unknown>> }>().items
  t.match(after.find((item) => item.recipient === 'busy@contoso.com'), { status: 'sent', attempts: 2, lastCode: 250 })
  t.equal(ctx.smtp.received[0].parsed.messageId, after.find((item) => item.recipient === 'busy@contoso.com')?.messageId, 'the Message-ID recorded before sending')
})

t.test('connection failures retry with backoff and give up after 24 h', async (t) => {
  const ctx = await emailApp(t)
  const { id } = await subscribe(ctx)
  await ctx.smtp.close()
  await failMailboxes(ctx, 'batch-1', 1)
  ctx.clock.advance(MINUTE)
  await ctx.tick()
  const deliveries = async (): Promise<Array<Record<string, unknown>>> =>
    (await ctx.inject({ method: 'GET', url: `/email-subscriptions/${id}/deliveries` })).json<{ items: Array<Record<string, unknown>> }>().items
  t.match((await deliveries())[0], { status: 'pending', attempts: 1, lastCode: null, lastError: /ECONNREFUSED|connect/i })
  for (let hour = 0; hour < 25; hour++) {
    ctx.clock.advance(60 * MINUTE)
    await ctx.app.emailDigests.sender!.runOnce()
  }
  const [delivery] = await deliveries()
  t.match(delivery, { status: 'failed', lastError: /gave up after 24 h/ })
  t.ok((delivery.attempts as number) > 5 && (delivery.attempts as number) < 12, `backed off (${String(delivery.attempts)} attempts)`)
})

t.test('unsubscribe: the one-click link turns the subscription off for that address only', async (t) => {
  const ctx = await emailApp(t)
  const { id } = await subscribe(ctx, { recipients: ['leaver@contoso.com', 'stayer@contoso.com'] })
  await failMailboxes(ctx, 'batch-1', 1)
  ctx.clock.advance(MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 2)
  const leaverMail = ctx.smtp.received.find((mail) => mail.envelopeTo[0] === 'leaver@contoso.com')!
  const link = /<(.+)>/.exec(rawHeader(leaverMail, 'list-unsubscribe') ?? '')![1]
  t.match(leaverMail.parsed.text, `Stop these mails for this address: ${link}`)
  const path = link.slice(PUBLIC_URL.length - 1)

  const form = await ctx.inject({ method: 'GET', url: path, auth: false })
  t.equal(form.statusCode, 200)
  t.match(form.headers['content-type'], /text\/html/)
  t.match(form.body, '<form method="post"')
  t.same((await ctx.inject({ method: 'GET', url: `/email-subscriptions/${id}` })).json<{ unsubscribed: string[] }>().unsubscribed, [], 'a GET changes nothing')

  const forged = await ctx.inject({ method: 'POST', url: path.replace(/t=[^&]+/, 't=forged'), auth: false, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'List-Unsubscribe=One-Click' })
  t.equal(forged.statusCode, 400)
  const other = await ctx.inject({ method: 'POST', url: path.replace('leaver%40', 'stayer%40'), auth: false, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'List-Unsubscribe=One-Click' })
  t.equal(other.statusCode, 400, 'a link unsubscribes only its own address')

  const done = await ctx.inject({ method: 'POST', url: path, auth: false, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'List-Unsubscribe=One-Click' })
  t.equal(done.statusCode, 200)
  t.match(done.body, 'no longer receives')
  t.same((await ctx.inject({ method: 'GET', url: `/email-subscriptions/${id}` })).json<{ unsubscribed: string[] }>().unsubscribed, ['leaver@contoso.com'])

  await failMailboxes(ctx, 'batch-1', 1, { mailbox: 'second@contoso.com' })
  ctx.clock.advance(30 * MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 3)
  t.same(ctx.smtp.received[2].envelopeTo, ['stayer@contoso.com'], 'only the address that stayed')
})

t.test('a daily reminder lists what is still open; a resolved mail says when everything recovered', async (t) => {
  const ctx = await emailApp(t)
  await subscribe(ctx)
  await failMailboxes(ctx, 'batch-1', 2)
  ctx.clock.advance(MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 1)
  ctx.clock.advance(24 * 60 * MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 2)
  t.equal(ctx.smtp.received[1].parsed.subject, 'batch-1: 2 mailboxes still not receiving new mail (daily reminder)')
  t.match(ctx.smtp.received[1].parsed.text, 'user1@contoso.com')
  t.match(ctx.smtp.received[1].parsed.messageId, /\.reminder@/)

  // One recovers: no mail yet; both recovered: the resolved mail.
  await ctx.inject({ method: 'POST', url: '/events', payload: syncedEvent({ batchId: 'batch-1', mailbox: 'user0@contoso.com', occurredAt: '2026-11-25T12:00:00Z' }) })
  ctx.clock.advance(31 * MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 2, 'nothing while one is still open')
  await ctx.inject({ method: 'POST', url: '/events', payload: syncedEvent({ batchId: 'batch-1', mailbox: 'user1@contoso.com', occurredAt: '2026-11-25T12:00:00Z' }) })
  ctx.clock.advance(31 * MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 3)
  t.equal(ctx.smtp.received[2].parsed.subject, 'batch-1: resolved, every reported mailbox is syncing again')
  t.match(ctx.smtp.received[2].parsed.text, '2 reported failures have recovered since the previous mail')
  ctx.clock.advance(48 * 60 * MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 3, 'no reminder once everything recovered')
})

t.test('a change of a write that was refused or rolled back never mails', async (t) => {
  const ctx = await emailApp(t)
  await subscribe(ctx)
  const event = failedEvent({ batchId: 'batch-1', mailbox: 'x@contoso.com' })
  t.equal((await ctx.inject({ method: 'POST', url: '/events', payload: event })).statusCode, 201)
  // Same id, other content: refused (422), nothing stored, nothing in the feed.
  t.equal((await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events: [failedEvent({ batchId: 'batch-1', mailbox: 'y@contoso.com' }), { ...event, mailbox: 'z@contoso.com' }] } })).statusCode, 422)
  ctx.clock.advance(MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 1)
  t.match(ctx.smtp.received[0].parsed.text, 'x@contoso.com')
  t.notMatch(ctx.smtp.received[0].parsed.text, /y@contoso\.com|z@contoso\.com/)
})

t.test('instances sending at once claim each delivery once', { skip: TEST_DATABASE_URL === undefined ? false : undefined }, async (t) => {
  const ctx = await emailApp(t)
  for (let index = 0; index < 30; index++) await subscribe(ctx, { recipients: [`r${index}a@contoso.com`, `r${index}b@contoso.com`] })
  await failMailboxes(ctx, 'batch-1', 1)
  ctx.clock.advance(MINUTE)
  t.equal((await ctx.app.emailDigests.digester!.runOnce()).mails, 30)
  const { repository, config } = { repository: ctx.app.emailDigests.repository!, config: ctx.app.config.email! }
  const senders = [0, 1, 2].map(() => new EmailSender({ emails: repository, config, clock: ctx.clock.read }))
  const runs = await Promise.all(senders.map(async (sender) => await sender.runOnce()))
  for (const sender of senders) sender.close()
  t.equal(runs.reduce((sum, run) => sum + run.sent, 0), 60)
  t.equal(ctx.smtp.received.length, 60, 'sixty mails, none twice')
  t.equal(new Set(ctx.smtp.received.map((mail) => mail.parsed.messageId)).size, 60)
  if (TEST_DATABASE_URL !== undefined) t.ok(runs.filter((run) => run.sent > 0).length >= 2, 'the work was shared (FOR UPDATE SKIP LOCKED)')
})

t.test('one digester per deployment: while one holds the lease another does nothing (PostgreSQL)', async (t) => {
  const ctx = await emailApp(t)
  await subscribe(ctx)
  await failMailboxes(ctx, 'batch-1', 1)
  ctx.clock.advance(MINUTE)
  const repository = ctx.app.emailDigests.repository!
  let inner: { digested: boolean, mails: number } | null = null
  const held = await repository.withDigestLease(async () => {
    if (TEST_DATABASE_URL !== undefined) inner = await ctx.app.emailDigests.digester!.runOnce()
  })
  t.ok(held)
  if (TEST_DATABASE_URL !== undefined) t.same(inner, { digested: false, mails: 0 }, 'the other instance skipped its turn')
  t.same(await ctx.app.emailDigests.digester!.runOnce(), { digested: true, mails: 1 }, 'and the next turn digests')
})

t.test('the background loop digests and sends on its own', async (t) => {
  const ctx = await emailApp(t, { EMAIL_GROUP_WAIT: '0s', EMAIL_POLL_INTERVAL: '100ms' })
  await subscribe(ctx)
  await failMailboxes(ctx, 'batch-1', 1)
  await ctx.smtp.waitFor(1)
  t.equal(ctx.smtp.received[0].parsed.subject, 'batch-1: 1 mailbox stopped receiving new mail')
})

t.test('a disabled subscription mails nothing, and skips what happened meanwhile once enabled again', async (t) => {
  const ctx = await emailApp(t)
  const { id } = await subscribe(ctx)
  t.equal((await ctx.inject({ method: 'PATCH', url: `/email-subscriptions/${id}`, payload: { enabled: false } })).statusCode, 200)
  await failMailboxes(ctx, 'batch-1', 1)
  ctx.clock.advance(MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 0)
  t.match((await ctx.inject({ method: 'PATCH', url: `/email-subscriptions/${id}`, payload: { enabled: true } })).json(), { enabled: true })
  ctx.clock.advance(MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 0, 'the change made while it was off is skipped')
  await failMailboxes(ctx, 'batch-1', 1, { mailbox: 'after@contoso.com' })
  ctx.clock.advance(MINUTE)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 1)
  t.match(ctx.smtp.received[0].parsed.text, 'after@contoso.com')
})
