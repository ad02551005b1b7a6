import fp from 'fastify-plugin'
import type { WebhookRepository } from '../repositories/webhooks.js'
import { WebhookClient, type WebhookResolver } from '../services/webhook-client.js'
import { WebhookDispatcher } from '../services/webhook-dispatcher.js'
import { BackgroundTimer } from '../services/stall-sweep.js'

export interface Webhooks {
  store: WebhookRepository
  client: WebhookClient
  /** Tests drive it with runOnce(). */
  dispatcher: WebhookDispatcher
}

declare module 'fastify' {
  interface FastifyInstance {
    webhooks: Webhooks
  }
}

export interface WebhookPluginOptions {
  store: WebhookRepository
  /** Host name resolution for webhook URLs; the system resolver unless a test injects one. */
  resolver?: WebhookResolver
}

const PURGE_INTERVAL_MS = 3_600_000
const PURGE_CHUNK = 500

/**
 * The webhook dispatcher in the background: woken by every commit that appends changes (on
 * PostgreSQL by other instances' too; the wake-ups of a burst share one run, see
 * WAKE_DELAY_MS) and every WEBHOOK_POLL_INTERVAL for retries that fall due; finished
 * deliveries are kept as long as the change feed keeps changes.
 */
export default fp<WebhookPluginOptions>(async (app, { store, resolver }) => {
  const { webhooks: settings } = app.config
  const client = new WebhookClient({ allowPrivateNetworks: settings.allowPrivateNetworks, resolver })
  const onError = (error: unknown): void => { app.log.error({ err: error }, 'webhook dispatch failed') }
  const dispatcher = new WebhookDispatcher({
    store,
    listChanges: app.changes.list,
    client,
    clock: app.clock,
    timeoutMs: settings.timeoutMs,
    concurrency: settings.concurrency,
    onError,
    latestSeq: app.changes.latestSeq,
    onLag: (lag) => { app.metrics.feedLag('webhooks', lag) },
    onAttempt: (outcome) => { app.metrics.delivery('webhook', outcome) }
  })
  app.decorate('webhooks', { store, client, dispatcher })
  const poll = new BackgroundTimer(settings.pollIntervalMs, async () => await dispatcher.runOnce(), onError)
  const purge = new BackgroundTimer(PURGE_INTERVAL_MS, async () => {
    const before = app.clock() - app.config.changesRetentionMs
    while (await store.purgeDeliveries(before, PURGE_CHUNK) === PURGE_CHUNK);
  }, (error) => { app.log.error({ err: error }, 'webhook delivery purge failed') })
  let unsubscribe = (): void => {}
  app.addHook('onReady', async () => {
    // One process owns a SQLite file: a lease left in it is a killed process's, so its
    // deliveries go out now rather than when the lease would have run out.
    // The service starts even while the database is unreachable (readiness says so); the
    // leases then run out on their own.
    if (app.failures.dialect === 'sqlite') await store.releaseLeases().catch(onError)
    unsubscribe = app.changes.onAppended(() => { dispatcher.wake() })
    poll.start()
    purge.start()
    dispatcher.wake()
  })
  app.addHook('preClose', async () => {
    unsubscribe()
    await Promise.all([poll.stop(), purge.stop(), dispatcher.stop()])
  })
  app.addHook('onClose', async () => { await store.close() })
}, { name: 'webhooks', dependencies: ['stores', 'change-feed', 'metrics'] })
