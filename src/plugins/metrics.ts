import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { ClassifiedEvent, RecordOutcome } from '../repositories/types.js'
import type { SweepRun } from '../services/stall-sweep.js'
import type { FeedLagReading } from '../services/feed-lag.js'

// app.metrics: one prom-client Registry per app (tests build many apps in one process), the
// service's own instruments, and a small typed API for plugins that add their own. Label
// values are always from closed sets (route templates, status classes, categories, outcome
// names): never a tenant, batch, mailbox or event id.

export const METRICS_PREFIX = 'sfr_'

/** How long a scrape reuses the open-failures count it read before (see README, Operating). */
export const OPEN_FAILURES_MAX_AGE_MS = 30_000

/** The change feed's consumers that report their lag. */
export type FeedConsumer = 'webhooks' | 'email'
export type DeliveryChannel = 'webhook' | 'email'
/** delivered, retrying (another attempt is scheduled), failed (for good), disabled (webhook subscription turned off). */
export type DeliveryOutcome = 'delivered' | 'retrying' | 'failed' | 'disabled'

export interface Metrics {
  readonly registry: Registry
  /** A counter named sfr_<name>, registered once; the same instance on a second call. */
  counter: <L extends string>(name: string, help: string, labelNames?: readonly L[]) => Counter<L>
  gauge: <L extends string>(name: string, help: string, labelNames?: readonly L[], collect?: (gauge: Gauge<L>) => Promise<void> | void) => Gauge<L>
  histogram: <L extends string>(name: string, help: string, labelNames?: readonly L[], buckets?: number[]) => Histogram<L>
  /** Counts a write's new events by outcome and category, and its retries. */
  eventsIngested: (events: readonly ClassifiedEvent[], outcomes: readonly RecordOutcome[]) => void
  stallSweep: (run: SweepRun, seconds: number) => void
  /** How far a consumer of the change feed was behind it at its last pass. */
  feedLag: (consumer: FeedConsumer, lag: FeedLagReading) => void
  /** One delivery attempt of a notification channel and how it ended. */
  delivery: (channel: DeliveryChannel, outcome: DeliveryOutcome) => void
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

export function createMetrics (): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX })
  const made = new Map<string, unknown>()
  function once<T> (name: string, make: () => T): T {
    const full = METRICS_PREFIX + name
    if (!made.has(full)) made.set(full, make())
    return made.get(full) as T
  }
  const metrics: Metrics = {
    registry,
    counter: (name, help, labelNames = []) => once(name, () => new Counter({ name: METRICS_PREFIX + name, help, labelNames, registers: [registry] })),
    gauge: (name, help, labelNames = [], collect) => once(name, () => new Gauge({
      name: METRICS_PREFIX + name,
      help,
      labelNames,
      registers: [registry],
      ...(collect === undefined ? {} : { async collect (this: Gauge) { await collect(this) } })
    })),
    histogram: (name, help, labelNames = [], buckets = DURATION_BUCKETS) =>
      once(name, () => new Histogram({ name: METRICS_PREFIX + name, help, labelNames, buckets, registers: [registry] })),
    eventsIngested: (events, outcomes) => {
      const ingested = metrics.counter('events_ingested_total', 'Events stored, by outcome and failure category (none for synced events).', ['outcome', 'category'])
      const retried = metrics.counter('events_duplicate_total', 'Events received again with the same content (idempotent retries): stored once, counted here.')
      outcomes.forEach((outcome, index) => {
        if (outcome.duplicate) retried.inc()
        else ingested.inc({ outcome: events[index].outcome, category: outcome.category ?? 'none' })
      })
    },
    stallSweep: (run, seconds) => {
      metrics.counter('stall_sweeps_total', 'Background stall sweeps run, by result (skipped: another instance held the lease).', ['result'])
        .inc({ result: run.swept ? 'swept' : 'skipped' })
      if (!run.swept) return
      metrics.histogram('stall_sweep_duration_seconds', 'How long a stall sweep over every batch took.', [], [0.01, 0.1, 0.5, 1, 5, 15, 60, 300]).observe(seconds)
      metrics.counter('stall_sweep_batches_total', 'Batches the stall sweeps went through.').inc(run.batches)
      metrics.counter('stalls_found_total', 'Mailboxes the stall sweeps found stalled.').inc(run.stalled)
    },
    feedLag: (consumer, lag) => {
      metrics.gauge('change_feed_lag', 'Changes of the feed a consumer had not processed when its last pass started, worst subscription.', ['consumer'])
        .set({ consumer }, lag.changes)
      metrics.gauge('change_feed_lag_seconds', 'Age of the oldest change a consumer had not processed when its last pass started, worst subscription.', ['consumer'])
        .set({ consumer }, lag.seconds)
      metrics.gauge('change_feed_last_pass_timestamp_seconds', 'When a consumer last finished a pass over the feed (Unix time).', ['consumer'])
        .set({ consumer }, lag.at / 1000)
    },
    delivery: (channel, outcome) => {
      metrics.counter('deliveries_total', 'Notification delivery attempts, by channel and outcome.', ['channel', 'outcome']).inc({ channel, outcome })
    }
  }
  return metrics
}

function statusClass (status: number): string {
  return `${Math.floor(status / 100)}xx`
}

/**
 * Registers app.metrics and the instruments fed by requests and the stores: request durations
 * per route and status class, open failures per category, pool use. Register early (after
 * `problems`): later plugins record into it.
 */
export default fp(async function metricsPlugin (app) {
  const metrics = createMetrics()
  app.decorate('metrics', metrics)

  const durations = metrics.histogram('http_request_duration_seconds', 'Request durations by method, route template and status class.', ['method', 'route', 'status_class'])
  app.addHook('onResponse', (request, reply, done) => {
    const method = KNOWN_METHODS.has(request.method) ? request.method : 'OTHER'
    // The template (/batches/:batchId), never the URL: unknown URLs share one label value.
    const route = request.is404 ? 'unmatched' : request.routeOptions.url ?? 'unmatched'
    durations.observe({ method, route, status_class: statusClass(reply.statusCode) }, reply.elapsedTime / 1000)
    done()
  })

  // Open failures per category: the sum of the batches' open:<category> counters (kept by the
  // writes, a few rows per batch), read at most every OPEN_FAILURES_MAX_AGE_MS whatever the
  // scrape rate, and at most one series per category.
  let openRead: { at: number, rows: Array<{ category: string, count: number }> } | null = null
  metrics.gauge('open_failures', 'Open failures of every tenant, by category.', ['category'], async (gauge) => {
    const now = Date.now()
    if (openRead === null || now - openRead.at >= OPEN_FAILURES_MAX_AGE_MS) openRead = { at: now, rows: await app.failures.countOpenFailuresByCategory() }
    gauge.reset()
    for (const { category, count } of openRead.rows) gauge.set({ category }, count)
  })

  metrics.gauge('db_pool_connections', 'PostgreSQL pool connections by state (max: DATABASE_POOL_SIZE); absent on SQLite.', ['state'], (gauge) => {
    const pool = app.failures.poolStats()
    if (pool === null) return
    gauge.set({ state: 'max' }, pool.max)
    gauge.set({ state: 'open' }, pool.total)
    gauge.set({ state: 'idle' }, pool.idle)
    gauge.set({ state: 'in_use' }, pool.total - pool.idle)
    gauge.set({ state: 'waiting' }, pool.waiting)
  })
}, { name: 'metrics' })
