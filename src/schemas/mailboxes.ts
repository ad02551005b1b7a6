import Type, { type Static } from 'typebox'
import { CategorySchema, ContextSchema } from './troubleshooting.js'
import { ReportItemSchema } from './batches.js'
import { IdentifierPattern, NullableTimestamp, Timestamp } from './common.js'

export const MailboxParamsSchema = Type.Object({
  batchId: Type.String({ pattern: IdentifierPattern, description: 'Migration batch id.' }),
  mailbox: Type.String({ format: 'email', maxLength: 320, description: 'The migrated user\'s address, any case.' })
})

export const MAILBOX_HISTORY_MAX_LIMIT = 500

export const MailboxQuerySchema = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAILBOX_HISTORY_MAX_LIMIT, default: 50, description: 'Events per page, 1-500.' })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'Opaque nextCursor of the previous page.' }))
}, { additionalProperties: false })

export const MailboxEventSchema = Type.Object({
  id: Type.String({ description: 'The engine\'s event id.' }),
  occurredAt: Timestamp,
  receivedAt: Timestamp,
  outcome: Type.Enum(['failed', 'synced']),
  category: Type.Union([CategorySchema, Type.Null()]),
  rule: Type.Union([Type.String(), Type.Null()]),
  code: Type.Union([Type.String(), Type.Null()]),
  message: Type.Union([Type.String(), Type.Null()]),
  context: ContextSchema
})

export const MailboxDetailSchema = Type.Object({
  batchId: Type.String(),
  mailbox: Type.String(),
  state: Type.Enum(['syncing', 'failing', 'stalled'], {
    description: 'stalled: an open sync_stalled failure; failing: another open blocking failure; syncing: no open blocking failure.'
  }),
  firstEventAt: Timestamp,
  lastEventAt: Timestamp,
  lastSyncedAt: Type.Union([Timestamp, Type.Null()], { description: 'Latest successful sync; null when it never synced.' }),
  lastFailedAt: NullableTimestamp,
  eventCount: Type.Integer(),
  failures: Type.Array(ReportItemSchema, { description: 'Every failure of the mailbox, open and resolved, in report order.' }),
  events: Type.Array(MailboxEventSchema, { description: 'One page of the event history, newest first.' }),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Next page of events; null on the last page.' })
}, {
  examples: [{
    batchId: 'batch-2026-11',
    mailbox: 'alice@contoso.com',
    state: 'failing',
    firstEventAt: '2026-11-22T10:00:00.000Z',
    lastEventAt: '2026-11-23T10:00:00.000Z',
    lastSyncedAt: '2026-11-22T10:00:00.000Z',
    lastFailedAt: '2026-11-23T10:00:00.000Z',
    eventCount: 2,
    failures: [],
    events: [{
      id: 'evt-7f3a',
      occurredAt: '2026-11-23T10:00:00.000Z',
      receivedAt: '2026-11-23T10:00:01.000Z',
      outcome: 'failed',
      category: 'source_sign_in_failed',
      rule: 'imapsync.exit.161',
      code: '161',
      message: 'Host1 failure: Error login on [imap.contoso.com] with user [alice] auth [LOGIN]: 2 NO [AUTHENTICATIONFAILED] Authentication failed.',
      context: { engine: 'imapsync', migrationType: 'imap' }
    }],
    nextCursor: null
  }]
})

export type MailboxDetail = Static<typeof MailboxDetailSchema>
