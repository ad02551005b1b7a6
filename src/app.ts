import { isUtf8 } from 'node:buffer'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from './config.js'
import { stallDetection, type StallDetection } from './domain/index.js'
import { API_SCOPES } from './domain/api-keys.js'
import { issueApiKey, type ApiKeyRepository } from './repositories/api-keys.js'
import { openStores, type Stores } from './repositories/index.js'
import requestIds, { requestId } from './plugins/request-id.js'
import problems, { clientErrorHandler, sendFrameworkError, validationProblem } from './plugins/problems.js'
import { validatorCompiler } from './plugins/validation.js'
import { authentication, authorization } from './plugins/auth.js'
import protection from './plugins/protection.js'
import openapi from './plugins/openapi.js'
import conditional from './plugins/conditional.js'
import eventRoutes from './routes/events.js'
import batchRoutes from './routes/batches.js'
import mailboxRoutes from './routes/mailboxes.js'
import troubleshootingRoutes from './routes/troubleshooting.js'
import healthRoutes from './routes/health.js'
import classifyRoutes from './routes/classify.js'
import apiKeyRoutes from './routes/api-keys.js'
import changeFeed from './plugins/change-feed.js'
import stores from './plugins/stores.js'
import stallSweep from './plugins/stall-sweep.js'
import retention from './plugins/retention.js'
import changeRoutes from './routes/changes.js'
import webhooks from './plugins/webhooks.js'
import webhookRoutes from './routes/webhooks.js'
import type { WebhookResolver } from './services/webhook-client.js'
import metrics from './plugins/metrics.js'
import metricsRoutes from './routes/metrics.js'
import emailDigests from './plugins/email-digests.js'
import emailSubscriptionRoutes from './routes/email-subscriptions.js'
import emailUnsubscribeRoutes from './routes/email-unsubscribe.js'
import type { EmailRepository } from './repositories/email.js'
import { ReportService } from './services/reports.js'
import { fastifySSE as sse } from '@fastify/sse'
import session from './plugins/session.js'
import streamRoutes, { HEARTBEAT_MS } from './routes/stream.js'
import pageRoutes from './pages/routes.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Milliseconds since the epoch; injectable so tests control time. */
    clock: () => number
    config: Config
    /** The stall rule as of now (app.clock) and STALL_AFTER. */
    stallDetection: () => StallDetection
    /** The report's reading side, shared by the API routes and the pages. */
    reports: ReportService
  }
}

export interface AppOptions {
  /** Use these stores instead of opening those of the database config.database names (without `emails`, e-mail is off). */
  stores?: Omit<Stores, 'emails'> & { emails?: EmailRepository }
  clock?: () => number
  logger?: FastifyServerOptions['logger']
  /** How webhook URLs' host names resolve (tests inject names; nothing else is ever looked up). */
  webhookResolver?: WebhookResolver
}

export const DEFAULT_TENANT = 'default'

/** A new deployment's first key: BOOTSTRAP_ADMIN_KEY, with every scope, when no key exists at all. */
export async function bootstrapAdminKey (apiKeys: ApiKeyRepository, secret: string | null, now: number): Promise<boolean> {
  if (secret === null || await apiKeys.count() > 0) return false
  const { stored } = await issueApiKey(apiKeys, { tenantId: DEFAULT_TENANT, scopes: [...API_SCOPES], name: 'bootstrap admin', secret }, now)
  return stored
}

/** How often Node looks for requests past their deadline: a tenth of it, between 100 ms and 1 s. */
export function connectionsCheckingInterval (requestTimeoutMs: number): number {
  return Math.min(1000, Math.max(100, Math.floor(requestTimeoutMs / 10)))
}

