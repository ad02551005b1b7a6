import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { changeBody } from '../domain/changes.js'
import { problemResponses } from '../schemas/common.js'
import { ChangePageSchema, ChangeQuerySchema } from '../schemas/changes.js'

const changes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/changes', {
    config: { scope: 'reports:read' },
    schema: {
      tags: ['changes'],
      operationId: 'listChanges',
      summary: 'The change feed: every lifecycle change of the tenant\'s failures, in order',
      description: 'One entry per `failure.opened`, `failure.reopened`, `failure.resolved` and `failure.stalled`, ' +
        'numbered per tenant (`seq`, strictly increasing, committed in order: a reader that paged past N never misses ' +
        'a change numbered below N). Follow it with `after` set to the last seq you processed. ' +
        'Changes are kept for CHANGES_RETENTION (default 30 days).',
      querystring: ChangeQuerySchema,
      response: {
        200: ChangePageSchema,
        ...problemResponses(400)
      }
    }
  }, async (request) => {
    const { tenantId, query } = request
    const after = query.after ?? 0
    const items = await app.changes.list(tenantId, { after, batchId: query.batchId ?? null, types: query.type, limit: query.limit ?? 100 })
    const latestSeq = await app.changes.latestSeq(tenantId)
    return { items: items.map(changeBody), next: items.length === 0 ? after : items[items.length - 1].seq, latestSeq }
  })
}

export default changes
