import Type, { type Static } from 'typebox'
import { EMAIL_SEVERITIES, MAX_RECIPIENTS } from '../domain/email-digest.js'
import { CategorySchema } from './troubleshooting.js'
import { IdentifierPattern, NullableTimestamp, Timestamp } from './common.js'

const AddressSchema = Type.String({ format: 'email', maxLength: 254, description: 'An e-mail address.' })

const editable = {
  recipients: Type.Array(AddressSchema, { minItems: 1, maxItems: MAX_RECIPIENTS, description: `Who gets the mails, 1-${MAX_RECIPIENTS} addresses; each gets a copy of its own with its own unsubscribe link.` }),
  batchIds: Type.Array(Type.String({ pattern: IdentifierPattern }), { maxItems: 100, uniqueItems: true, description: 'Only these batches; empty or absent: every batch of the tenant.' }),
  categories: Type.Array(CategorySchema, { maxItems: 12, uniqueItems: true, description: 'Only these categories; empty or absent: every category that meets minimumSeverity.' }),
  minimumSeverity: Type.Enum([...EMAIL_SEVERITIES], { description: '`blocking` (default): only failures that stop new mail reaching the cloud mailbox; `warning`: also those that do not (items_skipped).' }),
  description: Type.Union([Type.String({ maxLength: 200 }), Type.Null()], { description: 'What the subscription is for.' }),
  enabled: Type.Boolean({ description: 'False pauses the subscription: nothing is mailed, changes meanwhile are skipped.' })
}

/** A PATCH: any of the editable fields; those given replace the stored ones. */
export const UpdateEmailSubscriptionBodySchema = Type.Partial(Type.Object(editable), {
  additionalProperties: false,
  examples: [{ recipients: ['migration-team@contoso.com', 'oncall@contoso.com'] }]
})

/** A new subscription: the same fields, of which only recipients is required. */
export const CreateEmailSubscriptionBodySchema = Type.Object({ ...UpdateEmailSubscriptionBodySchema.properties, recipients: editable.recipients }, {
  additionalProperties: false,
  examples: [{ recipients: ['migration-team@contoso.com'], batchIds: ['batch-2026-11'], minimumSeverity: 'blocking', description: 'November batch' }]
})

export type CreateEmailSubscriptionBody = Static<typeof CreateEmailSubscriptionBodySchema>

export type UpdateEmailSubscriptionBody = Static<typeof UpdateEmailSubscriptionBodySchema>

export const EmailSubscriptionSchema = Type.Object({
  id: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  recipients: Type.Array(Type.String()),
  unsubscribed: Type.Array(Type.String(), { description: 'Recipients that turned the mails off with the unsubscribe link; listing an address again in a PATCH does not turn them back on, removing and re-adding it does.' }),
  batchIds: Type.Array(Type.String()),
  categories: Type.Array(CategorySchema),
  minimumSeverity: editable.minimumSeverity,
  enabled: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp
}, {
  examples: [{
    id: 'esub_6c1d0f3e-2a4b-4b8e-9f51-2d7e0c9a1b23',
    description: 'November batch',
    recipients: ['migration-team@contoso.com'],
    unsubscribed: [],
    batchIds: ['batch-2026-11'],
    categories: [],
    minimumSeverity: 'blocking',
    enabled: true,
    createdAt: '2026-11-23T10:00:00.000Z',
    updatedAt: '2026-11-23T10:00:00.000Z'
  }]
})

export type EmailSubscriptionView = Static<typeof EmailSubscriptionSchema>

export const EmailSubscriptionListSchema = Type.Object({ items: Type.Array(EmailSubscriptionSchema) })

export const EmailSubscriptionParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$', description: 'Subscription id.' })
})

export const EmailDeliverySchema = Type.Object({
  id: Type.String(),
  recipient: Type.String(),
  messageId: Type.String({ description: 'The mail\'s Message-ID, fixed before the first attempt: a resend after a crash carries the same one.' }),
  status: Type.Enum(['pending', 'sending', 'sent', 'failed', 'cancelled'], {
    description: '`pending`: waiting for its next attempt; `sending`: an attempt is under way; `sent`: the SMTP server accepted it; ' +
      '`failed`: refused for good (5xx) or still failing 24 h after it was queued; `cancelled`: the recipient unsubscribed first.'
  }),
  attempts: Type.Integer(),
  lastAttemptAt: NullableTimestamp,
  nextAttemptAt: Type.Union([Timestamp, Type.Null()], { description: 'When a pending delivery is tried next; null otherwise.' }),
  lastCode: Type.Union([Type.Integer(), Type.Null()], { description: 'The SMTP reply code of the last attempt (null: no answer, e.g. connection refused).' }),
  lastError: Type.Union([Type.String(), Type.Null()]),
  sentAt: NullableTimestamp,
  createdAt: Timestamp
})

export const EmailDeliveryListSchema = Type.Object({ items: Type.Array(EmailDeliverySchema, { description: 'Newest first, at most 100.' }) })

export const UnsubscribeQuerySchema = Type.Object({
  s: Type.String({ minLength: 1, maxLength: 64, description: 'Subscription id.' }),
  a: Type.String({ minLength: 3, maxLength: 254, description: 'The address to unsubscribe.' }),
  t: Type.String({ minLength: 1, maxLength: 128, description: 'Signature of the two, from the mail\'s link.' })
})
