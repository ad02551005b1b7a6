import t from 'tap'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { issueApiKey } from '../src/repositories/api-keys.js'
import { buildTestApp, failedEvent, postEvent, syncedEvent, type TestApp } from './helpers/app.js'
import { hooksApp, PRIVATE_OK, startReceiver, subscribeWebhook } from './helpers/webhook-receiver.js'
import { emailApp, smtpError, subscribeEmail } from './helpers/smtp.js'
import { FOLD_CHUNK } from '../src/services/email-digests.js'

interface Family { name: string, type: string, metrics: Array<{ value?: string, labels?: Record<string, string>, buckets?: Record<string, string>, count?: string }> }

async function scrape (ctx: TestApp): Promise<Map<string, Family>> {
  const response = await ctx.inject({ method: 'GET', url: '/metrics' })
  if (response.statusCode !== 200) throw new Error(`GET /metrics answered ${response.statusCode}`)
  const families = parsePrometheusTextFormat(response.body) as Family[]
  return new Map(families.map((family) => [family.name, family]))
}

function value (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const sample = families.get(name)?.metrics.find((metric) => Object.entries(labels).every(([key, wanted]) => metric.labels?.[key] === wanted))
  return sample?.value === undefined ? undefined : Number(sample.value)
}

t.test('/metrics needs the metrics:read scope', async (t) => {
  const ctx = await buildTestApp(t)
  t.equal((await ctx.inject({ method: 'GET', url: '/metrics', auth: false })).statusCode, 401)
  const { secret } = await issueApiKey(ctx.apiKeys, { tenantId: 'default', scopes: ['reports:read'] }, ctx.clock.now)
  t.equal((await ctx.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${secret}` } })).statusCode, 403)
  const { secret: reader } = await issueApiKey(ctx.apiKeys, { tenantId: 'default', scopes: ['metrics:read'] }, ctx.clock.now)
  const response = await ctx.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${reader}` } })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^text\/plain; version=0\.0\.4/)
})

t.test('a scrape parses as Prometheus text and counts requests, events, open failures and sweeps', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ id: 'm-1', mailbox: 'a@contoso.com' }))
  await postEvent(ctx, failedEvent({ id: 'm-1', mailbox: 'a@contoso.com' }))
  await postEvent(ctx, failedEvent({ id: 'm-2', mailbox: 'b@contoso.com', failure: { code: 'x', message: 'NO [OVERQUOTA] Mailbox is full' } }))
  await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events: [syncedEvent({ id: 'm-3', mailbox: 'c@contoso.com' })] } })
  await ctx.inject({ method: 'GET', url: '/batches/batch-1/errors' })
  await ctx.inject({ method: 'GET', url: '/no/such/thing/42' })
  await ctx.app.stallSweep.runOnce()

  const families = await scrape(ctx)
  t.equal(value(families, 'sfr_events_ingested_total', { outcome: 'failed', category: 'source_sign_in_failed' }), 1)
  t.equal(value(families, 'sfr_events_ingested_total', { outcome: 'synced', category: 'none' }), 1)
  t.equal(value(families, 'sfr_events_duplicate_total'), 1)
  t.equal(value(families, 'sfr_open_failures', { category: 'source_sign_in_failed' }), 1)
  t.equal(families.get('sfr_open_failures')?.metrics.length, 2, 'one series per category with open failures')
  t.equal(value(families, 'sfr_stall_sweeps_total', { result: 'swept' }), 1)
  t.equal(value(families, 'sfr_stall_sweep_batches_total'), 1)
  t.equal(value(families, 'sfr_stalls_found_total'), 0)
  t.equal(families.get('sfr_stall_sweep_duration_seconds')?.type, 'HISTOGRAM')

  t.equal(families.get('sfr_http_request_duration_seconds')?.type, 'HISTOGRAM')
  // parse-prometheus-text-format folds a histogram's labelled series into one, so its series
  // are read from prom-client's own JSON form of the same registry.
  const json = await ctx.app.metrics.registry.getMetricsAsJSON()
  const series = json.find((metric) => metric.name === 'sfr_http_request_duration_seconds')?.values ?? []
  const counts = series.filter((sample) => (sample as { metricName?: string }).metricName === 'sfr_http_request_duration_seconds_count')
  const errors = counts.find((sample) => sample.labels.route === '/batches/:batchId/errors' && sample.labels.status_class === '2xx')
  t.equal(errors?.value, 1, 'the report read, under its route template')
  t.ok(counts.some((sample) => sample.labels.route === 'unmatched' && sample.labels.status_class === '4xx'), 'unknown URLs share one label value')
  const labelValues = json.flatMap((metric) => metric.values.flatMap((sample) => Object.values(sample.labels).map(String)))
  t.notOk(labelValues.some((label) => /contoso|batch-1|m-1|42/.test(label)), 'no mailbox, batch, event or URL in a label')
  t.equal(value(families, 'sfr_process_cpu_seconds_total') !== undefined, true, 'process metrics too')
})

