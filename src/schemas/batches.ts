import Type, { type Static } from 'typebox'
import { CategorySchema, GuideSchema } from './troubleshooting.js'
import { FailureStatusSchema } from './events.js'
import { IdentifierPattern, NullableTimestamp, Timestamp } from './common.js'

export const BatchParamsSchema = Type.Object({
  batchId: Type.String({ pattern: IdentifierPattern, description: 'Migration batch id.' })
})

export const REPORT_MAX_LIMIT = 500
/** The longest mailbox search: an address is at most 320 characters. */
export const MAILBOX_SEARCH_MAX_LENGTH = 320

export const ErrorReportQuerySchema = Type.Object({
  status: Type.Optional(Type.Enum(['open', 'resolved', 'all'], { default: 'open', description: 'Which failures: open (default), resolved or all.' })),
  category: Type.Optional(Type.Array(CategorySchema, { maxItems: 12, description: 'Only these categories; repeat the parameter for several.' })),
  mailbox: Type.Optional(Type.String({ format: 'email', maxLength: 320, description: 'Only this mailbox (the whole address, any case).' })),
  mailboxContains: Type.Optional(Type.String({
    minLength: 1,
    maxLength: MAILBOX_SEARCH_MAX_LENGTH,
    description: 'Only mailboxes whose address contains this text, any case (`ali` finds alice@contoso.com and KALINA@fabrikam.com). ' +
      '`%`, `_` and `\\` are plain characters, not wildcards. Combines with every other filter; cursors page exactly within it. ' +
      'A page reads at most 2,000 failures of the batch, so with a search a page may hold fewer items than `limit`, or none, ' +
      'while `nextCursor` is set: follow `nextCursor` until it is null.',
    examples: ['contoso.com']
  })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: REPORT_MAX_LIMIT, default: 50, description: 'Page size, 1-500.' })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'Opaque nextCursor of the previous page.' })),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'Only failures with lastSeenAt at or after this RFC 3339 time.' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'Only failures with lastSeenAt before this RFC 3339 time.' })),
  format: Type.Optional(Type.Enum(['json', 'csv'], { description: 'csv: every matching failure as CSV, no paging (same as Accept: text/csv).' }))
}, { additionalProperties: false })

export type ErrorReportQuery = Static<typeof ErrorReportQuerySchema>

export const ReportItemSchema = Type.Object({
  mailbox: Type.String(),
  category: CategorySchema,
  title: Type.String(),
  status: FailureStatusSchema,
  blocking: Type.Boolean({ description: 'True when new mail is not reaching the cloud mailbox because of it.' }),
  side: Type.Enum(['source', 'cloud', 'either', 'unknown']),
  firstSeenAt: Timestamp,
  lastSeenAt: Timestamp,
  occurrences: Type.Integer({ description: 'Failed events of this failure, across reopenings.' }),
  reopenCount: Type.Integer(),
  lastCode: Type.Union([Type.String(), Type.Null()]),
  lastMessage: Type.String(),
  rule: Type.String({ description: 'Classifier rule that decided the category of the latest event.' }),
  resolvedAt: NullableTimestamp,
  troubleshooting: GuideSchema
})

export type ReportItem = Static<typeof ReportItemSchema>

export const SummarySchema = Type.Object({
  openFailures: Type.Integer(),
  mailboxesFailing: Type.Integer({ description: 'Mailboxes with at least one open failure.' }),
  byCategory: Type.Record(Type.String(), Type.Integer(), { description: 'Open failures per category.' })
})

