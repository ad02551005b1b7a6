import t from 'tap'
import { buildTestApp, failedEvent, postEvent, report, syncedEvent } from './helpers/app.js'

t.test('failed events of one mailbox and category group into one failure', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T10:00:00Z' }))
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T11:00:00Z', failure: { code: '161', message: 'second try failed' } }))
  const { body } = await report(ctx)
  t.equal(body.items.length, 1)
  t.match(body.items[0], {
    mailbox: 'alice@contoso.com',
    category: 'source_sign_in_failed',
    status: 'open',
    firstSeenAt: '2026-11-23T10:00:00.000Z',
    lastSeenAt: '2026-11-23T11:00:00.000Z',
    occurrences: 2,
    reopenCount: 0,
    lastCode: '161',
    lastMessage: 'second try failed',
    resolvedAt: null
  })
})

t.test('a synced event resolves every open failure of the mailbox in that batch', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent())
  await postEvent(ctx, failedEvent({ failure: { category: 'throttled', message: 'slow down' } }))
  await postEvent(ctx, failedEvent({ mailbox: 'bob@contoso.com' }))
  await postEvent(ctx, failedEvent({ batchId: 'batch-2' }))
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-23T12:00:00Z' }))
  const open = await report(ctx)
  t.same(open.body.items.map((item) => item.mailbox), ['bob@contoso.com'])
  const resolved = await report(ctx, 'batch-1', 'status=resolved')
  t.same(resolved.body.items.map((item) => [item.category, item.resolvedAt]), [
    ['source_sign_in_failed', '2026-11-23T12:00:00.000Z'],
    ['throttled', '2026-11-23T12:00:00.000Z']
  ])
  t.equal((await report(ctx, 'batch-2')).body.items.length, 1)
})

t.test('a new failure after a sync reopens the failure and counts the reopening', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T10:00:00Z' }))
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-23T12:00:00Z' }))
  const response = await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T14:00:00Z' }))
  t.equal(response.json().failureStatus, 'open')
  const { body } = await report(ctx)
  t.match(body.items[0], { status: 'open', occurrences: 2, reopenCount: 1, resolvedAt: null, firstSeenAt: '2026-11-23T10:00:00.000Z', lastSeenAt: '2026-11-23T14:00:00.000Z' })
})

t.test('a failure older than the latest sync arriving late does not reopen', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T10:00:00Z' }))
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-23T12:00:00Z' }))
  const late = await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T11:00:00Z' }))
  t.equal(late.statusCode, 201)
  t.equal(late.json().failureStatus, 'resolved')
  const { body } = await report(ctx, 'batch-1', 'status=all')
  t.match(body.items[0], { status: 'resolved', occurrences: 2, reopenCount: 0, lastSeenAt: '2026-11-23T11:00:00.000Z', resolvedAt: '2026-11-23T12:00:00.000Z' })
})

t.test('a sync older than the failure arriving late does not resolve it', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T10:00:00Z' }))
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-23T09:00:00Z' }))
  const { body } = await report(ctx)
  t.match(body.items[0], { status: 'open', resolvedAt: null, occurrences: 1 })
})

t.test('a late sync between two failures splits them into a resolve and a reopen', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T10:00:00Z' }))
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T14:00:00Z' }))
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-23T12:00:00Z' }))
  const { body } = await report(ctx)
  t.match(body.items[0], { status: 'open', occurrences: 2, reopenCount: 1, resolvedAt: null, lastSeenAt: '2026-11-23T14:00:00.000Z' })
})

t.test('the same events in any arrival order give the same report', async (t) => {
  const events = [
    failedEvent({ id: 'o-1', occurredAt: '2026-11-23T08:00:00Z' }),
    syncedEvent({ id: 'o-2', occurredAt: '2026-11-23T09:00:00Z' }),
    failedEvent({ id: 'o-3', occurredAt: '2026-11-23T10:00:00Z', failure: { code: '101', message: 'Host1 failure: can not open imap connection' } }),
    failedEvent({ id: 'o-4', occurredAt: '2026-11-23T11:00:00Z' }),
    syncedEvent({ id: 'o-5', occurredAt: '2026-11-23T12:00:00Z' }),
    failedEvent({ id: 'o-6', occurredAt: '2026-11-23T13:00:00Z' })
  ]
  const orders = [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [2, 5, 0, 4, 1, 3]]
  const reports = []
  for (const order of orders) {
    const ctx = await buildTestApp(t)
    for (const index of order) await postEvent(ctx, events[index])
    reports.push((await report(ctx, 'batch-1', 'status=all')).body)
  }
  t.same(reports[1], reports[0])
  t.same(reports[2], reports[0])
  t.match(reports[0].items, [
    { category: 'source_sign_in_failed', status: 'open', occurrences: 3, reopenCount: 2 },
    { category: 'source_unreachable', status: 'resolved', occurrences: 1, reopenCount: 0 }
  ])
})

t.test('the whole history in one bulk, shuffled, gives the in-order result', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({
    method: 'POST',
    url: '/events/bulk',
    payload: {
      events: [
        failedEvent({ occurredAt: '2026-11-23T14:00:00Z' }),
        syncedEvent({ occurredAt: '2026-11-23T12:00:00Z' }),
        failedEvent({ occurredAt: '2026-11-23T10:00:00Z' })
      ]
    }
  })
  t.equal(response.statusCode, 200)
  const { body } = await report(ctx)
  t.match(body.items[0], { status: 'open', occurrences: 2, reopenCount: 1 })
})
