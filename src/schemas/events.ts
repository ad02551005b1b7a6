import Type, { type Static } from 'typebox'
import { ContextSchema, CategorySchema } from './troubleshooting.js'
import { IdentifierPattern, Timestamp } from './common.js'

export const MESSAGE_MAX_LENGTH = 8192
export const BULK_MAX_EVENTS = 1000

const exampleEvent = {
  id: 'evt-7f3a',
  batchId: 'batch-2026-11',
  mailbox: 'alice@contoso.com',
  occurredAt: '2026-11-23T10:00:00Z',
  outcome: 'failed',
  failure: { code: '161', message: 'Host1 failure: Error login on [imap.contoso.com] with user [alice] auth [LOGIN]: 2 NO [AUTHENTICATIONFAILED] Authentication failed.' },
  context: { engine: 'imapsync', migrationType: 'imap', server: 'imap.contoso.com', credentialMode: 'user' }
}

export const FailureDetailSchema = Type.Object({
  category: Type.Optional(CategorySchema),
  code: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Engine code: imapsync exit status, EWS error code, exception name, HTTP status.' })),
  message: Type.String({ minLength: 1, maxLength: MESSAGE_MAX_LENGTH, description: 'The engine\'s error text, at most 8 KiB.' })
}, { additionalProperties: false, description: 'Required when outcome is failed; refused when synced. Without category the service classifies code and message.' })

export const EventSchema = Type.Object({
  id: Type.String({ pattern: IdentifierPattern, description: 'The engine\'s unique event id: the idempotency key.' }),
  batchId: Type.String({ pattern: IdentifierPattern, description: 'Migration batch id, unique per tenant.' }),
  mailbox: Type.String({ format: 'email', maxLength: 320, description: 'Migrated user\'s address; stored lower-cased.' }),
  occurredAt: Timestamp,
  outcome: Type.Enum(['failed', 'synced'], { description: 'failed: this sync of the mailbox failed; synced: it succeeded.' }),
  failure: Type.Optional(FailureDetailSchema),
  context: Type.Optional(ContextSchema)
}, { additionalProperties: false, examples: [exampleEvent] })

export type EventBody = Static<typeof EventSchema>

export const FailureStatusSchema = Type.Enum(['open', 'resolved'])

export const EventAcceptedSchema = Type.Object({
  id: Type.String(),
  duplicate: Type.Boolean({ description: 'True when this id was already stored with the same content; nothing was counted again.' }),
  category: Type.Union([CategorySchema, Type.Null()], { description: 'Category of the failure; null for a synced event.' }),
  rule: Type.Union([Type.String(), Type.Null()], { description: 'Id of the classifier rule that decided the category.' }),
  failureStatus: Type.Union([FailureStatusSchema, Type.Null()], { description: 'Status of the failure after this event; null for a synced event.' })
}, { examples: [{ id: 'evt-7f3a', duplicate: false, category: 'source_sign_in_failed', rule: 'imapsync.exit.161', failureStatus: 'open' }] })

export const BulkBodySchema = Type.Object({
  events: Type.Array(EventSchema, { minItems: 1, maxItems: BULK_MAX_EVENTS })
}, { additionalProperties: false, examples: [{ events: [exampleEvent] }] })

export type BulkBody = Static<typeof BulkBodySchema>

export const BulkAcceptedSchema = Type.Object({
  results: Type.Array(Type.Object({
    id: Type.String(),
    duplicate: Type.Boolean(),
    category: Type.Union([CategorySchema, Type.Null()]),
    rule: Type.Union([Type.String(), Type.Null()])
  }), { description: 'One result per event, in request order.' })
})
