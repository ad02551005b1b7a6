import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from './config.js'
import { stallDetection, type StallDetection } from './domain/index.js'
import type { FailureRepository } from './repositories/types.js'
import { openRepository } from './repositories/index.js'
import problems, { sendFrameworkError } from './plugins/problems.js'
import { validatorCompiler } from './plugins/validation.js'
import openapi from './plugins/openapi.js'
import eventRoutes from './routes/events.js'
import batchRoutes from './routes/batches.js'
import mailboxRoutes from './routes/mailboxes.js'
import troubleshootingRoutes from './routes/troubleshooting.js'
import healthRoutes from './routes/health.js'
import classifyRoutes from './routes/classify.js'

declare module 'fastify' {
  interface FastifyInstance {
    failures: FailureRepository
    /** Milliseconds since the epoch; injectable so tests control time. */
    clock: () => number
    config: Config
    /** The stall rule as of now (app.clock) and STALL_AFTER. */
    stallDetection: () => StallDetection
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
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    frameworkErrors: sendFrameworkError
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.setValidatorCompiler(validatorCompiler)
  await app.register(problems)
  await app.register(openapi)

  const repository = options.repository ?? await openRepository(config.database, { poolSize: config.databasePoolSize })
  app.decorate('failures', repository)
  const clock = options.clock ?? Date.now
  app.decorate('clock', clock)
  app.decorate('config', config)
  app.decorate('stallDetection', () => stallDetection(clock(), config.stallAfterMs))
  app.addHook('onClose', async () => { await repository.close() })
  app.decorateRequest('tenantId', DEFAULT_TENANT)

  await app.register(healthRoutes)
  await app.register(eventRoutes)
  await app.register(batchRoutes)
  await app.register(mailboxRoutes)
  await app.register(troubleshootingRoutes)
  await app.register(classifyRoutes)
  return app
}
