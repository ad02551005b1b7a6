import { randomBytes, randomUUID } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Static } from 'typebox'
import type { EmailDelivery, EmailSubscription } from '../repositories/email.js'
import { notFoundProblem, validationProblem, type HttpProblem, type ProblemError } from '../plugins/problems.js'
import { problemResponses } from '../schemas/common.js'
import {
  CreateEmailSubscriptionBodySchema, EmailDeliveryListSchema, EmailDeliverySchema, EmailSubscriptionListSchema, EmailSubscriptionParamsSchema,
  EmailSubscriptionSchema, UpdateEmailSubscriptionBodySchema, type EmailSubscriptionView
} from '../schemas/email-subscriptions.js'

function iso (ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}

function toView (subscription: EmailSubscription): EmailSubscriptionView {
  return {
    id: subscription.id,
    description: subscription.description,
    recipients: subscription.recipients,
    unsubscribed: subscription.unsubscribed,
    batchIds: subscription.batchIds,
    categories: subscription.categories,
    minimumSeverity: subscription.minimumSeverity,
    enabled: subscription.enabled,
    createdAt: new Date(subscription.createdAt).toISOString(),
    updatedAt: new Date(subscription.updatedAt).toISOString()
  }
}

function deliveryView (delivery: EmailDelivery): Static<typeof EmailDeliverySchema> {
  return {
    id: delivery.id,
    recipient: delivery.recipient,
    messageId: delivery.messageId,
    status: delivery.status,
    attempts: delivery.attempts,
    lastAttemptAt: iso(delivery.lastAttemptAt),
    nextAttemptAt: delivery.status === 'pending' ? iso(delivery.nextAttemptAt) : null,
    lastCode: delivery.lastCode,
    lastError: delivery.lastError,
    sentAt: iso(delivery.sentAt),
    createdAt: new Date(delivery.createdAt).toISOString()
  }
}

/** 400 for an address listed twice (addresses compare without regard to case). */
function checkRecipients (recipients: string[] | undefined): void {
  if (recipients === undefined) return
  const seen = new Set<string>()
  const errors: ProblemError[] = []
  recipients.forEach((recipient, index) => {
    const key = recipient.toLowerCase()
    if (seen.has(key)) errors.push({ in: 'body', pointer: `/recipients/${index}`, detail: `lists "${recipient}" a second time` })
    seen.add(key)
  })
  if (errors.length > 0) throw validationProblem(errors)
}

const TAGS = ['email']

function missingSubscription (id: string): HttpProblem {
  return notFoundProblem(`no e-mail subscription "${id}" in this tenant`)
}

