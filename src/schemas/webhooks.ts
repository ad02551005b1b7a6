import Type, { type Static } from 'typebox'
import { CATEGORY_IDS } from '../domain/types.js'
import { CHANGE_TYPES } from '../domain/changes.js'
import { DELIVERY_STATUSES, WEBHOOK_MODES } from '../domain/webhooks.js'
import { CategorySchema } from './troubleshooting.js'
import { ChangeSchema, ChangeTypeSchema } from './changes.js'
import { FailureStatusSchema } from './events.js'
import { IdentifierPattern, NullableTimestamp, Timestamp } from './common.js'

export const WEBHOOK_URL_MAX_LENGTH = 2048

const filterProperties = {
  url: Type.String({ minLength: 1, maxLength: WEBHOOK_URL_MAX_LENGTH, description: 'Where to POST: https, resolving only to public addresses (unless WEBHOOK_ALLOW_PRIVATE_NETWORKS=true).' }),
  description: Type.Union([Type.String({ maxLength: 500 }), Type.Null()], { description: 'What the endpoint is for.' }),
  eventTypes: Type.Array(ChangeTypeSchema, { maxItems: CHANGE_TYPES.length, uniqueItems: true, description: 'Change types to receive; empty or absent: every type.' }),
  batchIds: Type.Array(Type.String({ pattern: IdentifierPattern }), { maxItems: 100, uniqueItems: true, description: 'Only changes of these batches; empty or absent: every batch.' }),
  categories: Type.Array(CategorySchema, { maxItems: CATEGORY_IDS.length, uniqueItems: true, description: 'Only changes of these categories; empty or absent: every category.' }),
  mode: Type.Enum([...WEBHOOK_MODES], { description: '`each`: one message per change. `digest`: changes grouped per batch (see groupWaitSeconds, groupIntervalSeconds), at most 100 listed per message with totals.' }),
  groupWaitSeconds: Type.Integer({ minimum: 0, maximum: 3600, description: 'Digest mode: how long the first change of a quiet batch waits for others (default 30).' }),
  groupIntervalSeconds: Type.Integer({ minimum: 1, maximum: 86_400, description: 'Digest mode: at most one message per batch this often (default 300).' })
}

const optionalFilters = Type.Partial(Type.Object(filterProperties)).properties

export const CreateWebhookBodySchema = Type.Object({ ...optionalFilters, url: filterProperties.url }, {
  additionalProperties: false,
  examples: [{ url: 'https://hooks.contoso.com/migration', eventTypes: ['failure.opened', 'failure.stalled'], mode: 'digest', description: 'Migration team channel' }]
})
export type CreateWebhookBody = Static<typeof CreateWebhookBodySchema>

export const UpdateWebhookBodySchema = Type.Object({
  ...optionalFilters,
  enabled: Type.Optional(Type.Boolean({ description: 'false pauses deliveries; true resumes them (also after the service disabled the endpoint), from where they stopped.' }))
}, { additionalProperties: false, minProperties: 1, examples: [{ enabled: true }] })
export type UpdateWebhookBody = Static<typeof UpdateWebhookBodySchema>

const webhookProperties = {
  id: Type.String({ description: 'Subscription id.' }),
  url: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  eventTypes: Type.Array(ChangeTypeSchema),
  batchIds: Type.Array(Type.String()),
  categories: Type.Array(CategorySchema),
  mode: Type.Enum([...WEBHOOK_MODES]),
  groupWaitSeconds: Type.Integer(),
  groupIntervalSeconds: Type.Integer(),
  enabled: Type.Boolean(),
  disabledReason: Type.Union([Type.String(), Type.Null()], { description: 'Why the service disabled the endpoint (410 Gone, five days failing); null otherwise.' }),
  disabledAt: NullableTimestamp,
  failingSince: Type.Union([Timestamp, Type.Null()], { description: 'First failed attempt since the last success; null while the endpoint answers 2xx.' }),
  previousSecretExpiresAt: Type.Union([Timestamp, Type.Null()], { description: 'Until then the secret before the last rotation signs beside the current one.' }),
  createdAt: Timestamp,
  updatedAt: Timestamp
}

