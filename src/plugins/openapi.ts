import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { ProblemSchema } from '../schemas/common.js'

export const OPENAPI_INFO = {
  title: 'Sync failure reports',
  description: 'Mail-migration sync engines post sync-failure events; dashboards read, per migration batch, ' +
    'which mailboxes stopped syncing, why, and what to do about it. Errors are RFC 9457 problem details.',
  version: '0.1.0'
}

/** OpenAPI 3.1 generated from the route schemas, at /openapi.json, with Swagger UI at /docs. */
export default fp(async function openapi (app) {
  app.addSchema(ProblemSchema)
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: OPENAPI_INFO,
      tags: [
        { name: 'events', description: 'Sync engines report outcomes' },
        { name: 'reports', description: 'Dashboards read error reports' },
        { name: 'classification', description: 'How raw engine errors become categories' },
        { name: 'troubleshooting', description: 'Guides per failure category' },
        { name: 'health', description: 'Liveness and readiness probes' }
      ]
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, index) => typeof json.$id === 'string' ? json.$id : `def-${index}`
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'openapi' })
