import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  categoryInfo, csvRow, decodeCursor, guideText, heldUpSince, UTF8_BOM, decodePosition, encodeCursor, encodePosition, filterFingerprint, isoTime,
  etagOf, mailboxCounts, reportItemsJson, STALL_CATEGORY, toReportItem,
  type BatchCounts, type CategoryId, type CursorState
} from '../domain/index.js'
import type { BatchRecord, BatchSummary, FailureFilter, FailureRepository, ReportPosition } from '../repositories/types.js'
import { invalidCursorProblem, notFoundProblem, validationProblem } from '../plugins/problems.js'
import { notModifiedResponse, sendNotModified, tagMatches } from '../plugins/conditional.js'
import { problemResponses } from '../schemas/common.js'
import {
  BatchDetailSchema, BatchListQuerySchema, BatchListSchema, BatchParamsSchema, ErrorReportQuerySchema,
  ErrorReportSchema, RetryListQuerySchema, type BatchSummaryBody, type ErrorReportQuery
} from '../schemas/batches.js'

const CSV_COLUMNS = [
  'mailbox', 'category', 'title', 'status', 'blocking', 'side', 'firstSeenAt', 'lastSeenAt',
  'occurrences', 'reopenCount', 'lastCode', 'lastMessage', 'rule', 'resolvedAt', 'heldUpSince', 'troubleshooting'
] as const

/** What the retry list lets through: an address as the event schema took it (no quotes, commas or spaces). */
const RETRY_ADDRESS = /^[^\s@",;]+@[^\s@",;]+$/

const CSV_PAGE = 500

// Named after the order it pages: a cursor of the old activity order is refused, not misread.
const BATCH_CURSOR = 'batches-by-creation'

function toFilter (query: ErrorReportQuery): FailureFilter {
  const since = query.since === undefined ? null : Date.parse(query.since)
  const until = query.until === undefined ? null : Date.parse(query.until)
  const errors = [['since', since], ['until', until]]
    .filter(([, time]) => time !== null && !Number.isFinite(time))
    .map(([name]) => ({ in: 'querystring', pointer: `/${String(name)}`, detail: 'is not a representable RFC 3339 time' }))
  if (errors.length > 0) throw validationProblem(errors)
  return { status: query.status ?? 'open', categories: query.category ?? [], mailbox: query.mailbox?.toLowerCase() ?? null, since, until }
}

function wantsCsv (query: ErrorReportQuery, accept: string | undefined): boolean {
  if (query.format !== undefined) return query.format === 'csv'
  if (accept === undefined) return false
  const types = accept.toLowerCase().split(',').map((part) => part.split(';')[0].trim())
  return types.includes('text/csv') && !types.includes('application/json')
}

/** Streams CSV lines as an attachment; the response serializer only knows the JSON shapes. */
async function sendCsv (reply: FastifyReply, filename: string, lines: AsyncGenerator<string>): Promise<FastifyReply> {
  return await reply.type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename}"`)
    .send(Readable.from(lines))
}

/** Sends JSON serialized by the route, as a Buffer: its length is known, where a string would be measured and then encoded again. */
async function sendJson (reply: FastifyReply, head: Buffer, tail: string): Promise<FastifyReply> {
  return await reply.type('application/json; charset=utf-8').send(Buffer.concat([head, Buffer.from(tail)]))
}

/** Every matching failure, page by page from one snapshot, as CSV lines. */
async function * errorReportLines (repository: FailureRepository, tenantId: string, batchId: string, filter: FailureFilter): AsyncGenerator<string> {
  // The BOM tells Excel the file is UTF-8; every other reader skips it.
  yield UTF8_BOM + csvRow(CSV_COLUMNS)
  const snapshotSeq = await repository.currentSeq()
  let after: ReportPosition | null = null
  do {
    const page = await repository.listFailures(tenantId, batchId, { filter, after, snapshotSeq, limit: CSV_PAGE })
    const open = page.items.filter((failure) => failure.status === 'open').map((failure) => failure.mailbox)
    const syncs = open.length === 0 ? new Map<string, number | null>() : await repository.lastSyncs(tenantId, batchId, open)
    let chunk = ''
    for (const failure of page.items) {
      const { troubleshooting, ...item } = toReportItem(failure)
      const held = heldUpSince(failure, syncs.get(failure.mailbox) ?? null)
      const row = { ...item, heldUpSince: held === null ? null : isoTime(held), troubleshooting: guideText(troubleshooting) }
      chunk += csvRow(CSV_COLUMNS.map((column) => row[column]))
    }
    if (chunk !== '') yield chunk
    after = page.next
  } while (after !== null)
}

/** The import format migration tools take to start a batch: one EmailAddress per row. */
async function * retryListLines (repository: FailureRepository, tenantId: string, batchId: string, categories: CategoryId[]): AsyncGenerator<string> {
  yield csvRow(['EmailAddress'])
  let after: string | null = null
  for (;;) {
    const mailboxes = await repository.listMailboxesWithOpenFailures(tenantId, batchId, categories, after, CSV_PAGE)
    // Addresses only, checked again here, so no formula guard: it would change a real address
    // (-dash@contoso.com) into one the migration tool cannot import.
    const rows = mailboxes.filter((mailbox) => RETRY_ADDRESS.test(mailbox)).map((mailbox) => csvRow([mailbox], false)).join('')
    if (rows !== '') yield rows
    if (mailboxes.length < CSV_PAGE) return
    after = mailboxes[mailboxes.length - 1]
  }
}