export const WebhookSchema = Type.Object(webhookProperties, {
  examples: [{
    id: 'wh_3vQb9kXy1LmA0pQz',
    url: 'https://hooks.contoso.com/migration',
    description: 'Migration team channel',
    eventTypes: ['failure.opened', 'failure.stalled'],
    batchIds: [],
    categories: [],
    mode: 'digest',
    groupWaitSeconds: 30,
    groupIntervalSeconds: 300,
    enabled: true,
    disabledReason: null,
    disabledAt: null,
    failingSince: null,
    previousSecretExpiresAt: null,
    createdAt: '2026-11-23T10:00:00.000Z',
    updatedAt: '2026-11-23T10:00:00.000Z'
  }]
})
export type WebhookView = Static<typeof WebhookSchema>

export const WebhookWithSecretSchema = Type.Object({
  ...webhookProperties,
  secret: Type.String({ description: 'The signing secret (`whsec_` + base64). Shown only in this response: store it now.' })
})

export const WebhookListSchema = Type.Object({ items: Type.Array(WebhookSchema) })

export const WebhookParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: 'Subscription id.' })
})

export const DeliveryParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: 'Subscription id.' }),
  deliveryId: Type.String({ minLength: 1, maxLength: 64, description: 'Delivery id (the `webhook-id` header).' })
})

export const DeliveryQuerySchema = Type.Object({
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'From `next` of the previous page.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Page size, 1-100.' }))
}, { additionalProperties: false })

export const AttemptSchema = Type.Object({
  attemptedAt: Timestamp,
  statusCode: Type.Union([Type.Integer(), Type.Null()], { description: 'HTTP status of the answer; null when none came.' }),
  durationMs: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Why the attempt failed; null when it succeeded.' }),
  nextAttemptAt: Type.Union([Timestamp, Type.Null()], { description: 'When the next attempt is due; null when none follows.' })
})

export const DeliverySchema = Type.Object({
  id: Type.String({ description: 'Sent as `webhook-id`, the same on every attempt: receivers deduplicate by it.' }),
  type: Type.String(),
  status: Type.Enum([...DELIVERY_STATUSES], { description: '`pending`: an attempt is due (see nextAttemptAt). `delivered`: a 2xx came. `failed`: no attempt left (retry it by hand).' }),
  attempts: Type.Integer(),
  nextAttemptAt: NullableTimestamp,
  createdAt: Timestamp,
  payload: Type.Object({}, { additionalProperties: true, description: 'The body sent: `{ type, timestamp, data }`.' }),
  attemptLog: Type.Array(AttemptSchema)
})

export const DeliveryPageSchema = Type.Object({
  items: Type.Array(DeliverySchema),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for older deliveries; null on the last page.' })
})

export const ReplayBodySchema = Type.Object({
  since: Type.String({ format: 'date-time', description: 'Send again every change recorded at or after this time (within CHANGES_RETENTION).' })
}, { additionalProperties: false, examples: [{ since: '2026-11-23T08:00:00Z' }] })

export const ReplaySchema = Type.Object({
  fromSeq: Type.Integer({ description: 'Changes with a higher seq are delivered again, in order.' })
})

// The bodies the service POSTs, as OpenAPI 3.1 `webhooks`.
const envelope = (type: unknown, data: unknown, description: string) => Type.Object({
  type: type as ReturnType<typeof Type.String>,
  timestamp: Type.String({ format: 'date-time', description: 'When the change was recorded (digest: when the message was made).' }),
  data: data as ReturnType<typeof Type.Object>
}, { description })

export const ChangeWebhookSchema = envelope(ChangeTypeSchema, ChangeSchema, 'One change (mode each). `data` is the change as GET /changes shows it; a very long engine message is shortened to keep the body under 20 KB (`failure.lastMessageTruncated`).')

export const DigestWebhookSchema = envelope(Type.Literal('failure.digest'), Type.Object({
  batchId: Type.String(),
  total: Type.Integer({ description: 'Changes the message covers.' }),
  fromSeq: Type.Integer(),
  toSeq: Type.Integer(),
  byCategory: Type.Record(Type.String(), Type.Integer()),
  byType: Type.Record(Type.String(), Type.Integer()),
  changes: Type.Array(Type.Object({
    seq: Type.Integer(), type: ChangeTypeSchema, mailbox: Type.String(), category: CategorySchema, status: FailureStatusSchema, occurredAt: Timestamp
  }), { description: 'The newest changes, at most 100, seq ascending.' }),
  more: Type.Integer({ description: 'Changes not listed.' })
}), 'Changes of one batch grouped (mode digest).')

export const TestWebhookSchema = envelope(Type.Literal('webhook.test'), Type.Object({
  webhookId: Type.String(),
  message: Type.String()
}), 'Sent by POST /webhooks/{id}/test.')
