import fp from 'fastify-plugin'
import { RetentionPurge, type PurgeRun } from '../services/retention.js'
import { BackgroundTimer } from '../services/stall-sweep.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The background retention purge (RETENTION_RESOLVED); null when it is 0 (kept forever). Tests drive it with runOnce(). */
    retention: RetentionPurge | null
  }
}

/** How often the purge looks for failures that resolved longer ago than the retention. */
const PURGE_INTERVAL_MS = 3_600_000

/** Purges resolved failures past RETENTION_RESOLVED every hour, in the background (unref'd, stopped on close). */
export default fp(async (app) => {
  const retentionMs = app.config.retentionResolvedMs
  if (retentionMs === null) {
    app.decorate('retention', null)
    return
  }
  const { metrics } = app
  const runs = metrics.counter('retention_purges_total', 'Retention purges run, by result (skipped: another instance held the lease).', ['result'])
  const rows = metrics.counter('retention_purged_rows_total', 'Rows the retention purges deleted, by table (failures, events).', ['table'])
  const chunks = metrics.counter('retention_purge_chunks_total', 'Transactions the retention purges took.')
  const duration = metrics.histogram('retention_purge_duration_seconds', 'How long a retention purge took, space reclaim included.', [], [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 1800])
  const reclaimed = metrics.counter('retention_reclaimed_pages_total', 'SQLite pages given back to the file system after purges (auto_vacuum INCREMENTAL).')
  const onRun = (run: PurgeRun, seconds: number): void => {
    runs.inc({ result: run.purged ? 'purged' : 'skipped' })
    if (!run.purged) return
    rows.inc({ table: 'failures' }, run.failures)
    rows.inc({ table: 'events' }, run.events)
    chunks.inc(run.chunks)
    duration.observe(seconds)
    if (run.reclaimedPages !== null) reclaimed.inc(run.reclaimedPages)
  }
  const purge = new RetentionPurge({ repository: app.failures, clock: app.clock, retentionMs, onRun })
  app.decorate('retention', purge)
  const timer = new BackgroundTimer(PURGE_INTERVAL_MS, async () => {
    const run = await purge.runOnce()
    if (run.failures + run.events > 0) app.log.info({ failures: run.failures, events: run.events, chunks: run.chunks, reclaimedPages: run.reclaimedPages }, 'retention purge')
  }, (error) => { app.log.error({ err: error }, 'retention purge failed') })
  app.addHook('onReady', async () => {
    // Also gives back what is free already. The service starts while the database is unreachable (readiness says so).
    const space = await app.failures.reclaimSpace().catch((error: unknown) => { app.log.error({ err: error }, 'reclaiming free space failed') })
    if (app.failures.dialect === 'sqlite' && space === null) {
      app.log.warn('the SQLite file predates auto_vacuum INCREMENTAL and is too big to convert at start: purged rows leave free pages ' +
        'that SQLite reuses, but the file does not shrink until `npm run db:vacuum` is run once (service stopped; README, Operating > Retention)')
    }
    timer.start()
  })
  app.addHook('preClose', async () => {
    purge.stop()
    await timer.stop()
    await purge.idle()
  })
}, { name: 'retention', dependencies: ['stores', 'metrics'] })
