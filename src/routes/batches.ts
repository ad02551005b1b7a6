import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { etagOf, reportItemsJson, toReportItem } from '../domain/index.js'
import { notModifiedResponse, sendNotModified, tagMatches } from '../plugins/conditional.js'
import { toProblemErrors, validationProblem } from '../plugins/problems.js'
import { reportQueryProblems } from '../services/reports.js'
import { problemResponses } from '../schemas/common.js'
import {
  BatchDetailSchema, BatchListQuerySchema, BatchListSchema, BatchParamsSchema, ErrorReportQuerySchema,
  ErrorReportSchema, RetryListQuerySchema, type ErrorReportQuery
} from '../schemas/batches.js'

function wantsCsv (query: ErrorReportQuery, accept: string | undefined): boolean {
  if (query.format !== undefined) return query.format === 'csv'
  if (accept === undefined) return false
  const types = accept.toLowerCase().split(',').map((part) => part.split(';')[0].trim())
  return types.includes('text/csv') && !types.includes('application/json')
}

/**
 * One 400 for everything wrong with the error report's request: the schema's errors (attached,
 * not thrown) and, once the path and the query's formats are right, the times the date-time
 * format accepts but JavaScript cannot represent. A time the schema already refused is not
 * named twice. Path errors stop there: Fastify checks the query string only after the path.
 */
function refuseInvalidQuery (invalid: FastifyRequest['validationError'], query: ErrorReportQuery): void {
  const part = invalid?.validationContext ?? 'querystring'
  const schemaErrors = invalid?.validation === undefined ? [] : toProblemErrors(part, invalid.validation)
  if (part !== 'querystring') throw validationProblem(schemaErrors)
  const named = new Set(schemaErrors.map((error) => error.pointer))
  const errors = [...schemaErrors, ...reportQueryProblems(query).filter((error) => !named.has(error.pointer))]
  if (errors.length > 0) throw validationProblem(errors)
}

/** Streams CSV lines as an attachment; the response serializer only knows the JSON shapes. */
export async function sendCsv (reply: FastifyReply, filename: string, lines: AsyncGenerator<string>): Promise<FastifyReply> {
  return await reply.type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename}"`)
    .send(Readable.from(lines))
}

/** Sends JSON serialized by the route, as a Buffer: its length is known, where a string would be measured and then encoded again. */
async function sendJson (reply: FastifyReply, body: Buffer): Promise<FastifyReply> {
  return await reply.type('application/json; charset=utf-8').send(body)
}

