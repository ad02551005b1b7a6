import {
  categoryInfo, csvRow, decodeCursor, decodePosition, encodeCursor, encodePosition, filterFingerprint, guideText, heldUpSince,
  isoTime, mailboxCounts, mailboxSyncState, toReportItem, troubleshootingGuide, CATEGORY_IDS, STALL_CATEGORY, UTF8_BOM,
  type BatchCounts, type CategoryId, type CursorState, type EventContext
} from '../domain/index.js'
import type {
  BatchRecord, BatchSummary, EventPosition, FailureFilter, FailureRecord, FailureRepository, ReportPosition
} from '../repositories/types.js'
import { invalidCursorProblem, notFoundProblem, validationProblem, type ProblemError } from '../plugins/problems.js'
import type { BatchSummaryBody, ErrorReportQuery } from '../schemas/batches.js'
import type { Static } from 'typebox'
import type { MailboxDetailSchema } from '../schemas/mailboxes.js'
import type { CategoryGuide } from '../schemas/troubleshooting.js'

// The report's reading side, shared by the JSON API and the pages: one copy of how a batch is
// summarised, how the error report is filtered and paged, and what a mailbox's page holds.
// Thin on purpose: every number comes from a repository method.

export const CSV_COLUMNS = [
  'mailbox', 'category', 'title', 'status', 'blocking', 'side', 'firstSeenAt', 'lastSeenAt',
  'occurrences', 'reopenCount', 'lastCode', 'lastMessage', 'rule', 'resolvedAt', 'heldUpSince', 'troubleshooting'
] as const

/** What the retry list lets through: an address as the event schema took it (no quotes, commas or spaces). */
const RETRY_ADDRESS = /^[^\s@",;]+@[^\s@",;]+$/

const CSV_PAGE = 500
// Named after the order it pages: a cursor of the old activity order is refused, not misread.
const BATCH_CURSOR = 'batches-by-creation'
const EVENT_CURSOR = 'mailbox-events'

export type MailboxDetail = Static<typeof MailboxDetailSchema>

/**
 * What the query schema cannot check: a `since` or `until` the date-time format accepts but
 * no JavaScript time represents (year 275761 on). One problem per such time.
 */
export function reportQueryProblems (query: Pick<ErrorReportQuery, 'since' | 'until'>): ProblemError[] {
  return (['since', 'until'] as const)
    .filter((name) => query[name] !== undefined && !Number.isFinite(Date.parse(query[name] as string)))
    .map((name) => ({ in: 'querystring', pointer: `/${name}`, detail: 'is not a representable RFC 3339 time' }))
}

/** The error report's filters as the query gives them; 400 naming each time that cannot be represented. */
export function reportFilter (query: ErrorReportQuery): FailureFilter {
  const errors = reportQueryProblems(query)
  if (errors.length > 0) throw validationProblem(errors)
  return {
    status: query.status ?? 'open',
    categories: query.category ?? [],
    mailbox: query.mailbox?.toLowerCase() ?? null,
    // Lower-cased as the stored addresses are (domain/events.ts), so the match ignores case.
    mailboxContains: query.mailboxContains?.toLowerCase() ?? null,
    since: query.since === undefined ? null : Date.parse(query.since),
    until: query.until === undefined ? null : Date.parse(query.until)
  }
}

const NO_COUNTS: BatchCounts = {
  mailboxesSeen: 0, mailboxesWithOpenFailures: 0, mailboxesBlocked: 0, mailboxesStalled: 0, openFailures: 0, byCategory: {}
}