t.test('open failures are read at most every 30 s, not per scrape', async (t) => {
  const ctx = await buildTestApp(t)
  let reads = 0
  const count = ctx.repository.countOpenFailuresByCategory.bind(ctx.repository)
  ctx.repository.countOpenFailuresByCategory = async () => { reads += 1; return await count() }
  await scrape(ctx)
  await scrape(ctx)
  t.equal(reads, 1)
})

t.test('the API others register instruments with returns one instrument per name', async (t) => {
  const ctx = await buildTestApp(t)
  const a = ctx.app.metrics.counter('webhook_test_total', 'A test counter.', ['outcome'])
  t.equal(ctx.app.metrics.counter('webhook_test_total', 'A test counter.', ['outcome']), a)
  a.inc({ outcome: 'delivered' })
  const families = await scrape(ctx)
  t.equal(value(families, 'sfr_webhook_test_total', { outcome: 'delivered' }), 1)
})

t.test('open failures per category are the sum of the batches\' counters, opened and resolved', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ mailbox: 'a@contoso.com' }))
  await postEvent(ctx, failedEvent({ mailbox: 'b@contoso.com', batchId: 'batch-2' }))
  await postEvent(ctx, failedEvent({ mailbox: 'c@contoso.com', batchId: 'batch-2', failure: { code: 'x', message: 'NO [OVERQUOTA] Mailbox is full' } }))
  await postEvent(ctx, syncedEvent({ mailbox: 'a@contoso.com' }))
  const { secret } = await issueApiKey(ctx.apiKeys, { tenantId: 'other', scopes: ['events:write'] }, ctx.clock.now)
  await ctx.inject({ method: 'POST', url: '/events', payload: failedEvent({ mailbox: 'd@contoso.com' }), headers: { authorization: `Bearer ${secret}` } })
  const families = await scrape(ctx)
  t.same(Object.fromEntries((families.get('sfr_open_failures')?.metrics ?? []).map((metric) => [metric.labels?.category, Number(metric.value)])), {
    source_sign_in_failed: 2,
    cloud_mailbox_full: 1
  }, 'every tenant and batch, resolved ones left out, no series for a category with none open')
})

t.test('webhook deliveries are counted by outcome, and the dispatcher reports how far behind the feed it was', async (t) => {
  const ctx = await hooksApp(t, { ...PRIVATE_OK, WEBHOOK_TIMEOUT: '1s', WEBHOOK_POLL_INTERVAL: '1h' })
  const receiver = await startReceiver(t)
  await subscribeWebhook(ctx, receiver)
  // The first attempt hangs until WEBHOOK_TIMEOUT: the two changes posted meanwhile wait, 30 s by the service's clock.
  receiver.responses.push(() => 'hang')
  await postEvent(ctx, failedEvent({ mailbox: 'a@contoso.com' }))
  await receiver.waitFor(1)
  await postEvent(ctx, failedEvent({ mailbox: 'b@contoso.com' }))
  await postEvent(ctx, failedEvent({ mailbox: 'c@contoso.com' }))
  ctx.clock.advance(30_000)
  // Timed out, the first is retried (due by then), and the next pass delivers the other two.
  await receiver.waitFor(4)
  let families = await scrape(ctx)
  t.equal(value(families, 'sfr_change_feed_lag', { consumer: 'webhooks' }), 2, 'two changes after the cursor when the pass started')
  t.equal(value(families, 'sfr_change_feed_lag_seconds', { consumer: 'webhooks' }), 30, 'the older of them 30 s old')

  await ctx.app.webhooks.dispatcher.runOnce()
  receiver.responses.push(410)
  await postEvent(ctx, failedEvent({ mailbox: 'd@contoso.com' }))
  await receiver.waitFor(5)
  await ctx.app.webhooks.dispatcher.runOnce()
  families = await scrape(ctx)
  t.equal(value(families, 'sfr_deliveries_total', { channel: 'webhook', outcome: 'retrying' }), 1, 'the timed-out attempt')
  t.equal(value(families, 'sfr_deliveries_total', { channel: 'webhook', outcome: 'delivered' }), 3)
  t.equal(value(families, 'sfr_deliveries_total', { channel: 'webhook', outcome: 'disabled' }), 1, '410 Gone turns the subscription off')
  t.equal(value(families, 'sfr_deliveries_total', { channel: 'webhook', outcome: 'failed' }), undefined)
  t.equal(value(families, 'sfr_change_feed_lag', { consumer: 'webhooks' }), 0, 'caught up')
  t.equal(value(families, 'sfr_change_feed_lag_seconds', { consumer: 'webhooks' }), 0)
  t.equal(value(families, 'sfr_change_feed_last_pass_timestamp_seconds', { consumer: 'webhooks' }), ctx.clock.now / 1000)
  t.equal(value(families, 'sfr_change_feed_lag', { consumer: 'email' }), undefined, 'no e-mail series with e-mail off')
  const labels = (families.get('sfr_deliveries_total')?.metrics ?? []).flatMap((metric) => Object.values(metric.labels ?? {}))
  t.notOk(labels.some((label) => /contoso|batch|hooks|127\.0\.0\.1|whsec|msg_/.test(label)), 'no mailbox, batch, URL or id in a label')
})