export const ErrorReportSchema = Type.Object({
  batchId: Type.String(),
  summary: SummarySchema,
  items: Type.Array(ReportItemSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as cursor for the next page; null on the last page.' })
}, {
  examples: [{
    batchId: 'batch-2026-11',
    summary: { openFailures: 1, mailboxesFailing: 1, byCategory: { source_sign_in_failed: 1 } },
    items: [{
      mailbox: 'alice@contoso.com',
      category: 'source_sign_in_failed',
      title: 'Couldn\'t sign in to the on-premises mailbox',
      status: 'open',
      blocking: true,
      side: 'source',
      firstSeenAt: '2026-11-23T10:00:00.000Z',
      lastSeenAt: '2026-11-23T10:00:00.000Z',
      occurrences: 1,
      reopenCount: 0,
      lastCode: '161',
      lastMessage: 'Host1 failure: Error login on [imap.contoso.com] with user [alice] auth [LOGIN]: 2 NO [AUTHENTICATIONFAILED] Authentication failed.',
      rule: 'imapsync.exit.161',
      resolvedAt: null,
      troubleshooting: { steps: [{ text: 'Check that the account still exists on the on-premises server.', steps: [] }], tip: null }
    }],
    nextCursor: null
  }]
})

export const BATCH_LIST_MAX_LIMIT = 100

export const BatchListQuerySchema = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: BATCH_LIST_MAX_LIMIT, default: 50, description: 'Page size, 1-100.' })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'Opaque nextCursor of the previous page.' }))
}, { additionalProperties: false })

const batchSummaryProperties = {
  batchId: Type.String(),
  firstEventAt: Timestamp,
  lastEventAt: Type.String({ format: 'date-time', description: 'Time of the batch\'s latest event (its last activity).' }),
  createdAt: Type.String({
    format: 'date-time',
    description: 'When the service received the batch\'s first event (server clock). The batch list is ordered by it, newest first; no event changes it.'
  }),
  mailboxesSeen: Type.Integer({ description: 'Mailboxes with at least one event in the batch.' }),
  mailboxesSynced: Type.Integer({ description: 'Mailboxes with no open blocking failure: new mail reaches them (state syncing).' }),
  mailboxesFailing: Type.Integer({ description: 'Mailboxes with an open blocking failure other than a stall (state failing).' }),
  mailboxesStalled: Type.Integer({ description: 'Mailboxes with an open sync_stalled failure (state stalled). The three states add up to mailboxesSeen.' }),
  openFailures: Type.Integer(),
  byCategory: Type.Record(Type.String(), Type.Integer(), { description: 'Open failures per category.' })
}

const exampleSummary = {
  batchId: 'batch-2026-11',
  firstEventAt: '2026-11-22T08:00:00.000Z',
  lastEventAt: '2026-11-23T10:00:00.000Z',
  createdAt: '2026-11-22T08:00:05.000Z',
  mailboxesSeen: 120,
  mailboxesSynced: 117,
  mailboxesFailing: 2,
  mailboxesStalled: 1,
  openFailures: 3,
  byCategory: { source_sign_in_failed: 1, cloud_mailbox_full: 1, sync_stalled: 1 }
}

export const BatchSummarySchema = Type.Object(batchSummaryProperties, { examples: [exampleSummary] })

export type BatchSummaryBody = Static<typeof BatchSummarySchema>

export const BatchListSchema = Type.Object({
  items: Type.Array(BatchSummarySchema),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as cursor for the next page; null on the last page.' })
}, { examples: [{ items: [exampleSummary], nextCursor: null }] })

export const HeldUpFailureSchema = Type.Object({
  mailbox: Type.String(),
  category: CategorySchema,
  title: Type.String(),
  heldUpSince: Type.String({ format: 'date-time', description: 'Since when new mail has not reached this mailbox: the later of the failure\'s firstSeenAt and the mailbox\'s last sync.' })
})

export const BatchDetailSchema = Type.Object({
  ...batchSummaryProperties,
  oldestBlockingFailure: Type.Union([HeldUpFailureSchema, Type.Null()], { description: 'The open blocking failure that has held new mail up longest; null when none.' })
}, {
  examples: [{
    ...exampleSummary,
    oldestBlockingFailure: { mailbox: 'carol@contoso.com', category: 'sync_stalled', title: 'The mailbox is no longer being synchronized', heldUpSince: '2026-11-21T09:00:00.000Z' }
  }]
})

export const RetryListQuerySchema = Type.Object({
  category: Type.Optional(Type.Array(CategorySchema, { maxItems: 12, description: 'Mailboxes with an open failure of these categories; default sync_stalled. Repeat for several.' }))
}, { additionalProperties: false })
