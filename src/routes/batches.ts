import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  csvRow, decodeCursor, encodeCursor, filterFingerprint, InvalidCursorError, toReportItem,
  type CursorState
} from '../domain/index.js'
import type { FailureFilter, FailureRepository, ReportPosition } from '../repositories/types.js'
import { HttpProblem, notFoundProblem, PROBLEM_TYPES } from '../plugins/problems.js'
import { problemResponses } from '../schemas/common.js'
import { BatchParamsSchema, ErrorReportQuerySchema, ErrorReportSchema, type ErrorReportQuery } from '../schemas/batches.js'

const CSV_COLUMNS = [
  'mailbox', 'category', 'title', 'status', 'blocking', 'side', 'firstSeenAt', 'lastSeenAt',
  'occurrences', 'reopenCount', 'lastCode', 'lastMessage', 'rule', 'resolvedAt'
] as const

const CSV_PAGE = 500

function invalidCursor (detail: string): HttpProblem {
  return new HttpProblem({
    type: PROBLEM_TYPES.invalidCursor,
    title: 'Invalid cursor',
    status: 400,
    detail,
    errors: [{ in: 'querystring', pointer: '/cursor', detail }]
  })
}

function toFilter (query: ErrorReportQuery): FailureFilter {
  return { status: query.status ?? 'open', categories: query.category ?? [], mailbox: query.mailbox?.toLowerCase() ?? null }
}

function wantsCsv (query: ErrorReportQuery, accept: string | undefined): boolean {
  if (query.format !== undefined) return query.format === 'csv'
  if (accept === undefined) return false
  const types = accept.toLowerCase().split(',').map((part) => part.split(';')[0].trim())
  return types.includes('text/csv') && !types.includes('application/json')
}

/** Every matching failure, page by page from one snapshot, as CSV lines. */
async function * csvLines (repository: FailureRepository, tenantId: string, batchId: string, filter: FailureFilter): AsyncGenerator<string> {
  yield csvRow(CSV_COLUMNS)
  const snapshotSeq = await repository.currentSeq()
  let after: ReportPosition | null = null
  do {
    const page = await repository.listFailures(tenantId, batchId, { filter, after, snapshotSeq, limit: CSV_PAGE })
    let chunk = ''
    for (const failure of page.items) {
      const item = toReportItem(failure)
      chunk += csvRow(CSV_COLUMNS.map((column) => item[column]))
    }
    if (chunk !== '') yield chunk
    after = page.next
  } while (after !== null)
}

const batches: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/batches/:batchId/errors', {
    config: { scope: 'reports:read' },
    schema: {
      tags: ['reports'],
      summary: 'Error report of a migration batch',
      description: 'Failures ordered by lastSeenAt descending, then mailbox, each with its troubleshooting guide. ' +
        'Page with `cursor`: a walk over every cursor returns each failure once, also while events arrive. ' +
        '`summary` counts the whole batch. `Accept: text/csv` or `format=csv` returns every matching failure as CSV.',
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
        ...problemResponses(400, 404)
      }
    }
  }, async (request, reply) => {
    const { batchId } = request.params
    const { query } = request
    const tenantId = request.tenantId
    const filter = toFilter(query)
    const fingerprint = filterFingerprint(filter)
    let cursor: CursorState | null = null
    if (query.cursor !== undefined) {
      try {
        cursor = decodeCursor(query.cursor)
      } catch (error) {
        if (error instanceof InvalidCursorError) throw invalidCursor(error.message)
        throw error
      }
      if (cursor.filter !== fingerprint) throw invalidCursor('cursor belongs to a walk with other filters; start again without cursor')
    }
    const batch = await app.failures.findBatch(tenantId, batchId)
    if (batch === null) throw notFoundProblem(`batch "${batchId}" has no events`)

    if (wantsCsv(query, request.headers.accept)) {
      // The CSV streams past the response serializer, which only knows the JSON shape.
      const raw: FastifyReply = reply
      return await raw.type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${batchId}-errors.csv"`)
        .send(Readable.from(csvLines(app.failures, tenantId, batchId, filter)))
    }

    const snapshotSeq = cursor?.snapshotSeq ?? await app.failures.currentSeq()
    const [summary, page] = await Promise.all([
      app.failures.summarizeBatch(tenantId, batchId),
      app.failures.listFailures(tenantId, batchId, {
        filter,
        after: cursor === null ? null : { lastSeenAt: cursor.lastSeenAt, mailbox: cursor.mailbox, category: cursor.category },
        snapshotSeq,
        limit: query.limit ?? 50
      })
    ])
    return {
      batchId,
      summary,
      items: page.items.map(toReportItem),
      nextCursor: page.next === null ? null : encodeCursor({ ...page.next, snapshotSeq, filter: fingerprint })
    }
  })
}

export default batches
