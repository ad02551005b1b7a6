import fp from 'fastify-plugin'
import type { Stores } from '../repositories/index.js'
import type { EmailRepository } from '../repositories/email.js'
import type { FailureRepository } from '../repositories/types.js'

declare module 'fastify' {
  interface FastifyInstance {
    failures: FailureRepository
  }
}

/**
 * The stores, as the named plugin `stores`: plugins that use `app.failures` declare it as a
 * dependency (fastify-plugin checks the order at start). Closes the stores when the app closes.
 */
export default fp<{ stores: Omit<Stores, 'emails'> & { emails?: EmailRepository } }>(async (app, { stores: { repository, apiKeys, emails } }) => {
  app.decorate('failures', repository)
  app.addHook('onClose', async () => { await Promise.all([repository.close(), apiKeys.close(), emails?.close()]) })
}, { name: 'stores' })
