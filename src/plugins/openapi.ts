import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifySchema, RouteOptions } from 'fastify'
import { ProblemSchema, problemResponses } from '../schemas/common.js'
import { BEARER_SCHEME } from './auth.js'
import { docsPolicy, servedOverHttps } from './protection.js'
import { webhookDocuments } from '../schemas/webhook-documents.js'

export const OPENAPI_INFO = {
  title: 'Sync failure reports',
  description: 'Mail-migration sync engines post sync-failure events; dashboards read, per migration batch, ' +
    'which mailboxes stopped syncing, why, and what to do about it. Errors are RFC 9457 problem details. ' +
    'Every operation but health and documentation needs an API key (`Authorization: Bearer sfr_...`) ' +
    'with the scope its description names; a key sees only its own tenant\'s data.',
  version: '0.1.0',
  license: { name: 'UNLICENSED: proprietary, not for redistribution', identifier: 'LicenseRef-Proprietary' }
}

/** The document's servers: PUBLIC_URL, or the address the document itself was fetched from. */
export function openapiServers (publicUrl: string | null): Array<{ url: string, description: string }> {
  return publicUrl === null
    ? [{ url: '/', description: 'This service, where this document was fetched from (set PUBLIC_URL to name its address)' }]
    : [{ url: publicUrl, description: 'This service (PUBLIC_URL)' }]
}

/** Adds each route's security requirement, required scope and auth problems from its declared scope. */
export function documentAccess (schema: FastifySchema, route: Pick<RouteOptions, 'config' | 'url'>): FastifySchema {
  const scope = (route.config as { scope?: string } | undefined)?.scope
  if (scope === 'public') return { ...schema, security: [] }
  const requirement = scope === undefined
    ? 'Declares no scope: no API key may call it.'
    : `Requires an API key with the scope \`${scope}\`.`
  return {
    ...schema,
    description: schema.description === undefined ? requirement : `${schema.description}\n\n${requirement}`,
    security: [{ [BEARER_SCHEME]: [] }],
    // Every keyed route can be refused (401, 403), limited (429) or find the service
    // overloaded or its database down (503); one with a path parameter can be sent one past
    // the router's limit (414).
    response: {
      ...(schema.response as Record<string, unknown> | undefined),
      ...problemResponses(401, 403, 429, 503, ...(route.url?.includes(':') === true ? [414] : []))
    }
  }
}

/** OpenAPI 3.1 generated from the route schemas, at /openapi.json, with Swagger UI at /docs. */
export default fp(async function openapi (app) {
  app.addSchema(ProblemSchema)
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: OPENAPI_INFO,
      servers: openapiServers(app.config.publicUrl),
      components: {
        securitySchemes: {
          [BEARER_SCHEME]: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'sfr_<43 base64url characters>',
            description: 'An API key of one tenant, with scopes `events:write`, `reports:read`, `admin` and/or `metrics:read`.'
          }
        }
      },
      webhooks: webhookDocuments(),
      tags: [
        { name: 'events', description: 'Sync engines report outcomes' },
        { name: 'reports', description: 'Dashboards read error reports' },
        { name: 'changes', description: 'The change feed: every lifecycle change, in order' },
        { name: 'classification', description: 'How raw engine errors become categories' },
        { name: 'troubleshooting', description: 'Guides per failure category' },
        { name: 'admin', description: 'API keys of the caller\'s tenant' },
        { name: 'webhooks', description: 'Signed webhooks (Standard Webhooks) for the tenant\'s changes; the bodies are under `webhooks`' },
        { name: 'health', description: 'Liveness and readiness probes' },
        { name: 'metrics', description: 'Prometheus metrics of the deployment, for operators' }
      ]
    },
    transform: ({ schema, url, route }) => ({ schema: documentAccess(schema, route), url }),
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, index) => typeof json.$id === 'string' ? json.$id : `def-${index}`
    }
  })
  // Swagger UI's own routes cannot declare a scope, so this context marks them public.
  await app.register(async function documentation (docs) {
    docs.addHook('onRoute', (route) => { route.config = { ...route.config, scope: 'public' } })
    const https = servedOverHttps(app.config.publicUrl)
    await docs.register(swaggerUi, { routePrefix: '/docs', staticCSP: true, transformStaticCSP: (header) => docsPolicy(header, https) })
  })
  app.get('/openapi.json', { schema: { hide: true }, config: { scope: 'public' } }, async () => app.swagger())
}, { name: 'openapi' })
