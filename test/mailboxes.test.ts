import t from 'tap'
import { buildTestApp, failedEvent, postEvent, syncedEvent } from './helpers/app.js'

const HOUR = 3_600_000

t.test('a mailbox shows its state, last sync, failures and history newest first', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ id: 'm-1', occurredAt: '2026-11-23T08:00:00Z', failure: { category: 'throttled', message: 'slow down' } }))
  await postEvent(ctx, syncedEvent({ id: 'm-2', occurredAt: '2026-11-23T09:00:00Z' }))
  await postEvent(ctx, failedEvent({ id: 'm-3', occurredAt: '2026-11-23T10:00:00Z' }))
  const response = await ctx.inject({ method: 'GET', url: '/batches/batch-1/mailboxes/Alice@Contoso.com' })
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.match(body, {
    batchId: 'batch-1',
    mailbox: 'alice@contoso.com',
    state: 'failing',
    firstEventAt: '2026-11-23T08:00:00.000Z',
    lastEventAt: '2026-11-23T10:00:00.000Z',
    lastSyncedAt: '2026-11-23T09:00:00.000Z',
    lastFailedAt: '2026-11-23T10:00:00.000Z',
    eventCount: 3,
    nextCursor: null
  })
  t.same(body.failures.map((f: { category: string, status: string }) => [f.category, f.status]), [
    ['source_sign_in_failed', 'open'],
    ['throttled', 'resolved']
  ])
  t.ok(body.failures[0].troubleshooting.steps.length > 0)
  t.same(body.events[0], {
    id: 'm-3',
    occurredAt: '2026-11-23T10:00:00.000Z',
    receivedAt: '2026-11-24T12:00:00.000Z',
    outcome: 'failed',
    category: 'source_sign_in_failed',
    rule: 'imapsync.exit.161',
    code: '161',
    message: 'Host1 failure: Error login on [imap.contoso.com] with user [alice] auth [LOGIN]: 2 NO [AUTHENTICATIONFAILED] Authentication failed.',
    context: { engine: 'imapsync', migrationType: 'imap', server: 'imap.contoso.com', credentialMode: 'user' }
  })
  t.same(body.events.map((event: { id: string }) => event.id), ['m-3', 'm-2', 'm-1'])
})

t.test('a mailbox is syncing, then stalled, then syncing again', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-24T10:00:00Z' }))
  const state = async (): Promise<string> => (await ctx.inject({ method: 'GET', url: '/batches/batch-1/mailboxes/alice@contoso.com' })).json().state
  t.equal(await state(), 'syncing')
  ctx.clock.advance(30 * HOUR)
  await ctx.app.stallSweep.runOnce()
  t.equal(await state(), 'stalled')
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-25T17:00:00Z' }))
  t.equal(await state(), 'syncing')
})

t.test('the history pages with a cursor, newest first', async (t) => {
  const ctx = await buildTestApp(t)
  for (let hour = 10; hour < 15; hour += 1) await postEvent(ctx, syncedEvent({ id: `h-${hour}`, occurredAt: `2026-11-23T${hour}:00:00Z` }))
  const ids: string[] = []
  let cursor: string | null = null
  do {
    const suffix: string = cursor === null ? '' : `&cursor=${cursor}`
    const body = (await ctx.inject({ method: 'GET', url: `/batches/batch-1/mailboxes/alice@contoso.com?limit=2${suffix}` })).json()
    ids.push(...body.events.map((event: { id: string }) => event.id))
    cursor = body.nextCursor
  } while (cursor !== null)
  t.same(ids, ['h-14', 'h-13', 'h-12', 'h-11', 'h-10'])
})

t.test('an unknown mailbox is a 404 problem; a bad cursor a 400', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, syncedEvent())
  const missing = await ctx.inject({ method: 'GET', url: '/batches/batch-1/mailboxes/bob@contoso.com' })
  t.equal(missing.statusCode, 404)
  t.same(missing.json(), { type: 'urn:problem:sync-failure-reports:not-found', title: 'Not Found', status: 404, detail: 'mailbox "bob@contoso.com" has no events in batch "batch-1"', instance: missing.headers['x-request-id'] })
  const foreign = Buffer.from('["batches",1,"x"]').toString('base64url')
  const bad = await ctx.inject({ method: 'GET', url: `/batches/batch-1/mailboxes/alice@contoso.com?cursor=${foreign}` })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { type: 'urn:problem:sync-failure-reports:invalid-cursor', detail: 'cursor is not one this list issued' })
})

t.test('the mailbox detail answers 304 to its ETag until an event arrives', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, syncedEvent())
  const url = '/batches/batch-1/mailboxes/alice@contoso.com'
  const etag = (await ctx.inject({ method: 'GET', url })).headers.etag as string
  t.equal((await ctx.inject({ method: 'GET', url, headers: { 'if-none-match': etag } })).statusCode, 304)
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-23T13:00:00Z' }))
  t.equal((await ctx.inject({ method: 'GET', url, headers: { 'if-none-match': etag } })).statusCode, 200)
})
