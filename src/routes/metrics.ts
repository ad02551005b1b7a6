import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'

const metrics: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/metrics', {
    config: { scope: 'metrics:read' },
    schema: {
      tags: ['metrics'],
      operationId: 'getMetrics',
      summary: 'Prometheus metrics of this instance, in the text exposition format',
      description: 'Request durations, events ingested, open failures by category, stall sweeps, database pool use. ' +
        'Counts are of the whole deployment\'s data, not of the key\'s tenant: give `metrics:read` to operators\' keys only.',
      response: {
        200: {
          description: 'Prometheus text format 0.0.4.',
          content: { 'text/plain': { schema: Type.String() } }
        }
      }
    }
  }, async (_request, reply) => {
    const text = await app.metrics.registry.metrics()
    return await reply.type(app.metrics.registry.contentType).send(text)
  })
}

export default metrics
