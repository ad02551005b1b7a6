import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from './config.js'
import type { FailureRepository } from './repositories/types.js'
import { openRepository } from './repositories/index.js'
import problems from './plugins/problems.js'
import openapi from './plugins/openapi.js'
import eventRoutes from './routes/events.js'
import batchRoutes from './routes/batches.js'
import troubleshootingRoutes from './routes/troubleshooting.js'
import healthRoutes from './routes/health.js'

declare module 'fastify' {
  interface FastifyInstance {
    failures: FailureRepository
    /** Milliseconds since the epoch; injectable so tests control time. */
    clock: () => number
  }
  interface FastifyRequest {
    tenantId: string
  }
}

export interface AppOptions {
  /** Use this repository instead of opening the one config.database names. */
  repository?: FailureRepository
  clock?: () => number
  logger?: FastifyServerOptions['logger']
}

export const DEFAULT_TENANT = 'default'

/** Builds the whole service: infrastructure plugins, then the domain, then the routes. */
export async function buildApp (config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel },
    ajv: { customOptions: { removeAdditional: false } },
    return503OnClosing: true,
    forceCloseConnections: 'idle'
  }).withTypeProvider<TypeBoxTypeProvider>()

  await app.register(problems)
  await app.register(openapi)

  const repository = options.repository ?? await openRepository(config.database, { poolSize: config.databasePoolSize })
  app.decorate('failures', repository)
  app.decorate('clock', options.clock ?? Date.now)
  app.addHook('onClose', async () => { await repository.close() })
  app.decorateRequest('tenantId', DEFAULT_TENANT)

  await app.register(healthRoutes)
  await app.register(eventRoutes)
  await app.register(batchRoutes)
  await app.register(troubleshootingRoutes)
  return app
}
