import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import helmet from 'helmet'
import rateLimit from '@fastify/rate-limit'
import underPressure from '@fastify/under-pressure'
import { Redis } from 'ioredis'
import type { Config } from '../config.js'
import { HttpProblem, PROBLEM_TYPES, sendProblem } from './problems.js'

export interface ProtectionOptions {
  rateLimit: Config['rateLimit']
  underPressure: Config['underPressure']
}

/**
 * The Redis client the instances count the rate limit in. Fails fast while Redis is down
 * (no offline queue, no retries per command), so the rate limit, told to skip on errors,
 * serves the request (fails open); every such request is counted in
 * sfr_rate_limit_store_errors_total, a warning is logged when Redis goes away (once, not per
 * request) and again when it is back, and ioredis reconnects on its own.
 */
function sharedCounter (app: FastifyInstance, url: string): Redis {
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: (times) => Math.min(times * 200, 2000) })
  const errors = app.metrics.counter('rate_limit_store_errors_total', 'Requests served without rate limiting because Redis (RATE_LIMIT_REDIS_URL) failed.')
  const up = app.metrics.gauge('rate_limit_store_up', '1 while the rate limit\'s Redis is connected, else 0.')
  up.set(0)
  let down = false
  redis.on('ready', () => {
    up.set(1)
    if (down) app.log.warn('rate limit: Redis is back; counting resumes')
    down = false
  })
  redis.on('error', (error) => {
    up.set(0)
    if (!down) app.log.warn({ err: error }, 'rate limit: Redis is unreachable; requests are served without rate limiting until it is back')
    down = true
  })
  // The store calls this command (defined by @fastify/rate-limit) once per request: count the failures.
  const original = redis.defineCommand.bind(redis)
  redis.defineCommand = (name, definition) => {
    original(name, definition)
    if (name !== 'rateLimit') return
    const command = (redis as unknown as Record<string, (...args: unknown[]) => unknown>)[name].bind(redis)
    ;(redis as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      const callback = args.pop() as (error: Error | null, result: unknown) => void
      return command(...args, (error: Error | null, result: unknown) => {
        if (error !== null && error !== undefined) errors.inc()
        callback(error, result)
      })
    }
  }
  app.addHook('onClose', async () => { redis.disconnect() })
  return redis
}

/**
 * Abuse limits: security headers, 503 when the event loop is saturated, and a rate limit per
 * API key (per client address for requests without a valid key). Registered after
 * `authentication`, which names the key, and before `authorization`, so refused requests count too.
 */
export default fp<ProtectionOptions>(async function protection (app, options) {
  // Security headers: helmet's defaults, its middleware built once. (@fastify/helmet builds it
  // anew on every request, parsing the CSP each time: about 15 us a request, measured.)
  // Swagger UI sets its own, relaxed policy on /docs (staticCSP); everything else is JSON.
  const securityHeaders = helmet()
  app.addHook('onRequest', (request, reply, done) => {
    securityHeaders(request.raw, reply.raw, (error) => { done(error as Error | undefined) })
  })

  await app.register(underPressure, {
    maxEventLoopDelay: options.underPressure.maxEventLoopDelayMs,
    maxEventLoopUtilization: options.underPressure.maxEventLoopUtilization,
    pressureHandler: async (request, reply) => {
      // Probes keep answering: an overloaded instance is alive, and readiness says the rest.
      if (request.routeOptions.config.scope === 'public') return
      await sendProblem(reply, {
        type: PROBLEM_TYPES.overloaded,
        title: 'Service Unavailable',
        status: 503,
        detail: 'The service is overloaded; retry shortly.'
      }, { 'retry-after': '5' })
    }
  })

  const redis = options.rateLimit.redisUrl === null ? null : sharedCounter(app, options.rateLimit.redisUrl)
  await app.register(rateLimit, {
    global: true,
    ...(redis === null ? {} : { redis, nameSpace: options.rateLimit.redisPrefix, skipOnError: true }),
    hook: 'onRequest',
    max: options.rateLimit.max,
    timeWindow: options.rateLimit.windowMs,
    enableDraftSpec: true,
    keyGenerator: (request) => request.apiKey === null ? `ip:${request.ip}` : `key:${request.apiKey.id}`,
    allowList: (request) => request.routeOptions.config.scope === 'public',
    errorResponseBuilder: (_request, context) => new HttpProblem({
      type: PROBLEM_TYPES.rateLimited,
      title: 'Too Many Requests',
      status: context.statusCode,
      detail: `Rate limit of ${context.max} requests exceeded; retry in ${context.after}.`
    })
  })
}, { name: 'protection', dependencies: ['authentication', 'problems', 'metrics'] })
