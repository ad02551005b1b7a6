import t from 'tap'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { issueApiKey } from '../src/repositories/api-keys.js'
import { buildTestApp, failedEvent, postEvent, syncedEvent, type TestApp } from './helpers/app.js'

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
  ctx.app.metrics.feedLag('webhooks', 7)
  ctx.app.metrics.delivery('email', 'failed')
  const families = await scrape(ctx)
  t.equal(value(families, 'sfr_webhook_test_total', { outcome: 'delivered' }), 1)
  t.equal(value(families, 'sfr_change_feed_lag', { consumer: 'webhooks' }), 7)
  t.equal(value(families, 'sfr_deliveries_total', { channel: 'email', outcome: 'failed' }), 1)
})

t.test('database pool use is reported on PostgreSQL', { skip: process.env.TEST_DATABASE_URL === undefined ? 'pool metrics exist on PostgreSQL only (TEST_DATABASE_URL unset)' : false }, async (t) => {
  const ctx = await buildTestApp(t)
  const families = await scrape(ctx)
  t.equal(value(families, 'sfr_db_pool_connections', { state: 'max' }), 4)
  t.ok((value(families, 'sfr_db_pool_connections', { state: 'open' }) ?? -1) >= 0)
})
