import fp from 'fastify-plugin'
import type { Stores } from '../repositories/index.js'
import type { FailureRepository } from '../repositories/types.js'

declare module 'fastify' {
  interface FastifyInstance {
    failures: FailureRepository
  }
}

/**
 * The stores, as the named plugin `stores`: plugins that use `app.failures` declare it as a
 * dependency (fastify-plugin checks the order at start). Closes both stores when the app closes.
 */
export default fp<{ stores: Stores }>(async (app, { stores: { repository, apiKeys } }) => {
  app.decorate('failures', repository)
  app.addHook('onClose', async () => { await Promise.all([repository.close(), apiKeys.close()]) })
}, { name: 'stores' })
