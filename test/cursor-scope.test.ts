import t from 'tap'
import { issueApiKey } from '../src/repositories/api-keys.js'
import { API_SCOPES } from '../src/domain/api-keys.js'
import { buildTestApp, failedEvent, postEvent, syncedEvent } from './helpers/app.js'

// A cursor continues the walk it came from and nothing else: another batch, mailbox, tenant or
// filter set is refused, never answered with a page that silently misses items.

const INVALID_CURSOR = { type: 'urn:problem:sync-failure-reports:invalid-cursor', status: 400, errors: [{ in: 'querystring', pointer: '/cursor' }] }

t.test('an error-report cursor of one batch is refused on another', async (t) => {
  const ctx = await buildTestApp(t)
  for (const batchId of ['batch-a', 'batch-b']) {
    for (const mailbox of ['a@contoso.com', 'b@contoso.com', 'c@contoso.com']) {
      await postEvent(ctx, failedEvent({ batchId, mailbox, occurredAt: mailbox === 'c@contoso.com' ? '2026-11-23T09:00:00Z' : '2026-11-23T10:00:00Z' }))
    }
  }
  const first = (await ctx.inject({ method: 'GET', url: '/batches/batch-a/errors?limit=1' })).json<{ nextCursor: string }>()
  const other = await ctx.inject({ method: 'GET', url: `/batches/batch-b/errors?limit=1&cursor=${first.nextCursor}` })
  t.equal(other.statusCode, 400)
  t.equal(other.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.match(other.json(), INVALID_CURSOR)
  // Nor is a CSV export a way around it, and the same filters spelled in another order still continue the walk.
  t.equal((await ctx.inject({ method: 'GET', url: `/batches/batch-b/errors?format=csv&cursor=${first.nextCursor}` })).statusCode, 400)
  const filtered = (await ctx.inject({ method: 'GET', url: '/batches/batch-a/errors?limit=1&category=throttled&category=source_sign_in_failed' })).json<{ nextCursor: string }>()
  const same = await ctx.inject({ method: 'GET', url: `/batches/batch-a/errors?category=source_sign_in_failed&category=throttled&limit=1&cursor=${filtered.nextCursor}` })
  t.equal(same.statusCode, 200)
})

t.test('a batch-list cursor of one tenant is refused for another', async (t) => {
  const ctx = await buildTestApp(t)
  const { secret } = await issueApiKey(ctx.apiKeys, { tenantId: 'fabrikam', scopes: [...API_SCOPES], name: 'other' }, ctx.clock.now)
  for (const batchId of ['batch-a', 'batch-b']) await postEvent(ctx, failedEvent({ batchId }))
  const page = (await ctx.inject({ method: 'GET', url: '/batches?limit=1' })).json<{ nextCursor: string }>()
  const other = await ctx.inject({ method: 'GET', url: `/batches?cursor=${page.nextCursor}`, headers: { authorization: `Bearer ${secret}` } })
  t.equal(other.statusCode, 400)
  t.match(other.json(), INVALID_CURSOR)
  t.equal((await ctx.inject({ method: 'GET', url: `/batches?cursor=${page.nextCursor}` })).statusCode, 200)
})

t.test('a mailbox-history cursor of one mailbox is refused on another mailbox or batch', async (t) => {
  const ctx = await buildTestApp(t)
  for (const batchId of ['batch-a', 'batch-b']) {
    for (const mailbox of ['a@contoso.com', 'b@contoso.com']) {
      await postEvent(ctx, failedEvent({ batchId, mailbox }))
      await postEvent(ctx, syncedEvent({ batchId, mailbox }))
    }
  }
  const page = (await ctx.inject({ method: 'GET', url: '/batches/batch-a/mailboxes/a@contoso.com?limit=1' })).json<{ nextCursor: string }>()
  for (const url of ['/batches/batch-a/mailboxes/b@contoso.com', '/batches/batch-b/mailboxes/a@contoso.com']) {
    const other = await ctx.inject({ method: 'GET', url: `${url}?limit=1&cursor=${page.nextCursor}` })
    t.equal(other.statusCode, 400, url)
    t.match(other.json(), INVALID_CURSOR)
  }
  // The address is case-insensitive: the same mailbox spelled otherwise continues.
  t.equal((await ctx.inject({ method: 'GET', url: `/batches/batch-a/mailboxes/A@Contoso.com?limit=1&cursor=${page.nextCursor}` })).statusCode, 200)
})
