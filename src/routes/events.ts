import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { classifyEvent, eventProblems, type ClockBound, type EventInput } from '../domain/index.js'
import { EventConflictError } from '../repositories/types.js'
import { HttpProblem, PROBLEM_TYPES, validationProblem } from '../plugins/problems.js'
import { problemResponses } from '../schemas/common.js'
import { BulkAcceptedSchema, BulkBodySchema, EventAcceptedSchema, EventSchema } from '../schemas/events.js'

export const EVENT_BODY_LIMIT = 64 * 1024
export const BULK_BODY_LIMIT = 16 * 1024 * 1024

function prepare (inputs: EventInput[], pointerPrefix: (index: number) => string, clock: ClockBound) {
  const errors = inputs.flatMap((input, index) => eventProblems(input, clock)
    .map((problem) => ({ in: 'body', pointer: pointerPrefix(index) + problem.pointer, detail: problem.detail })))
  if (errors.length > 0) throw validationProblem(errors)
  return inputs.map(classifyEvent)
}

function conflictProblem (error: EventConflictError, bulk: boolean): HttpProblem {
  return new HttpProblem({
    type: PROBLEM_TYPES.eventConflict,
    title: 'Event id already used for different content',
    status: 422,
    detail: `${bulk ? `events[${error.index}]: ` : ''}event "${error.eventId}" was already recorded with different content; ` +
      'an event id may only be retried with the same content. Nothing was stored.',
    errors: [{ in: 'body', pointer: bulk ? `/events/${error.index}/id` : '/id', detail: 'was already recorded with different content' }]
  })
}

const events: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/events', {
    config: { scope: 'events:write' },
    bodyLimit: EVENT_BODY_LIMIT,
    schema: {
      tags: ['events'],
      operationId: 'postEvent',
      summary: 'Report one sync outcome of a mailbox',
      description: 'Idempotent on `id`: a retry with the same content answers 200 with duplicate true and counts nothing twice. ' +
        'A 2xx means the event is committed.',
      body: EventSchema,
      response: {
        201: { description: 'Stored.', ...EventAcceptedSchema },
        200: { description: 'Already stored with the same content; nothing changed.', ...EventAcceptedSchema },
        ...problemResponses(400, 413, 415, 422, 507)
      }
    }
  }, async (request, reply) => {
    const [event] = prepare([request.body], () => '', { now: app.clock(), maxSkewMs: app.config.maxClockSkewMs })
    try {
      const { outcomes: [outcome] } = await app.failures.recordEvents(request.tenantId, [event], app.clock())
      app.metrics.eventsIngested([event], [outcome])
      return await reply.code(outcome.duplicate ? 200 : 201).send(outcome)
    } catch (error) {
      if (error instanceof EventConflictError) throw conflictProblem(error, false)
      throw error
    }
  })

  app.post('/events/bulk', {
    config: { scope: 'events:write' },
    bodyLimit: BULK_BODY_LIMIT,
    schema: {
      tags: ['events'],
      operationId: 'postEventsBulk',
      summary: 'Report up to 1000 sync outcomes in one transaction',
      description: 'All events are stored in one transaction, or none: a bad item is a 400 naming its index, ' +
        'an id reused with different content a 422. Results come in request order.',
      body: BulkBodySchema,
      response: {
        200: { description: 'All stored (or recognised as retries).', ...BulkAcceptedSchema },
        ...problemResponses(400, 413, 415, 422, 507)
      }
    }
  }, async (request) => {
    const prepared = prepare(request.body.events, (index) => `/events/${index}`, { now: app.clock(), maxSkewMs: app.config.maxClockSkewMs })
    try {
      const { outcomes } = await app.failures.recordEvents(request.tenantId, prepared, app.clock())
      app.metrics.eventsIngested(prepared, outcomes)
      return { results: outcomes.map(({ id, duplicate, category, rule }) => ({ id, duplicate, category, rule })) }
    } catch (error) {
      if (error instanceof EventConflictError) throw conflictProblem(error, true)
      throw error
    }
  })
}

export default events
