import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { decodePosition, encodePosition, isoTime, mailboxSyncState, toReportItem, CATEGORY_IDS } from '../domain/index.js'
import type { EventPosition } from '../repositories/types.js'
import { notFoundProblem } from '../plugins/problems.js'
import { notModifiedResponse } from '../plugins/conditional.js'
import { problemResponses } from '../schemas/common.js'
import { MailboxDetailSchema, MailboxParamsSchema, MailboxQuerySchema } from '../schemas/mailboxes.js'

const EVENT_CURSOR = 'mailbox-events'

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
    const { tenantId, query } = request
    const batchId = request.params.batchId
    const mailbox = request.params.mailbox.toLowerCase()
    let after: EventPosition | null = null
    if (query.cursor !== undefined) {
      const [occurredAt, seq] = decodePosition(EVENT_CURSOR, [tenantId, batchId, mailbox], query.cursor, ['integer', 'integer'])
      after = { occurredAt: occurredAt as number, seq: seq as number }
    }
    if (await app.failures.findBatch(tenantId, batchId) === null) throw notFoundProblem(`batch "${batchId}" has no events`)
    const record = await app.failures.findMailbox(tenantId, batchId, mailbox)
    if (record === null) throw notFoundProblem(`mailbox "${mailbox}" has no events in batch "${batchId}"`)
    const [failures, history] = await Promise.all([
      app.failures.listFailures(tenantId, batchId, {
        filter: { status: 'all', categories: [], mailbox, since: null, until: null },
        after: null,
        snapshotSeq: await app.failures.currentSeq(),
        // A mailbox has at most one failure per category.
        limit: CATEGORY_IDS.length
      }),
      app.failures.listMailboxEvents(tenantId, batchId, mailbox, after, query.limit ?? 50)
    ])
    return {
      batchId,
      mailbox,
      state: mailboxSyncState(failures.items),
      firstEventAt: isoTime(record.firstEventAt),
      lastEventAt: isoTime(record.lastEventAt),
      lastSyncedAt: record.lastSyncedAt === null ? null : isoTime(record.lastSyncedAt),
      lastFailedAt: record.lastFailedAt === null ? null : isoTime(record.lastFailedAt),
      eventCount: record.eventCount,
      failures: failures.items.map(toReportItem),
      events: history.items.map((event) => ({
        id: event.id,
        occurredAt: isoTime(event.occurredAt),
        receivedAt: isoTime(event.receivedAt),
        outcome: event.outcome,
        category: event.category,
        rule: event.rule,
        code: event.code,
        message: event.message,
        context: event.context
      })),
      nextCursor: history.next === null ? null : encodePosition(EVENT_CURSOR, [tenantId, batchId, mailbox], [history.next.occurredAt, history.next.seq])
    }
  })
}

export default mailboxes
