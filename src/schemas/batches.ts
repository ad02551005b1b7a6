import Type, { type Static } from 'typebox'
import { CategorySchema, GuideSchema } from './troubleshooting.js'
import { FailureStatusSchema } from './events.js'
import { IdentifierPattern, NullableTimestamp, Timestamp } from './common.js'

export const BatchParamsSchema = Type.Object({
  batchId: Type.String({ pattern: IdentifierPattern, description: 'Migration batch id.' })
})

export const REPORT_MAX_LIMIT = 500

export const ErrorReportQuerySchema = Type.Object({
  status: Type.Optional(Type.Enum(['open', 'resolved', 'all'], { default: 'open', description: 'Which failures: open (default), resolved or all.' })),
  category: Type.Optional(Type.Array(CategorySchema, { maxItems: 12, description: 'Only these categories; repeat the parameter for several.' })),
  mailbox: Type.Optional(Type.String({ format: 'email', maxLength: 320, description: 'Only this mailbox.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: REPORT_MAX_LIMIT, default: 50, description: 'Page size, 1-500.' })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'Opaque nextCursor of the previous page.' })),
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
