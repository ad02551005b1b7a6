import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { isoTime } from '../domain/report.js'
import {
  generateDeliveryId, generateWebhookSecret, newWebhookSubscription, SECRET_OVERLAP_MS, testPayload, WEBHOOK_TEST_TYPE,
  type WebhookSubscription
} from '../domain/webhooks.js'
import { HttpProblem, invalidCursorProblem, notFoundProblem, validationProblem } from '../plugins/problems.js'
import type { DeliveryLogEntry, DeliveryPosition, SubscriptionChanges } from '../repositories/webhooks.js'
import { problemResponses } from '../schemas/common.js'
import {
  CreateWebhookBodySchema, DeliveryPageSchema, DeliveryParamsSchema, DeliveryQuerySchema, DeliverySchema, ReplayBodySchema, ReplaySchema,
  UpdateWebhookBodySchema, WebhookListSchema, WebhookParamsSchema, WebhookSchema, WebhookWithSecretSchema, type WebhookView
} from '../schemas/webhooks.js'

/** Subscriptions one tenant may have. */
export const MAX_WEBHOOKS_PER_TENANT = 50
const LIMIT_PROBLEM = 'urn:problem:sync-failure-reports:webhook-limit'

const nullableIso = (ms: number | null): string | null => ms === null ? null : isoTime(ms)

function toView (subscription: WebhookSubscription, now: number): WebhookView {
  return {
    id: subscription.id,
    url: subscription.url,
    description: subscription.description,
    eventTypes: subscription.eventTypes,
    batchIds: subscription.batchIds,
    categories: subscription.categories,
    mode: subscription.mode,
    groupWaitSeconds: Math.round(subscription.groupWaitMs / 1000),
    groupIntervalSeconds: Math.round(subscription.groupIntervalMs / 1000),
    enabled: subscription.enabled,
    disabledReason: subscription.disabledReason,
    disabledAt: nullableIso(subscription.disabledAt),
    failingSince: nullableIso(subscription.failingSince),
    previousSecretExpiresAt: subscription.previousSecretExpiresAt !== null && subscription.previousSecretExpiresAt > now ? isoTime(subscription.previousSecretExpiresAt) : null,
    createdAt: isoTime(subscription.createdAt),
    updatedAt: isoTime(subscription.updatedAt)
  }
}

function deliveryView ({ delivery, attempts }: DeliveryLogEntry) {
  return {
    id: delivery.id,
    type: delivery.type,
    status: delivery.status,
    attempts: delivery.attempts,
    nextAttemptAt: delivery.status === 'pending' ? nullableIso(delivery.nextAttemptAt) : null,
    createdAt: isoTime(delivery.createdAt),
    payload: JSON.parse(delivery.payload) as Record<string, unknown>,
    attemptLog: attempts.map((attempt) => ({
      attemptedAt: isoTime(attempt.attemptedAt),
      statusCode: attempt.statusCode,
      durationMs: attempt.durationMs,
      error: attempt.error,
      nextAttemptAt: nullableIso(attempt.nextAttemptAt)
    }))
  }
}

function encodeCursor (position: DeliveryPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.position, position.id])).toString('base64url')
}