t.test('e-mail sends are counted by outcome, and the digester reports how far behind the feed it was', async (t) => {
  const ctx = await emailApp(t)
  await subscribeEmail(ctx, { recipients: ['busy@contoso.com', 'gone@contoso.com'] })
  let busy = 0
  ctx.smtp.answer = (raw) => {
    if (/^To: gone@contoso\.com/m.test(raw)) return smtpError(550, 'mailbox unavailable')
    busy += 1
    return busy === 1 ? smtpError(451, 'try again later') : null
  }
  // More changes than one chunk of the digester's reads (FOLD_CHUNK): the count comes from the tenant's newest seq.
  const events = Array.from({ length: FOLD_CHUNK + 100 }, (_, index) => failedEvent({ mailbox: `user${index}@contoso.com` }))
  t.equal((await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events } })).statusCode, 200)
  ctx.clock.advance(90_000)
  await ctx.tick()
  let families = await scrape(ctx)
  t.equal(value(families, 'sfr_change_feed_lag', { consumer: 'email' }), FOLD_CHUNK + 100, 'every change was after its cursor when the pass started')
  t.equal(value(families, 'sfr_change_feed_lag_seconds', { consumer: 'email' }), 90)
  t.equal(value(families, 'sfr_deliveries_total', { channel: 'email', outcome: 'failed' }), 1, '550: that recipient fails for good')
  t.equal(value(families, 'sfr_deliveries_total', { channel: 'email', outcome: 'retrying' }), 1, '451: retried')
  t.equal(value(families, 'sfr_deliveries_total', { channel: 'email', outcome: 'delivered' }), undefined)

  ctx.clock.advance(120_000)
  await ctx.tick()
  t.equal(ctx.smtp.received.length, 1)
  families = await scrape(ctx)
  t.equal(value(families, 'sfr_deliveries_total', { channel: 'email', outcome: 'delivered' }), 1)
  t.equal(value(families, 'sfr_deliveries_total', { channel: 'email', outcome: 'retrying' }), 1)
  t.equal(value(families, 'sfr_change_feed_lag', { consumer: 'email' }), 0, 'caught up')
  t.equal(value(families, 'sfr_change_feed_lag_seconds', { consumer: 'email' }), 0)
  t.equal(value(families, 'sfr_change_feed_last_pass_timestamp_seconds', { consumer: 'email' }), ctx.clock.now / 1000)
  t.equal(value(families, 'sfr_change_feed_lag', { consumer: 'webhooks' }), 0, 'the dispatcher, with no subscription, is never behind')
})

t.test('database pool use is reported on PostgreSQL', { skip: process.env.TEST_DATABASE_URL === undefined ? 'pool metrics exist on PostgreSQL only (TEST_DATABASE_URL unset)' : false }, async (t) => {
  const ctx = await buildTestApp(t)
  const families = await scrape(ctx)
  t.equal(value(families, 'sfr_db_pool_connections', { state: 'max' }), 4)
  t.ok((value(families, 'sfr_db_pool_connections', { state: 'open' }) ?? -1) >= 0)
})
