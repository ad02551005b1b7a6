import { STATUS_CODES } from 'node:http'
import fp from 'fastify-plugin'
import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify'
import type { Problem } from '../schemas/common.js'
import { InvalidCursorError } from '../domain/index.js'

export const PROBLEM_TYPES = {
  validation: 'urn:problem:sync-failure-reports:validation',
  eventConflict: 'urn:problem:sync-failure-reports:event-conflict',
  invalidCursor: 'urn:problem:sync-failure-reports:invalid-cursor',
  notFound: 'urn:problem:sync-failure-reports:not-found',
  notReady: 'urn:problem:sync-failure-reports:not-ready',
  unauthorized: 'urn:problem:sync-failure-reports:unauthorized',
  forbidden: 'urn:problem:sync-failure-reports:forbidden',
  rateLimited: 'urn:problem:sync-failure-reports:rate-limited',
  overloaded: 'urn:problem:sync-failure-reports:overloaded'
} as const

/** What a 503 tells clients to wait before retrying: about how long a database restart takes. */
export const RETRY_AFTER_SECONDS = 5

export type ProblemError = NonNullable<Problem['errors']>[number]

/** An error that already knows the problem document it becomes. */
export class HttpProblem extends Error {
  constructor (readonly problem: Problem, readonly headers: Record<string, string> = {}) {
    super(problem.detail ?? problem.title)
  }
}

export function validationProblem (errors: ProblemError[]): HttpProblem {
  return new HttpProblem({
    type: PROBLEM_TYPES.validation,
    title: 'Request validation failed',
    status: 400,
    detail: errors.map((error) => `${error.in}${error.pointer} ${error.detail}`).join('; '),
    errors
  })
}

export function notFoundProblem (detail: string): HttpProblem {
  return new HttpProblem({ type: PROBLEM_TYPES.notFound, title: 'Not Found', status: 404, detail })
}

export function invalidCursorProblem (detail: string): HttpProblem {
  return new HttpProblem({
    type: PROBLEM_TYPES.invalidCursor,
    title: 'Invalid cursor',
    status: 400,
    detail,
    errors: [{ in: 'querystring', pointer: '/cursor', detail }]
  })
}

export async function sendProblem (reply: FastifyReply, problem: Problem, headers: Record<string, string> = {}): Promise<FastifyReply> {
  return await reply.code(problem.status).headers(headers).type('application/problem+json').send(problem)
}

function plainProblem (status: number, detail?: string): Problem {
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, ...(detail === undefined ? {} : { detail }) }
}

/** Turns an ajv error into a pointer at the bad value (a missing or unknown property included). */
function toProblemError (part: string, error: FastifySchemaValidationError): ProblemError {
  const params = error.params as Record<string, unknown>
  const extra = typeof params.missingProperty === 'string'
    ? params.missingProperty
    : typeof params.additionalProperty === 'string' ? params.additionalProperty : null
  const base = error.instancePath ?? ''
  const pointer = extra === null ? base : `${base}/${extra.replace(/~/g, '~0').replace(/\//g, '~1')}`
  const detail = typeof params.additionalProperty === 'string'
    ? 'is not a known property'
    : error.message ?? 'is invalid'
  return { in: part, pointer, detail }
}

/**
 * For errors Fastify raises before routing (a param over maxParamLength: 414, a malformed
 * URL: 400), which never reach the error handler and would otherwise answer plain JSON.
 */
export function sendFrameworkError (error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
  sendProblem(reply, plainProblem(status, status === 500 ? 'An unexpected error occurred; it has been logged.' : error.message))
    .catch((err: unknown) => { reply.log.error({ err }, 'could not send a problem') })
}

// Fastify's own client-error codes and the status each one means.
const FASTIFY_CLIENT_ERRORS: Record<string, number> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 413,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 415,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 400,
  FST_ERR_CTP_EMPTY_JSON_BODY: 400,
  FST_ERR_CTP_INVALID_JSON_BODY: 400
}

/** problem+json for every error and unknown route; 5xx never show their cause. */
export default fp(async function problems (app) {
  app.setErrorHandler(async (error: FastifyError | HttpProblem, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof HttpProblem) return await sendProblem(reply, error.problem, error.headers)
    if (error instanceof InvalidCursorError) return await sendProblem(reply, invalidCursorProblem(error.message).problem)
    if (error.validation !== undefined) {
      const part = error.validationContext ?? 'body'
      return await sendProblem(reply, validationProblem(error.validation.map((item) => toProblemError(part, item))).problem)
    }
    const status = (error.code !== undefined ? FASTIFY_CLIENT_ERRORS[error.code] : undefined) ??
      (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : undefined)
    if (status !== undefined) {
      if (status === 400 && error instanceof SyntaxError) return await sendProblem(reply, plainProblem(400, `Body is not valid JSON: ${error.message}`))
      return await sendProblem(reply, plainProblem(status, error.message))
    }
    request.log.error({ err: error }, 'request failed')
    const unavailable = typeof error.statusCode === 'number' && error.statusCode === 503
    return unavailable
      ? await sendProblem(reply, plainProblem(503, 'The service is temporarily unavailable; retry shortly.'), { 'retry-after': String(RETRY_AFTER_SECONDS) })
      : await sendProblem(reply, plainProblem(500, 'An unexpected error occurred; it has been logged.'))
  })

  app.setNotFoundHandler(async (request, reply) => {
    return await sendProblem(reply, { ...plainProblem(404, `No route ${request.method} ${request.url.split('?')[0]}`), type: PROBLEM_TYPES.notFound })
  })
}, { name: 'problems' })
