import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import fp from 'fastify-plugin'

export const REQUEST_ID_HEADER = 'x-request-id'

// What a caller's own id may look like: the characters of UUIDs, ULIDs, trace ids and the
// base64 ids load balancers generate, at most 200 of them. Anything else (empty, too long,
// spaces, quotes, control characters) is replaced by an id of ours: it is echoed in a header
// and logged, so it must never carry markup or line breaks.
const ACCEPTED = /^[A-Za-z0-9._~:+=-]{1,200}$/

/**
 * Fastify's genReqId: the caller's x-request-id when it is well formed (a load balancer or
 * client that already named the request keeps its name across services), else a new UUID.
 */
export function requestId (request: IncomingMessage): string {
  const header = request.headers[REQUEST_ID_HEADER]
  return typeof header === 'string' && ACCEPTED.test(header) ? header : randomUUID()
}

/**
 * Returns the request id in x-request-id on every response, errors and refusals included
 * (set first thing, before any hook can refuse). Fastify logs it with every line of the
 * request as `reqId`; problem documents carry it as `instance` (see sendProblem).
 */
export default fp(async function requestIds (app) {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id)
    done()
  })
}, { name: 'request-id' })