function decodeCursor (cursor: string): DeliveryPosition {
  try {
    const [createdAt, position, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[]
    if (Number.isSafeInteger(createdAt) && Number.isSafeInteger(position) && typeof id === 'string') return { createdAt: createdAt as number, position: position as number, id }
  } catch {}
  throw invalidCursorProblem('cursor is not one this API returned: pass `next` of the previous page unchanged')
}

const webhooks: FastifyPluginAsyncTypebox = async (app) => {
  const { store, client, dispatcher } = app.webhooks
  const allowPrivate = app.config.webhooks.allowPrivateNetworks

  /** Refuses a URL that may not receive webhooks (400 naming body/url). */
  async function checkUrl (text: string): Promise<void> {
    const refuse = (detail: string): HttpProblem => validationProblem([{ in: 'body', pointer: '/url', detail }])
    let url: URL
    try {
      url = new URL(text)
    } catch {
      throw refuse('is not an absolute URL')
    }
    if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) {
      throw refuse(allowPrivate ? 'must be an https or http URL' : 'must be an https URL')
    }
    if (url.username !== '' || url.password !== '') throw refuse('must not carry a user name or password')
    const reason = await client.hostRefusal(url)
    if (reason !== null) throw refuse(`must reach a public address: ${reason} (set WEBHOOK_ALLOW_PRIVATE_NETWORKS=true for receivers on private networks)`)
  }

  async function find (tenantId: string, id: string): Promise<WebhookSubscription> {
    const subscription = await store.findSubscription(tenantId, id)
    if (subscription === null) throw notFoundProblem(`no webhook "${id}" in this tenant`)
    return subscription
  }

  app.post('/webhooks', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'createWebhook',
      tags: ['webhooks'],
      summary: 'Subscribe an endpoint to the tenant\'s changes',
      description: 'Deliveries start with the changes recorded after this call (use replay for older ones). ' +
        'The response holds the signing secret, once. See the `webhooks` section for the bodies.',
      body: CreateWebhookBodySchema,
      response: {
        201: { description: 'Created; `secret` is shown only now.', ...WebhookWithSecretSchema },
        ...problemResponses(400, 413, 415, 422)
      }
    }
  }, async (request, reply) => {
    const { body, tenantId } = request
    await checkUrl(body.url)
    if (await store.countSubscriptions(tenantId) >= MAX_WEBHOOKS_PER_TENANT) {
      throw new HttpProblem({ type: LIMIT_PROBLEM, title: 'Too many webhooks', status: 422, detail: `a tenant may have at most ${MAX_WEBHOOKS_PER_TENANT} webhooks: delete one first` })
    }
    const now = app.clock()
    const subscription = newWebhookSubscription({ ...body, tenantId, cursor: await app.changes.latestSeq(tenantId), now })
    await store.insertSubscription(subscription)
    return await reply.code(201).send({ ...toView(subscription, now), secret: subscription.secret })
  })

  app.get('/webhooks', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'listWebhooks',
      tags: ['webhooks'],
      summary: 'List the tenant\'s webhooks, without secrets',
      response: { 200: WebhookListSchema }
    }
  }, async (request) => {
    const now = app.clock()
    return { items: (await store.listSubscriptions(request.tenantId)).map((subscription) => toView(subscription, now)) }
  })

  app.get('/webhooks/:id', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'getWebhook',
      tags: ['webhooks'],
      summary: 'One webhook and its state',
      params: WebhookParamsSchema,
      response: { 200: WebhookSchema, ...problemResponses(400, 404) }
    }
  }, async (request) => toView(await find(request.tenantId, request.params.id), app.clock()))

  app.patch('/webhooks/:id', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'updateWebhook',
      tags: ['webhooks'],
      summary: 'Change a webhook, pause it, or enable it again',
      description: 'Enabling a disabled webhook resumes its deliveries where they stopped (and clears `disabledReason`).',
      params: WebhookParamsSchema,
      body: UpdateWebhookBodySchema,
      response: { 200: WebhookSchema, ...problemResponses(400, 404, 413, 415) }
    }
  }, async (request) => {
    const { body, tenantId, params } = request
    await find(tenantId, params.id)
    if (body.url !== undefined) await checkUrl(body.url)
    const changes: SubscriptionChanges = {
      url: body.url,
      description: body.description,
      eventTypes: body.eventTypes,
      batchIds: body.batchIds,
      categories: body.categories,
      mode: body.mode,
      groupWaitMs: body.groupWaitSeconds === undefined ? undefined : body.groupWaitSeconds * 1000,
      groupIntervalMs: body.groupIntervalSeconds === undefined ? undefined : body.groupIntervalSeconds * 1000,
      ...(body.enabled === undefined ? {} : { enabled: body.enabled, disabledReason: null, disabledAt: null, failingSince: null })
    }
    const defined = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined)) as SubscriptionChanges
    const updated = await store.updateSubscription(tenantId, params.id, defined, app.clock())
    if (updated === null) throw notFoundProblem(`no webhook "${params.id}" in this tenant`)
    if (updated.enabled) dispatcher.wake()
    return toView(updated, app.clock())
  })

  app.delete('/webhooks/:id', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'deleteWebhook',
      tags: ['webhooks'],
      summary: 'Delete a webhook',
      description: 'Nothing more is sent to it; its delivery log goes too.',
      params: WebhookParamsSchema,
      response: { 204: { description: 'Deleted.', type: 'null' }, ...problemResponses(400, 404) }
    }
  }, async (request, reply) => {
    if (!await store.deleteSubscription(request.tenantId, request.params.id)) throw notFoundProblem(`no webhook "${request.params.id}" in this tenant`)
    return await reply.code(204).send(null)
  })

  app.post('/webhooks/:id/rotate-secret', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'rotateWebhookSecret',
      tags: ['webhooks'],
      summary: 'Replace the signing secret; the old one keeps signing beside it for 24 hours',
      description: 'During the overlap `webhook-signature` carries two signatures (space-separated), so the receiver can switch secrets without losing a message.',
      params: WebhookParamsSchema,
      response: { 200: { description: 'Rotated; `secret` is shown only now.', ...WebhookWithSecretSchema }, ...problemResponses(400, 404) }
    }
  }, async (request) => {
    const { tenantId, params } = request
    const current = await find(tenantId, params.id)
    const now = app.clock()
    const secret = generateWebhookSecret()
    const updated = await store.updateSubscription(tenantId, params.id, { secret, previousSecret: current.secret, previousSecretExpiresAt: now + SECRET_OVERLAP_MS }, now)
    if (updated === null) throw notFoundProblem(`no webhook "${params.id}" in this tenant`)
    return { ...toView(updated, now), secret }
  })

  app.post('/webhooks/:id/test', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'testWebhook',
      tags: ['webhooks'],
      summary: 'Send a `webhook.test` event to the endpoint',
      description: 'Queued like any message (signed, retried); follow it in the delivery log.',
      params: WebhookParamsSchema,
      response: { 202: { description: 'Queued.', ...DeliverySchema }, ...problemResponses(400, 404) }
    }
  }, async (request, reply) => {
    const subscription = await find(request.tenantId, request.params.id)
    const now = app.clock()
    const delivery = {
      id: generateDeliveryId(),
      subscriptionId: subscription.id,
      tenantId: subscription.tenantId,
      type: WEBHOOK_TEST_TYPE,
      payload: testPayload(subscription.id, now),
      orderingKey: null,
      position: 0,
      status: 'pending' as const,
      attempts: 0,
      nextAttemptAt: now,
      createdAt: now
    }
    await store.insertDelivery(delivery)
    dispatcher.wake()
    return await reply.code(202).send(deliveryView({ delivery, attempts: [] }))
  })

  app.get('/webhooks/:id/deliveries', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'listWebhookDeliveries',
      tags: ['webhooks'],
      summary: 'The webhook\'s delivery log, newest first, each with its attempts',
      params: WebhookParamsSchema,
      querystring: DeliveryQuerySchema,
      response: { 200: DeliveryPageSchema, ...problemResponses(400, 404) }
    }
  }, async (request) => {
    const subscription = await find(request.tenantId, request.params.id)
    const after = request.query.cursor === undefined ? null : decodeCursor(request.query.cursor)
    const page = await store.listDeliveries(subscription.id, after, request.query.limit ?? 20)
    return { items: page.items.map(deliveryView), next: page.next === null ? null : encodeCursor(page.next) }
  })

  app.post('/webhooks/:id/deliveries/:deliveryId/retry', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'retryWebhookDelivery',
      tags: ['webhooks'],
      summary: 'Attempt a delivery again now, with a fresh set of retries',
      description: 'Works for failed, pending and delivered messages alike; the `webhook-id` stays the same.',
      params: DeliveryParamsSchema,
      response: { 202: { description: 'Queued.', ...DeliverySchema }, ...problemResponses(400, 404) }
    }
  }, async (request, reply) => {
    const { tenantId, params } = request
    const subscription = await find(tenantId, params.id)
    if (!await store.retryDelivery(subscription.id, params.deliveryId, app.clock())) throw notFoundProblem(`no delivery "${params.deliveryId}" of webhook "${params.id}"`)
    dispatcher.wake()
    const entry = await store.findDelivery(subscription.id, params.deliveryId)
    if (entry === null) throw notFoundProblem(`no delivery "${params.deliveryId}" of webhook "${params.id}"`)
    return await reply.code(202).send(deliveryView(entry))
  })

  app.post('/webhooks/:id/replay', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'replayWebhook',
      tags: ['webhooks'],
      summary: 'Deliver again every change recorded since a time (for an endpoint that was down)',
      description: 'The webhook goes back in the change feed to the first change recorded at or after `since` and delivers from there, ' +
        'in order and in bounded chunks in the background, as new messages (new `webhook-id`s). Changes older than CHANGES_RETENTION are gone.',
      params: WebhookParamsSchema,
      body: ReplayBodySchema,
      response: { 202: { description: 'Replay under way.', ...ReplaySchema }, ...problemResponses(400, 404, 413, 415) }
    }
  }, async (request, reply) => {
    const { tenantId, params, body } = request
    const subscription = await find(tenantId, params.id)
    const fromSeq = Math.min(subscription.cursor, await store.seqBefore(tenantId, Date.parse(body.since)))
    await store.updateSubscription(tenantId, params.id, { cursor: fromSeq }, app.clock())
    dispatcher.wake()
    return await reply.code(202).send({ fromSeq })
  })
}

export default webhooks
