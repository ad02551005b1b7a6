import { setImmediate as yieldToLoop } from 'node:timers/promises'
import fp from 'fastify-plugin'
import type { Change, ChangeQuery } from '../domain/changes.js'
import { BackgroundTimer } from '../services/stall-sweep.js'

// app.changes: the change feed every consumer (webhooks, e-mail digests, the live stream,
// metrics) follows with a cursor of its own. The store writes the changes in the same
// transaction as the write that caused them; this is the read side and the wake-up.

export interface ChangeFeed {
  /** The tenant's changes with seq > query.after, seq ascending, at most query.limit. */
  list: (tenantId: string, query: ChangeQuery) => Promise<Change[]>
  /** The tenant's last seq; 0 when it has none. */
  latestSeq: (tenantId: string) => Promise<number>
  /**
   * Called after a commit that appended changes of the tenant, on every instance (PostgreSQL:
   * LISTEN/NOTIFY). A wake-up only: it may coalesce and may fire spuriously; list after your
   * last seq for the truth. Returns the unsubscribe function.
   */
  onAppended: (listener: (tenantId: string) => void) => () => void
  /** Deletes the changes older than CHANGES_RETENTION, in bounded chunks; returns how many. */
  purgeExpired: () => Promise<number>
}

declare module 'fastify' {
  interface FastifyInstance {
    changes: ChangeFeed
  }
}

const PURGE_CHUNK = 1000
const PURGE_INTERVAL_MS = 3_600_000

export default fp(async (app) => {
  const repository = app.failures
  const feed: ChangeFeed = {
    list: async (tenantId, query) => await repository.listChanges(tenantId, query),
    latestSeq: async (tenantId) => await repository.latestChangeSeq(tenantId),
    onAppended: (listener) => repository.onChangesAppended(listener),
    purgeExpired: async () => {
      const before = app.clock() - app.config.changesRetentionMs
      let total = 0
      for (;;) {
        const deleted = await repository.purgeChanges(before, PURGE_CHUNK)
        total += deleted
        if (deleted < PURGE_CHUNK) return total
        await yieldToLoop()
      }
    }
  }
  app.decorate('changes', feed)
  const purge = new BackgroundTimer(PURGE_INTERVAL_MS, feed.purgeExpired, (error) => { app.log.error({ err: error }, 'change feed purge failed') })
  app.addHook('onReady', async () => { purge.start() })
  app.addHook('preClose', async () => { await purge.stop() })
}, { name: 'change-feed', dependencies: ['stores'] })