/** Builds the whole service: infrastructure plugins, then the domain, then the routes. */
export async function buildApp (config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel },
    return503OnClosing: true,
    // Every request's id: the caller's valid x-request-id or a new UUID (see request-id.ts).
    requestIdHeader: false,
    genReqId: requestId,
    forceCloseConnections: 'idle',
    frameworkErrors: sendFrameworkError,
    clientErrorHandler,
    // Path parameters are checked by the routes' schemas, which name the parameter (400);
    // the router's own limit (414) is only a backstop far beyond any valid value.
    routerOptions: { maxParamLength: 2048 },
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: config.requestTimeoutMs,
    // Node enforces requestTimeout and headersTimeout only when it checks its connections,
    // every 30 s by default: a body that never ends (or headers sent a byte at a time) then
    // lived for up to a minute more. Checking often enough keeps both within about a second
    // of REQUEST_TIMEOUT.
    http: { headersTimeout: config.requestTimeoutMs, connectionsCheckingInterval: connectionsCheckingInterval(config.requestTimeoutMs) }
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.setValidatorCompiler(validatorCompiler)
  // JSON only: Fastify's built-in text/plain parser would turn a text body into a string that
  // then fails the schema (400); any content type but JSON is 415.
  app.removeContentTypeParser('text/plain')
  // JSON as Fastify parses it (prototype poisoning refused), but only from valid UTF-8: a
  // decoder would turn bad bytes into U+FFFD and store an engine's message changed.
  const parseJson = app.getDefaultJsonParser('error', 'ignore')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer
    if (!isUtf8(bytes)) {
      done(validationProblem([{ in: 'body', pointer: '', detail: 'is not valid UTF-8: send the JSON text encoded as UTF-8' }]), undefined)
      return
    }
    parseJson(request, bytes.toString('utf8'), done)
  })
  await app.register(requestIds)
  await app.register(problems)
  await app.register(metrics)

  const opened = options.stores ?? await openStores(config.database, {
    poolSize: config.databasePoolSize,
    onBackgroundError: (error) => { app.log.error({ err: error }, 'WAL checkpointer failed: the service checkpoints on its own connection again') }
  })
  const { apiKeys, emails, webhooks: webhookStore } = opened
  await app.register(stores, { stores: opened })
  app.decorate('reports', new ReportService(opened.repository))
  const clock = options.clock ?? Date.now
  app.decorate('clock', clock)
  app.decorate('config', config)
  app.decorate('stallDetection', () => stallDetection(clock(), config.stallAfterMs))
  if (await bootstrapAdminKey(apiKeys, config.bootstrapAdminKey, app.clock())) {
    app.log.info({ tenantId: DEFAULT_TENANT }, 'created the bootstrap admin key from BOOTSTRAP_ADMIN_KEY')
  }

  await app.register(changeFeed)
  await app.register(stallSweep)
  await app.register(retention)
  await app.register(emailDigests, { repository: emails ?? null })
  await app.register(webhooks, { store: webhookStore, resolver: options.webhookResolver })

  // The session is read before the key is looked for: a signed-in browser's session names one.
  await app.register(session, { apiKeys })
  // Order matters: the key is found, then counted by the rate limit, then checked against the route's scope.
  await app.register(authentication, { apiKeys })
  await app.register(protection, { rateLimit: config.rateLimit, underPressure: config.underPressure, publicUrl: config.publicUrl })
  await app.register(authorization)
  await app.register(openapi)
  await app.register(conditional)

  await app.register(healthRoutes)
  await app.register(eventRoutes)
  await app.register(batchRoutes)
  await app.register(mailboxRoutes)
  await app.register(troubleshootingRoutes)
  await app.register(classifyRoutes)
  await app.register(apiKeyRoutes)
  await app.register(changeRoutes)
  await app.register(webhookRoutes)
  await app.register(metricsRoutes)
  await app.register(emailSubscriptionRoutes)
  await app.register(emailUnsubscribeRoutes)
  await app.register(sse, { heartbeatInterval: HEARTBEAT_MS })
  await app.register(streamRoutes)
  await app.register(pageRoutes)
  return app
}
