import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { classifyEvents, eventProblems, type ClockBound, type EventInput } from '../domain/index.js'
import { EventConflictError, type ClassifiedEvent } from '../repositories/types.js'
import { HttpProblem, PROBLEM_TYPES, toProblemErrors, validationProblem, type ProblemError } from '../plugins/problems.js'
import { problemResponses } from '../schemas/common.js'
import { BulkAcceptedSchema, BulkBodySchema, EventAcceptedSchema, EventSchema } from '../schemas/events.js'

export const EVENT_BODY_LIMIT = 64 * 1024
export const BULK_BODY_LIMIT = 16 * 1024 * 1024

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

const ITEM_INDEX = /^\/events\/(\d+)(?:\/|$)/

/** A bulk error's item index (-1 for the body itself), to keep each item's errors together and items in order. */
function itemIndex (error: ProblemError): number {
  const match = ITEM_INDEX.exec(error.pointer)
  return match === null ? -1 : Number(match[1])
}

/**
 * One refusal for everything wrong with the body: the schema's errors (attached by Fastify, not
 * thrown) and the domain's checks of every event that is an object (outcome and failure
 * together, occurredAt representable and within MAX_CLOCK_SKEW), item by item. A domain check
 * is left out where the schema already named the same value. Nothing wrong: the classified events.
 */
function prepare (
  request: FastifyRequest, inputs: unknown[], pointerPrefix: (index: number) => string, clock: ClockBound
): ClassifiedEvent[] {
  const invalid = request.validationError
  const schemaErrors = invalid?.validation === undefined ? [] : toProblemErrors(invalid.validationContext ?? 'body', invalid.validation)
  const named = new Set(schemaErrors.map((error) => error.pointer))
  const domainErrors = inputs.flatMap((input, index) => isRecord(input)
    ? eventProblems(input as unknown as EventInput, clock)
      .map((problem) => ({ in: 'body', pointer: pointerPrefix(index) + problem.pointer, detail: problem.detail }))
      .filter((error) => !named.has(error.pointer))
    : [])
  // Array.prototype.sort is stable: within an item, schema errors stay ahead of domain ones.
  const errors = [...schemaErrors, ...domainErrors].sort((a, b) => itemIndex(a) - itemIndex(b))
  if (errors.length > 0) throw validationProblem(errors)
  return classifyEvents(inputs as EventInput[])
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
    // Schema errors reach the handler, which adds the domain's checks: one 400 names both.
    attachValidation: true,
    schema: {
      tags: ['events'],
      operationId: 'postEvent',
      summary: 'Report one sync outcome of a mailbox',
      description: 'Idempotent on `id`: a retry with the same content answers 200 with duplicate true and counts nothing twice. ' +
        'A 2xx means the event is committed. A 400 lists every problem in one `errors` list, each at its JSON pointer: ' +
        'the schema\'s and the checks beyond it (`failure` with `outcome`, `occurredAt` within MAX_CLOCK_SKEW) together.',
      body: EventSchema,
      response: {
        201: { description: 'Stored.', ...EventAcceptedSchema },
        200: { description: 'Already stored with the same content; nothing changed.', ...EventAcceptedSchema },
        ...problemResponses(400, 413, 415, 422, 507)
      }
    }
  }, async (request, reply) => {
    const body: unknown = request.body
    const [event] = prepare(request, isRecord(body) ? [body] : [], () => '', { now: app.clock(), maxSkewMs: app.config.maxClockSkewMs })
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
    attachValidation: true,
    schema: {
      tags: ['events'],
      operationId: 'postEventsBulk',
      summary: 'Report up to 1000 sync outcomes in one transaction',
      description: 'All events are stored in one transaction, or none: a bad item is a 400 naming its index ' +
        '(schema and domain errors of every item in one list, in index order, the first 100 listed and `moreErrors` counting the rest), ' +
        'an id reused with different content a 422. Results come in request order.',
      body: BulkBodySchema,
      response: {
        200: { description: 'All stored (or recognised as retries).', ...BulkAcceptedSchema },
        ...problemResponses(400, 413, 415, 422, 507)
      }
    }
  }, async (request) => {
    const body: unknown = request.body
    const items = isRecord(body) && Array.isArray(body.events) ? body.events as unknown[] : []
    const prepared = prepare(request, items, (index) => `/events/${index}`, { now: app.clock(), maxSkewMs: app.config.maxClockSkewMs })
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
