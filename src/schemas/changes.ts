import Type, { type Static } from 'typebox'
import { CHANGE_TYPES } from '../domain/changes.js'
import { CategorySchema, ContextSchema } from './troubleshooting.js'
import { FailureStatusSchema } from './events.js'
import { IdentifierPattern, NullableTimestamp, Timestamp } from './common.js'

export const CHANGES_MAX_LIMIT = 1000

export const ChangeTypeSchema = Type.Enum(CHANGE_TYPES, { description: 'What happened to the failure.' })

export const ChangeQuerySchema = Type.Object({
  after: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0, description: 'Only changes with a higher seq: the last seq you processed (0 from the start).' })),
  batchId: Type.Optional(Type.String({ pattern: IdentifierPattern, description: 'Only changes of this batch.' })),
  type: Type.Optional(Type.Array(ChangeTypeSchema, { maxItems: CHANGE_TYPES.length, description: 'Only these types; repeat the parameter for several.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: CHANGES_MAX_LIMIT, default: 100, description: 'Page size, 1-1000.' }))
}, { additionalProperties: false })

export type ChangeQueryInput = Static<typeof ChangeQuerySchema>

export const ChangeSchema = Type.Object({
  seq: Type.Integer({ description: 'Per tenant, strictly increasing; a reader that saw N will never meet a later change numbered N or below.' }),
  type: ChangeTypeSchema,
  batchId: Type.String(),
  mailbox: Type.String(),
  category: CategorySchema,
  rule: Type.String({ description: 'Classifier rule of the failure (service.stall-detection for stalls the service found).' }),
  status: FailureStatusSchema,
  occurredAt: Type.String({ format: 'date-time', description: 'When it happened: the event time, or the moment the mailbox became stalled.' }),
  recordedAt: Type.String({ format: 'date-time', description: 'When the service committed it.' }),
  failure: Type.Object({
    firstSeenAt: Timestamp,
    lastSeenAt: Timestamp,
    occurrences: Type.Integer(),
    reopenCount: Type.Integer(),
    lastCode: Type.Union([Type.String(), Type.Null()]),
    lastMessage: Type.String(),
    resolvedAt: NullableTimestamp,
    context: ContextSchema
  }, { description: 'The failure as it stood right after the change.' })
}, {
  examples: [{
    seq: 42,
    type: 'failure.opened',
    batchId: 'batch-2026-11',
    mailbox: 'alice@contoso.com',
    category: 'source_sign_in_failed',
    rule: 'imapsync.exit.161',
    status: 'open',
    occurredAt: '2026-11-23T10:00:00.000Z',
    recordedAt: '2026-11-23T10:00:01.204Z',
    failure: {
      firstSeenAt: '2026-11-23T10:00:00.000Z',
      lastSeenAt: '2026-11-23T10:00:00.000Z',
      occurrences: 1,
      reopenCount: 0,
      lastCode: '161',
      lastMessage: 'Host1 failure: Error login on [imap.contoso.com] with user [alice] auth [LOGIN]: 2 NO [AUTHENTICATIONFAILED] Authentication failed.',
      resolvedAt: null,
      context: { engine: 'imapsync', migrationType: 'imap', server: 'imap.contoso.com', credentialMode: 'user' }
    }
  }]
})

export const ChangePageSchema = Type.Object({
  items: Type.Array(ChangeSchema),
  next: Type.Integer({ description: 'Pass as `after` for the next page: the last seq of this page, or `after` when it is empty.' }),
  latestSeq: Type.Integer({ description: 'The tenant\'s last seq when the page was read; more pages follow while next is below it.' })
})