export function batchSummary (batch: BatchRecord, counts: BatchCounts = NO_COUNTS): BatchSummaryBody {
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
export function reportSummary (counts: BatchCounts = NO_COUNTS): BatchSummary {
  return { openFailures: counts.openFailures, mailboxesFailing: counts.mailboxesWithOpenFailures, byCategory: counts.byCategory }
}

export function categoryGuide (id: CategoryId, context: EventContext): CategoryGuide {
  const { title, summary, side, blocking, retryable, retryAdvice } = categoryInfo(id)
  return { id, title, summary, side, blocking, retryable, retryAdvice, ...troubleshootingGuide(id, context) }
}

export interface BatchDetail extends BatchSummaryBody {
  oldestBlockingFailure: { mailbox: string, category: CategoryId, title: string, heldUpSince: string } | null
}

/** A validated walk over the error report: its filters, where it stands, and the fingerprint its cursors carry. */
export interface ReportWalk {
  filter: FailureFilter
  cursor: CursorState | null
  fingerprint: string
}

export interface ReportPage {
  summary: BatchSummary
  failures: FailureRecord[]
  next: ReportPosition | null
  nextCursor: string | null
}

export class ReportService {
  constructor (private readonly repository: FailureRepository) {}

  /** The batch, or 404 when the tenant has no event in it (another tenant's batch included). */
  async requireBatch (tenantId: string, batchId: string): Promise<BatchRecord> {
    const batch = await this.repository.findBatch(tenantId, batchId)
    if (batch === null) throw notFoundProblem(`batch "${batchId}" has no events`)
    // Stalls are found by the background sweep (app.stallSweep), never on a read.
    return batch
  }

  /** One page of the tenant's batches with their counts, newest (createdAt) first. */
  async listBatches (tenantId: string, cursor: string | undefined, limit: number): Promise<{ items: BatchSummaryBody[], nextCursor: string | null }> {
    let after = null
    if (cursor !== undefined) {
      const [createdAt, batchId] = decodePosition(BATCH_CURSOR, [tenantId], cursor, ['integer', 'string'])
      after = { createdAt: createdAt as number, batchId: batchId as string }
    }
    const page = await this.repository.listBatches(tenantId, after, limit)
    const counts = await this.repository.countBatches(tenantId, page.items.map((batch) => batch.batchId))
    return {
      items: page.items.map((batch) => batchSummary(batch, counts.get(batch.batchId))),
      nextCursor: page.next === null ? null : encodePosition(BATCH_CURSOR, [tenantId], [page.next.createdAt, page.next.batchId])
    }
  }

  async batchDetail (tenantId: string, batchId: string): Promise<BatchDetail> {
    const batch = await this.requireBatch(tenantId, batchId)
    const [counts, oldest] = await Promise.all([
      this.repository.countBatches(tenantId, [batch.batchId]),
      this.repository.oldestBlockingFailure(tenantId, batch.batchId)
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
  }

  /** Checks the query's filters and cursor (a cursor continues only its own walk) and that the batch exists. */
  async startWalk (tenantId: string, batchId: string, query: ErrorReportQuery): Promise<ReportWalk> {
    const filter = reportFilter(query)
    const fingerprint = filterFingerprint(filter, [tenantId, batchId])
    let cursor: CursorState | null = null
    if (query.cursor !== undefined) {
      cursor = decodeCursor(query.cursor)
      if (cursor.filter !== fingerprint) throw invalidCursorProblem('cursor belongs to another walk (another batch, tenant or filters); start again without cursor')
    }
    await this.requireBatch(tenantId, batchId)
    return { filter, cursor, fingerprint }
  }

  /** One page of the error report and the whole batch's summary. */
  async reportPage (tenantId: string, batchId: string, walk: ReportWalk, limit: number): Promise<ReportPage> {
    const { cursor } = walk
    const snapshotSeq = cursor?.snapshotSeq ?? await this.repository.currentSeq()
    const [counts, page] = await Promise.all([
      this.repository.countBatches(tenantId, [batchId]),
      this.repository.listFailures(tenantId, batchId, {
        filter: walk.filter,
        after: cursor === null ? null : { lastSeenAt: cursor.lastSeenAt, mailbox: cursor.mailbox, category: cursor.category },
        snapshotSeq,
        limit
      })
    ])
    return {
      summary: reportSummary(counts.get(batchId)),
      failures: page.items,
      next: page.next,
      nextCursor: page.next === null ? null : encodeCursor({ ...page.next, snapshotSeq, filter: walk.fingerprint })
    }
  }

  /** heldUpSince (epoch ms, or null) of each of these failures of one batch. */
  async heldUpSinceOf (tenantId: string, batchId: string, failures: readonly FailureRecord[]): Promise<Array<number | null>> {
    const open = failures.filter((failure) => failure.status === 'open').map((failure) => failure.mailbox)
    const syncs = open.length === 0 ? new Map<string, number | null>() : await this.repository.lastSyncs(tenantId, batchId, open)
    return failures.map((failure) => heldUpSince(failure, syncs.get(failure.mailbox) ?? null))
  }

  /** Every matching failure, page by page from one snapshot, as CSV lines. */
  async * errorReportLines (tenantId: string, batchId: string, filter: FailureFilter): AsyncGenerator<string> {
    // The BOM tells Excel the file is UTF-8; every other reader skips it.
    yield UTF8_BOM + csvRow(CSV_COLUMNS)
    const snapshotSeq = await this.repository.currentSeq()
    let after: ReportPosition | null = null
    do {
      const page = await this.repository.listFailures(tenantId, batchId, { filter, after, snapshotSeq, limit: CSV_PAGE })
      const held = await this.heldUpSinceOf(tenantId, batchId, page.items)
      let chunk = ''
      page.items.forEach((failure, index) => {
        const { troubleshooting, ...item } = toReportItem(failure)
        const since = held[index]
        const row = { ...item, heldUpSince: since === null ? null : isoTime(since), troubleshooting: guideText(troubleshooting) }
        chunk += csvRow(CSV_COLUMNS.map((column) => row[column]))
      })
      if (chunk !== '') yield chunk
      after = page.next
    } while (after !== null)
  }

  /** The import format migration tools take to start a batch: one EmailAddress per row. */
  async * retryListLines (tenantId: string, batchId: string, categories: CategoryId[] = [STALL_CATEGORY]): AsyncGenerator<string> {
    yield csvRow(['EmailAddress'])
    let after: string | null = null
    for (;;) {
      const mailboxes = await this.repository.listMailboxesWithOpenFailures(tenantId, batchId, categories, after, CSV_PAGE)
      // Addresses only, checked again here, so no formula guard: it would change a real address
      // (-dash@contoso.com) into one the migration tool cannot import.
      const rows = mailboxes.filter((mailbox) => RETRY_ADDRESS.test(mailbox)).map((mailbox) => csvRow([mailbox], false)).join('')
      if (rows !== '') yield rows
      if (mailboxes.length < CSV_PAGE) return
      after = mailboxes[mailboxes.length - 1]
    }
  }

  /** A mailbox's state, every failure (open and resolved) and one page of its events, newest first. */
  async mailboxDetail (tenantId: string, batchId: string, mailboxName: string, cursor: string | undefined, limit: number): Promise<MailboxDetail> {
    const mailbox = mailboxName.toLowerCase()
    let after: EventPosition | null = null
    if (cursor !== undefined) {
      const [occurredAt, seq] = decodePosition(EVENT_CURSOR, [tenantId, batchId, mailbox], cursor, ['integer', 'integer'])
      after = { occurredAt: occurredAt as number, seq: seq as number }
    }
    await this.requireBatch(tenantId, batchId)
    const record = await this.repository.findMailbox(tenantId, batchId, mailbox)
    if (record === null) throw notFoundProblem(`mailbox "${mailbox}" has no events in batch "${batchId}"`)
    const [failures, history] = await Promise.all([
      this.repository.listFailures(tenantId, batchId, {
        filter: { status: 'all', categories: [], mailbox, since: null, until: null },
        after: null,
        snapshotSeq: await this.repository.currentSeq(),
        // A mailbox has at most one failure per category.
        limit: CATEGORY_IDS.length
      }),
      this.repository.listMailboxEvents(tenantId, batchId, mailbox, after, limit)
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
  }
}
