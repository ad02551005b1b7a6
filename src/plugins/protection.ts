import fp from 'fastify-plugin'
import helmet from 'helmet'
import rateLimit from '@fastify/rate-limit'
import underPressure from '@fastify/under-pressure'
import type { Config } from '../config.js'
import { HttpProblem, PROBLEM_TYPES, sendProblem } from './problems.js'

export interface ProtectionOptions {
  rateLimit: Config['rateLimit']
  underPressure: Config['underPressure']
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

  await app.register(rateLimit, {
    global: true,
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
}, { name: 'protection', dependencies: ['authentication', 'problems'] })