const NO_COUNTS: BatchCounts = {
  mailboxesSeen: 0, mailboxesWithOpenFailures: 0, mailboxesBlocked: 0, mailboxesStalled: 0, openFailures: 0, byCategory: {}
}

function batchSummary (batch: BatchRecord, counts: BatchCounts = NO_COUNTS): BatchSummaryBody {
  return {
    batchId: batch.batchId,
    firstEventAt: isoTime(batch.firstEventAt),
    lastEventAt: isoTime(batch.lastEventAt),
    createdAt: isoTime(batch.createdAt),
    ...mailboxCounts(counts),
    openFailures: counts.openFailures,
    byCategory: counts.byCategory
  }
}

/** The error report's summary: open failures, and the mailboxes with any open failure. */
function reportSummary (counts: BatchCounts = NO_COUNTS): BatchSummary {
  return { openFailures: counts.openFailures, mailboxesFailing: counts.mailboxesWithOpenFailures, byCategory: counts.byCategory }
}

const batches: FastifyPluginAsyncTypebox = async (app) => {
  async function requireBatch (tenantId: string, batchId: string): Promise<BatchRecord> {
    const batch = await app.failures.findBatch(tenantId, batchId)
    if (batch === null) throw notFoundProblem(`batch "${batchId}" has no events`)
    // Stalls are found by the background sweep (app.stallSweep), never on a read.
    return batch
  }

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
    let after = null
    if (query.cursor !== undefined) {
      const [createdAt, batchId] = decodePosition(BATCH_CURSOR, [tenantId], query.cursor, ['integer', 'string'])
      after = { createdAt: createdAt as number, batchId: batchId as string }
    }
    const page = await app.failures.listBatches(tenantId, after, query.limit ?? 50)
    const ids = page.items.map((batch) => batch.batchId)
    const counts = await app.failures.countBatches(tenantId, ids)
    return {
      items: page.items.map((batch) => batchSummary(batch, counts.get(batch.batchId))),
      nextCursor: page.next === null ? null : encodePosition(BATCH_CURSOR, [tenantId], [page.next.createdAt, page.next.batchId])
    }
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
    const { tenantId } = request
    const batch = await requireBatch(tenantId, request.params.batchId)
    const [counts, oldest] = await Promise.all([
      app.failures.countBatches(tenantId, [batch.batchId]),
      app.failures.oldestBlockingFailure(tenantId, batch.batchId)
    ])
    return {
      ...batchSummary(batch, counts.get(batch.batchId)),
      oldestBlockingFailure: oldest === null
        ? null
        : {
            mailbox: oldest.failure.mailbox,
            category: oldest.failure.category,
            title: categoryInfo(oldest.failure.category).title,
            heldUpSince: isoTime(oldest.heldUpSince)
          }
    }
  })

  app.get('/batches/:batchId/errors', {
    config: { scope: 'reports:read' },
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
    const { batchId } = request.params
    const { query, tenantId } = request
    const filter = toFilter(query)
    const fingerprint = filterFingerprint(filter, [tenantId, batchId])
    let cursor: CursorState | null = null
    if (query.cursor !== undefined) {
      cursor = decodeCursor(query.cursor)
      if (cursor.filter !== fingerprint) throw invalidCursorProblem('cursor belongs to another walk (another batch, tenant or filters); start again without cursor')
    }
    await requireBatch(tenantId, batchId)

    if (wantsCsv(query, request.headers.accept)) {
      return await sendCsv(reply, `${batchId}-errors.csv`, errorReportLines(app.failures, tenantId, batchId, filter))
    }

    const snapshotSeq = cursor?.snapshotSeq ?? await app.failures.currentSeq()
    const [counts, page] = await Promise.all([
      app.failures.countBatches(tenantId, [batchId]),
      app.failures.listFailures(tenantId, batchId, {
        filter,
        after: cursor === null ? null : { lastSeenAt: cursor.lastSeenAt, mailbox: cursor.mailbox, category: cursor.category },
        snapshotSeq,
        limit: query.limit ?? 50
      })
    ])
    const summary = reportSummary(counts.get(batchId))
    // Serialized here rather than by the response schema: the guides, most of the bytes, are
    // serialized once each (see reportItemsJson). The shape is ErrorReportSchema's.
    // Encoded to UTF-8 once, for the hash and the reply alike.
    const content = Buffer.from(`{"batchId":${JSON.stringify(batchId)},"summary":${JSON.stringify(summary)},` +
      `"items":${reportItemsJson(page.items.map(toReportItem))}`)
    // The validator is the hash of what the page says. nextCursor counts only as the position
    // it holds: its snapshot moves with every event anywhere, which is not content.
    if (tagMatches(request, reply, etagOf(content, JSON.stringify(page.next)))) return await sendNotModified(reply)
    const nextCursor = page.next === null ? null : encodeCursor({ ...page.next, snapshotSeq, filter: fingerprint })
    return await sendJson(reply, content, `,"nextCursor":${JSON.stringify(nextCursor)}}`)
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
    await requireBatch(request.tenantId, batchId)
    const categories = request.query.category ?? [STALL_CATEGORY]
    return await sendCsv(reply, `${batchId}-retry.csv`, retryListLines(app.failures, request.tenantId, batchId, categories))
  })
}

export default batches
