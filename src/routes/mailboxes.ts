import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { notModifiedResponse } from '../plugins/conditional.js'
import { problemResponses } from '../schemas/common.js'
import { MailboxDetailSchema, MailboxParamsSchema, MailboxQuerySchema } from '../schemas/mailboxes.js'

const mailboxes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/batches/:batchId/mailboxes/:mailbox', {
    config: { scope: 'reports:read', etag: true },
    schema: {
      tags: ['reports'],
      operationId: 'getMailbox',
      summary: 'One mailbox of a batch: sync state, failures and event history',
      description: 'The mailbox\'s state (syncing, failing or stalled), its last successful sync, every failure ' +
        '(open and resolved) with its troubleshooting guide, and its events newest first, paged with `cursor`. ' +
        'Sends a strong ETag; `If-None-Match` answers 304 while nothing changed.',
      params: MailboxParamsSchema,
      querystring: MailboxQuerySchema,
      response: {
        200: MailboxDetailSchema,
        ...notModifiedResponse,
        ...problemResponses(400, 404)
      }
    }
  }, async (request) => {
    const { tenantId, query, params } = request
    return await app.reports.mailboxDetail(tenantId, params.batchId, params.mailbox, query.cursor, query.limit ?? 50)
  })
}

export default mailboxes