const batches: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/batches', {
    config: { scope: 'reports:read', etag: true },
    schema: {
      tags: ['reports'],
      operationId: 'listBatches',
      summary: 'Every batch of the tenant with its mailbox and failure counts',
      description: 'Newest batch first: by `createdAt` (when the service received the batch\'s first event) descending, ' +
        'then by batchId. No event moves a batch in this order, so a walk over every `cursor` returns each batch that ' +
        'existed when it started exactly once, also while events arrive; a batch created during the walk sorts ahead of ' +
        'the cursor and shows on the next walk. ' +
        'Sends a strong ETag; `If-None-Match` answers 304 while nothing changed.',
      querystring: BatchListQuerySchema,
      response: {
        200: BatchListSchema,
        ...notModifiedResponse,
        ...problemResponses(400)
      }
    }
  }, async (request) => {
    const { tenantId, query } = request
    return await app.reports.listBatches(tenantId, query.cursor, query.limit ?? 50)
  })

  app.get('/batches/:batchId', {
    config: { scope: 'reports:read', etag: true },
    schema: {
      tags: ['reports'],
      operationId: 'getBatch',
      summary: 'Summary of one migration batch',
      description: 'The batch\'s counts and the open blocking failure that has held new mail up longest. ' +
        'Sends a strong ETag; `If-None-Match` answers 304 while nothing changed.',
      params: BatchParamsSchema,
      response: {
        200: BatchDetailSchema,
        ...notModifiedResponse,
        ...problemResponses(400, 404)
      }
    }
  }, async (request) => {
    return await app.reports.batchDetail(request.tenantId, request.params.batchId)
  })

  app.get('/batches/:batchId/errors', {
    config: { scope: 'reports:read' },
    // Schema errors reach the handler, which adds the checks beyond the schema: one 400 names both.
    attachValidation: true,
    schema: {
      tags: ['reports'],
      operationId: 'getBatchErrors',
      summary: 'Error report of a migration batch',
      description: 'Failures ordered by lastSeenAt descending, then mailbox, each with its troubleshooting guide. ' +
        'Page with `cursor`: a walk over every cursor returns each failure once, also while events arrive. ' +
        '`summary` counts the whole batch. Stalls the service detected appear as open `sync_stalled` failures ' +
        '(rule `service.stall-detection`). `since`/`until` filter on lastSeenAt. ' +
        '`Accept: text/csv` or `format=csv` returns every matching failure as CSV. ' +
        'JSON answers carry a strong ETag; `If-None-Match` answers 304 while nothing changed.',
      params: BatchParamsSchema,
      querystring: ErrorReportQuerySchema,
      response: {
        200: {
          description: 'The report (JSON), or every matching failure as CSV.',
          content: {
            'application/json': { schema: ErrorReportSchema },
            'text/csv': { schema: { type: 'string', description: 'RFC 4180 CSV with a header row.' } }
          }
        },
        ...notModifiedResponse,
        ...problemResponses(400, 404)
      }
    }
  }, async (request, reply) => {
    refuseInvalidQuery(request.validationError, request.query)
    const { batchId } = request.params
    const { query, tenantId } = request
    const walk = await app.reports.startWalk(tenantId, batchId, query)

    if (wantsCsv(query, request.headers.accept)) {
      return await sendCsv(reply, `${batchId}-errors.csv`, app.reports.errorReportLines(tenantId, batchId, walk.filter))
    }

    const page = await app.reports.reportPage(tenantId, batchId, walk, query.limit ?? 50)
    const { summary } = page
    // Serialized here rather than by the response schema: the guides, most of the bytes, are
    // serialized once each (see reportItemsJson). The shape is ErrorReportSchema's.
    // Encoded to UTF-8 once, for the hash and the reply alike (the hash reads the body but for
    // its end, so the page, 64 KB at 50 items, is not copied again to add the cursor).
    const content = `{"batchId":${JSON.stringify(batchId)},"summary":${JSON.stringify(summary)},` +
      `"items":${reportItemsJson(page.failures.map(toReportItem))}`
    const body = Buffer.from(`${content},"nextCursor":${JSON.stringify(page.nextCursor)}}`)
    // The validator is the hash of what the page says. nextCursor counts only as the position
    // it holds: its snapshot moves with every event anywhere, which is not content.
    if (tagMatches(request, reply, etagOf(body.subarray(0, Buffer.byteLength(content)), JSON.stringify(page.next)))) return await sendNotModified(reply)
    return await sendJson(reply, body)
  })

  app.get('/batches/:batchId/retry-list', {
    config: { scope: 'reports:read' },
    schema: {
      tags: ['reports'],
      operationId: 'getBatchRetryList',
      summary: 'Mailboxes that need a new migration batch, as CSV',
      description: 'CSV with the header `EmailAddress` and one row per distinct mailbox with an open failure of the ' +
        'chosen categories (default `sync_stalled`), sorted by address: the file migration tools import to start a batch.',
      params: BatchParamsSchema,
      querystring: RetryListQuerySchema,
      response: {
        200: {
          description: 'The retry list.',
          content: { 'text/csv': { schema: { type: 'string', description: 'RFC 4180 CSV: EmailAddress, then one address per row.' } } }
        },
        ...problemResponses(400, 404)
      }
    }
  }, async (request, reply) => {
    const { batchId } = request.params
    await app.reports.requireBatch(request.tenantId, batchId)
    return await sendCsv(reply, `${batchId}-retry.csv`, app.reports.retryListLines(request.tenantId, batchId, request.query.category))
  })
}

export default batches
