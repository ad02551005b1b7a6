import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import type { ApiScope } from '../domain/api-keys.js'
import { authenticateApiKey, type ApiKeyRepository, type StoredApiKey } from '../repositories/api-keys.js'
import { HttpProblem, PROBLEM_TYPES } from './problems.js'

/** What a route needs: an API key with this scope, or nothing at all ('public'). */
export type RouteAccess = ApiScope | 'public'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Required scope of the route. Every route declares one: a route without is refused to
     * every key (deny by default), so a forgotten declaration cannot open data to the world.
     */
    scope?: RouteAccess
    /** A page: a signed-in browser's session counts as a reports:read key (GET and HEAD only). */
    page?: boolean
  }
  interface FastifyInstance {
    apiKeys: ApiKeyRepository
  }
  interface FastifyRequest {
    /** Tenant of the request's API key: every repository call is scoped by it. */
    tenantId: string
    /** The authenticated key; null on public routes and without a valid key. */
    apiKey: StoredApiKey | null
  }
}

export const BEARER_SCHEME = 'bearerAuth'

function bearerToken (request: FastifyRequest): string | null {
  const header = request.headers.authorization
  if (header === undefined) return null
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  return match === null ? '' : match[1]
}

function unauthorized (detail: string): HttpProblem {
  return new HttpProblem(
    { type: PROBLEM_TYPES.unauthorized, title: 'Unauthorized', status: 401, detail },
    { 'www-authenticate': 'Bearer realm="sync-failure-reports"' }
  )
}

function forbidden (detail: string): HttpProblem {
  return new HttpProblem({ type: PROBLEM_TYPES.forbidden, title: 'Forbidden', status: 403, detail })
}

/**
 * The key a signed-in browser's session names, narrowed to `reports:read`, when it is still
 * live. Only for reading (GET and HEAD) a reports:read route or a page: a cookie the browser
 * sends by itself never writes anything or reaches an admin route.
 */
async function sessionKey (apiKeys: ApiKeyRepository, request: FastifyRequest): Promise<StoredApiKey | null> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return null
  const { scope, page } = request.routeOptions.config
  if (scope !== 'reports:read' && page !== true) return null
  const held = (request as Partial<FastifyRequest>).session?.get('key')
  if (held === undefined) return null
  const key = (await apiKeys.findByPrefix(held.prefix)).find((candidate) => candidate.id === held.id)
  if (key === undefined || key.revokedAt !== null || !key.scopes.includes('reports:read')) return null
  return { ...key, scopes: ['reports:read'] }
}

/**
 * Finds the API key of each request (without refusing anything yet), so that the rate limit,
 * which runs next, can count per key. Register before the rate limit, `authorization` after it.
 */
export const authentication = fp<{ apiKeys: ApiKeyRepository }>(async function authentication (app, { apiKeys }) {
  app.decorate('apiKeys', apiKeys)
  app.decorateRequest('tenantId', '')
  app.decorateRequest('apiKey', null)
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.scope === 'public' && !request.is404) return
    const token = bearerToken(request)
    if (token === null) {
      const key = await sessionKey(app.apiKeys, request)
      if (key !== null) {
        request.apiKey = key
        request.tenantId = key.tenantId
      }
      return
    }
    if (token === '') return
    const key = await authenticateApiKey(app.apiKeys, token)
    if (key === null) return
    request.apiKey = key
    request.tenantId = key.tenantId
  })
}, { name: 'authentication' })

/**
 * Refuses what the route's declared scope does not allow: 401 without a valid key, 403 without
 * the scope. preParsing runs after every onRequest hook (the rate limit's are per route) and
 * before the body is read, so a refused request costs no parsing.
 */
export const authorization = fp(async function authorization (app) {
  app.addHook('preParsing', async (request) => {
    const scope = request.routeOptions.config.scope
    if (scope === 'public' && !request.is404) return
    const key = request.apiKey
    if (key === null) {
      const token = bearerToken(request)
      throw unauthorized(token === null
        ? 'Send an API key as "Authorization: Bearer <key>".'
        : token === '' ? 'The Authorization header is not "Bearer <key>".' : 'The API key is not valid or has been revoked.')
    }
    // An unknown route stays a 404 for any valid key.
    if (request.is404 || scope === 'public') return
    if (scope === undefined) throw forbidden('This route declares no scope, so no key may use it.')
    if (!key.scopes.includes(scope)) throw forbidden(`This route needs an API key with the scope "${scope}".`)
  })
}, { name: 'authorization', dependencies: ['authentication'] })