const emailSubscriptions: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/email-subscriptions', {
    config: { scope: 'admin' },
    schema: {
      tags: TAGS,
      operationId: 'createEmailSubscription',
      summary: 'Subscribe addresses to e-mail digests of the tenant\'s sync failures',
      description: 'The first change of a quiet batch is mailed after EMAIL_GROUP_WAIT (default 1 min), later ones at most every ' +
        'EMAIL_GROUP_INTERVAL (30 min) in one mail per batch; a reminder lists what is still open every EMAIL_REPEAT_INTERVAL (24 h), ' +
        'and a last mail says when everything reported has recovered. Only changes after the subscription was created are mailed. ' +
        '409 when e-mail is off (no SMTP_URL).',
      body: CreateEmailSubscriptionBodySchema,
      response: { 201: EmailSubscriptionSchema, ...problemResponses(400, 409, 413, 415) }
    }
  }, async (request, reply) => {
    const emails = app.emailDigests.require()
    checkRecipients(request.body.recipients)
    const now = app.clock()
    const subscription: EmailSubscription = {
      id: `esub_${randomUUID()}`,
      tenantId: request.tenantId,
      description: request.body.description ?? null,
      recipients: request.body.recipients,
      unsubscribed: [],
      batchIds: request.body.batchIds ?? [],
      categories: request.body.categories ?? [],
      minimumSeverity: request.body.minimumSeverity ?? 'blocking',
      enabled: request.body.enabled ?? true,
      linkSecret: randomBytes(32).toString('base64url'),
      feedCursor: await app.changes.latestSeq(request.tenantId),
      createdAt: now,
      updatedAt: now
    }
    await emails.insertSubscription(subscription)
    return await reply.code(201).header('location', `/email-subscriptions/${subscription.id}`).send(toView(subscription))
  })

  app.get('/email-subscriptions', {
    config: { scope: 'admin' },
    schema: {
      tags: TAGS,
      operationId: 'listEmailSubscriptions',
      summary: 'The tenant\'s e-mail subscriptions, oldest first',
      response: { 200: EmailSubscriptionListSchema, ...problemResponses(409) }
    }
  }, async (request) => {
    return { items: (await app.emailDigests.require().listSubscriptions(request.tenantId)).map(toView) }
  })

  /** The tenant's subscription, or 404 (another tenant's included). */
  async function requireSubscription (tenantId: string, id: string): Promise<EmailSubscription> {
    const subscription = await app.emailDigests.require().findSubscription(tenantId, id)
    if (subscription === null) throw missingSubscription(id)
    return subscription
  }

  app.get('/email-subscriptions/:id', {
    config: { scope: 'admin' },
    schema: {
      tags: TAGS,
      operationId: 'getEmailSubscription',
      summary: 'One e-mail subscription',
      params: EmailSubscriptionParamsSchema,
      response: { 200: EmailSubscriptionSchema, ...problemResponses(400, 404, 409) }
    }
  }, async (request) => {
    return toView(await requireSubscription(request.tenantId, request.params.id))
  })

  app.patch('/email-subscriptions/:id', {
    config: { scope: 'admin' },
    schema: {
      tags: TAGS,
      operationId: 'updateEmailSubscription',
      summary: 'Change an e-mail subscription\'s recipients, filters or state',
      description: 'Fields given replace the stored ones. An address removed from `recipients` loses its unsubscribed mark, so listing it again later turns its mails back on.',
      params: EmailSubscriptionParamsSchema,
      body: UpdateEmailSubscriptionBodySchema,
      response: { 200: EmailSubscriptionSchema, ...problemResponses(400, 404, 409, 413, 415) }
    }
  }, async (request) => {
    const emails = app.emailDigests.require()
    checkRecipients(request.body.recipients)
    const stored = await requireSubscription(request.tenantId, request.params.id)
    const { body } = request
    const recipients = body.recipients ?? stored.recipients
    const updated: EmailSubscription = {
      ...stored,
      recipients,
      unsubscribed: stored.unsubscribed.filter((address) => recipients.includes(address)),
      batchIds: body.batchIds ?? stored.batchIds,
      categories: body.categories ?? stored.categories,
      minimumSeverity: body.minimumSeverity ?? stored.minimumSeverity,
      description: body.description === undefined ? stored.description : body.description,
      enabled: body.enabled ?? stored.enabled,
      updatedAt: app.clock()
    }
    // Re-enabled: what happened while it was off is skipped, as for a new subscription.
    const feedCursor = updated.enabled && !stored.enabled ? await app.changes.latestSeq(request.tenantId) : undefined
    if (!await emails.updateSubscription(updated, feedCursor)) throw missingSubscription(request.params.id)
    return toView(updated)
  })

  app.delete('/email-subscriptions/:id', {
    config: { scope: 'admin' },
    schema: {
      tags: TAGS,
      operationId: 'deleteEmailSubscription',
      summary: 'Delete an e-mail subscription with its unsent mails',
      params: EmailSubscriptionParamsSchema,
      response: { 204: { description: 'Deleted.', type: 'null' }, ...problemResponses(400, 404, 409) }
    }
  }, async (request, reply) => {
    if (!await app.emailDigests.require().deleteSubscription(request.tenantId, request.params.id)) throw missingSubscription(request.params.id)
    return await reply.code(204).send(null)
  })

  app.get('/email-subscriptions/:id/deliveries', {
    config: { scope: 'admin' },
    schema: {
      tags: TAGS,
      operationId: 'listEmailSubscriptionDeliveries',
      summary: 'The subscription\'s mails, one entry per recipient, newest first',
      description: 'SMTP 4xx answers and connection failures are retried (1 min, 5 min, 15 min, 30 min, 1 h, 2 h, then every 4 h) for 24 h; ' +
        'a 5xx answer fails that recipient\'s copy for good (`failed`, with the server\'s code and answer).',
      params: EmailSubscriptionParamsSchema,
      response: { 200: EmailDeliveryListSchema, ...problemResponses(400, 404, 409) }
    }
  }, async (request) => {
    const subscription = await requireSubscription(request.tenantId, request.params.id)
    return { items: (await app.emailDigests.require().listDeliveries(subscription.id, 100)).map(deliveryView) }
  })
}

export default emailSubscriptions
