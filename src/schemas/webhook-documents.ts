import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import { CHANGE_TYPES } from '../domain/changes.js'
import { ChangeWebhookSchema, DigestWebhookSchema, TestWebhookSchema } from './webhooks.js'

// The requests the service sends, as OpenAPI 3.1 `webhooks`: one entry per message type.

const HEADERS = [
  { name: 'webhook-id', in: 'header' as const, required: true, schema: { type: 'string' as const }, description: 'The message id: the same on every retry; deduplicate by it.' },
  { name: 'webhook-timestamp', in: 'header' as const, required: true, schema: { type: 'string' as const }, description: 'Seconds since the epoch when the attempt was signed; refuse it when far from now.' },
  {
    name: 'webhook-signature',
    in: 'header',
    required: true,
    schema: { type: 'string' as const },
    description: '`v1,<base64 HMAC-SHA256 of id.timestamp.body>` with the secret\'s bytes; two, space-separated, for 24 h after a rotation.'
  }
]

const RESPONSES = {
  200: { description: 'Any 2xx within 15 s acknowledges the message. 410 disables the webhook; anything else (or no answer) is retried: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, honouring Retry-After on 429 and 503.' }
}

type OpenApi31 = Extract<NonNullable<FastifyDynamicSwaggerOptions['openapi']>, { webhooks?: unknown }>
type WebhookItems = NonNullable<OpenApi31['webhooks']>
type PathItem = WebhookItems[string]

// TypeBox schemas are JSON Schema, which OpenAPI 3.1 takes as is; its typings only know their own schema type.
function operation (type: string, summary: string, schema: object): PathItem {
  const item = {
    post: {
      // failure.opened → failureOpenedWebhook: client generators want one per operation.
      operationId: type.replace(/\.([a-z])/g, (_, letter: string) => letter.toUpperCase()).replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase()) + 'Webhook',
      summary,
      // The receiver authenticates the message by its webhook-signature header, not by a credential of ours.
      security: [],
      tags: ['webhooks'],
      parameters: HEADERS,
      requestBody: { required: true, content: { 'application/json': { schema } } },
      responses: RESPONSES
    }
  }
  return item as PathItem
}

export function webhookDocuments (): WebhookItems {
  return {
    ...Object.fromEntries(CHANGE_TYPES.map((type) => [type, operation(type, `${type}: one change (mode each)`, ChangeWebhookSchema)])),
    'failure.digest': operation('failure.digest', 'failure.digest: changes of one batch, grouped (mode digest)', DigestWebhookSchema),
    'webhook.test': operation('webhook.test', 'webhook.test: sent by POST /webhooks/{id}/test', TestWebhookSchema)
  }
}
