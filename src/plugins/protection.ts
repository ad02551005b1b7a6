import fp from 'fastify-plugin'
import helmet from 'helmet'
import rateLimit from '@fastify/rate-limit'
import underPressure from '@fastify/under-pressure'
import type { Config } from '../config.js'
import { HttpProblem, PROBLEM_TYPES, sendProblem } from './problems.js'

export interface ProtectionOptions {
  rateLimit: Config['rateLimit']
  underPressure: Config['underPressure']
  publicUrl: Config['publicUrl']
}

/** True when browsers reach the service over https (PUBLIC_URL says so). */
export function servedOverHttps (publicUrl: string | null): boolean {
  return publicUrl?.startsWith('https:') === true
}

/**
 * The pages' Content-Security-Policy: scripts and styles only from this origin (no inline
 * script or style, no eval), no plugins, no framing, forms only to this origin.
 * upgrade-insecure-requests only over https: sent over plain http it makes browsers fetch
 * every asset over an https that is not there (a blank page on any host but localhost).
 */
export function contentSecurityPolicy (https: boolean): Record<string, string[] | null> {
  return {
    'default-src': ["'self'"],
    'base-uri': ["'none'"],
    'connect-src': ["'self'"],
    'font-src': ["'self'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
    'img-src': ["'self'", 'data:'],
    'object-src': ["'none'"],
    'script-src': ["'self'"],
    'script-src-attr': ["'none'"],
    'style-src': ["'self'"],
    'upgrade-insecure-requests': https ? [] : null
  }
}

/** Swagger UI's own policy (set on /docs), without upgrade-insecure-requests unless served over https. */
export function docsPolicy (header: string, https: boolean): string {
  return https ? header : header.replace(/\s*upgrade-insecure-requests;?/g, '').trim()
}

/**
 * Abuse limits: security headers, 503 when the event loop is saturated, and a rate limit per
 * API key (per client address for requests without a valid key). Registered after
 * `authentication`, which names the key, and before `authorization`, so refused requests count too.
 */
export default fp<ProtectionOptions>(async function protection (app, options) {
  // Security headers: helmet's, its middleware built once. (@fastify/helmet builds it anew on
  // every request, parsing the CSP each time: about 15 us a request, measured.) Swagger UI
  // sets its own, relaxed policy on /docs (staticCSP). HSTS stays: browsers ignore it over http.
  const https = servedOverHttps(options.publicUrl)
  const securityHeaders = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: contentSecurityPolicy(https) }
  })
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
