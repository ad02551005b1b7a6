import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import fp from 'fastify-plugin'
import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify'
import type { Problem } from '../schemas/common.js'
import { InvalidCursorError } from '../domain/index.js'
import { isStorageFull } from '../repositories/types.js'

export const PROBLEM_TYPES = {
  validation: 'urn:problem:sync-failure-reports:validation',
  eventConflict: 'urn:problem:sync-failure-reports:event-conflict',
  invalidCursor: 'urn:problem:sync-failure-reports:invalid-cursor',
  notFound: 'urn:problem:sync-failure-reports:not-found',
  notReady: 'urn:problem:sync-failure-reports:not-ready',
  unauthorized: 'urn:problem:sync-failure-reports:unauthorized',
  forbidden: 'urn:problem:sync-failure-reports:forbidden',
  rateLimited: 'urn:problem:sync-failure-reports:rate-limited',
  overloaded: 'urn:problem:sync-failure-reports:overloaded',
  storageFull: 'urn:problem:sync-failure-reports:storage-full'
} as const

/** What a 507 tells clients to wait: an operator has to free space first. */
export const STORAGE_FULL_RETRY_AFTER_SECONDS = 60

/** What a 503 tells clients to wait before retrying: about how long a database restart takes. */
export const RETRY_AFTER_SECONDS = 5

export type ProblemError = NonNullable<Problem['errors']>[number]

/** An error that already knows the problem document it becomes. */
export class HttpProblem extends Error {
  constructor (readonly problem: Problem, readonly headers: Record<string, string> = {}) {
    super(problem.detail ?? problem.title)
  }
}

/** A 400 naming every problem (the first MAX_LISTED_ERRORS of them, and how many more there are). */
export function validationProblem (errors: ProblemError[]): HttpProblem {
  const listed = errors.slice(0, MAX_LISTED_ERRORS)
  const more = errors.length - listed.length
  const shown = listed.slice(0, 10).map((error) => `${error.in}${error.pointer} ${error.detail}`)
  const rest = errors.length - shown.length
  return new HttpProblem({
    type: PROBLEM_TYPES.validation,
    title: 'Request validation failed',
    status: 400,
    detail: `${shown.join('; ')}${rest > 0 ? `; and ${rest} more (see errors${more > 0 ? ' and moreErrors' : ''})` : ''}`,
    errors: listed,
    ...(more > 0 ? { moreErrors: more } : {})
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

/** Sends the problem with `instance` set to the request id, which the response's x-request-id and the logs carry too. */
export async function sendProblem (reply: FastifyReply, problem: Problem, headers: Record<string, string> = {}): Promise<FastifyReply> {
  return await reply.code(problem.status).headers(headers).type('application/problem+json').send({ ...problem, instance: problem.instance ?? reply.request.id })
}

function plainProblem (status: number, detail?: string): Problem {
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, ...(detail === undefined ? {} : { detail }) }
}

/** At most this many errors are listed in one refusal; `moreErrors` counts the rest. */
export const MAX_LISTED_ERRORS = 100

function escapePointer (segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1')
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps) between two short names. */
function distance (a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i === 0 ? j : j === 0 ? i : 0))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1)
    }
  }
  return rows[a.length][b.length]
}

/**
 * The known property an unknown one most likely meant: among the missing required ones
 * first (occuredAt next to a missing occurredAt), else among every property the object
 * allows; close enough only (a third of the name, at least one edit, case aside).
 */
export function didYouMean (unknown: string, missing: readonly string[], known: readonly string[]): string | null {
  const lower = unknown.toLowerCase()
  for (const candidates of [missing, known]) {
    let best: { name: string, score: number } | null = null
    for (const name of candidates) {
      const score = distance(lower, name.toLowerCase())
      if (score <= Math.max(1, Math.floor(name.length / 3)) && (best === null || score < best.score)) best = { name, score }
    }
    if (best !== null) return best.name
  }
  return null
}

function describe (error: FastifySchemaValidationError): string {
  const params = error.params as Record<string, unknown>
  if (error.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    return `must be one of ${params.allowedValues.map((value) => JSON.stringify(value)).join(', ')}`
  }
  if (error.keyword === 'const' && 'allowedValue' in params) return `must be ${JSON.stringify(params.allowedValue)}`
  return error.message ?? 'is invalid'
}

/**
 * Turns ajv's errors into pointers at the bad values: a missing or unknown property at the
 * property's own pointer, an unknown one with the known property it most likely meant, the
 * allowed values of an enum. Duplicates (from ajv's allErrors on unions) are dropped.
 */
export function toProblemErrors (part: string, errors: readonly FastifySchemaValidationError[]): ProblemError[] {
  const missingAt = new Map<string, string[]>()
  for (const error of errors) {
    const missing = (error.params as Record<string, unknown>).missingProperty
    if (error.keyword === 'required' && typeof missing === 'string') {
      const base = error.instancePath ?? ''
      missingAt.set(base, [...(missingAt.get(base) ?? []), missing])
    }
  }
  const seen = new Set<string>()
  const out: ProblemError[] = []
  for (const error of errors) {
    const params = error.params as Record<string, unknown>
    const base = error.instancePath ?? ''
    let pointer = base
    let detail = describe(error)
    if (typeof params.missingProperty === 'string') {
      pointer = `${base}/${escapePointer(params.missingProperty)}`
    } else if (typeof params.additionalProperty === 'string') {
      pointer = `${base}/${escapePointer(params.additionalProperty)}`
      const parent = (error as { parentSchema?: { properties?: Record<string, unknown> } }).parentSchema
      const suggestion = didYouMean(params.additionalProperty, missingAt.get(base) ?? [], Object.keys(parent?.properties ?? {}))
      detail = suggestion === null ? 'is not a known property' : `is not a known property; did you mean ${suggestion}?`
    }
    const key = `${pointer}\u0000${detail}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push({ in: part, pointer, detail })
  }
  return out
}

/**
 * For errors Fastify raises before routing (a malformed URL: 400, a path parameter beyond even
 * the router's generous limit: 414), which never reach the error handler and would otherwise
 * answer plain JSON. Their messages quote the URL, so the detail is ours: input is never echoed.
 */
export function sendFrameworkError (error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
  const detail = FRAMEWORK_DETAILS[status] ?? (status === 500 ? 'An unexpected error occurred; it has been logged.' : 'The request could not be understood.')
  sendProblem(reply, plainProblem(status, detail))
    .catch((err: unknown) => { reply.log.error({ err }, 'could not send a problem') })
}

const FRAMEWORK_DETAILS: Record<number, string> = {
  400: 'The URL is malformed.',
  414: 'A path segment is far longer than any identifier this service knows.'
}

/** A whole HTTP/1.1 problem response, for the socket-level errors Node raises before Fastify sees a request. */
function rawProblem (status: number, detail: string): string {
  const body = JSON.stringify(plainProblem(status, detail))
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/problem+json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
}

const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'The request line and headers together are larger than this server accepts (16 KiB).'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'The request was not received completely within REQUEST_TIMEOUT.'],
  HPE_URI_TOO_LONG: [414, 'The URL is longer than this server accepts.']
}

/** How long a refused connection is drained before it is closed, and how much of it is read. */
const LINGER_MS = 2_000
const LINGER_BYTES = 1024 * 1024
/** Sockets already answered: Node's parser reports its error again for every later chunk. */
const answered = new WeakSet<Duplex>()

/**
 * Fastify's clientErrorHandler: Node's parser refused the request (headers too large, a
 * timeout, a malformed request line) before any route ran. Answers problem+json, never
 * quoting the input, then closes the connection the way nginx and Apache do (a lingering
 * close): closing a socket while the request is still arriving makes the kernel answer with
 * a reset, and the client may then lose the answer (Node 24's client reports ECONNRESET even
 * after reading it). So the answer is sent with our side ended, and what the client still
 * sends is read and dropped until it closes, for at most LINGER_MS and LINGER_BYTES.
 */
export function clientErrorHandler (this: { log: FastifyRequest['log'] }, error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) return
  answered.add(socket)
  const [status, detail] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'The request is not valid HTTP.']
  this.log.debug({ err: error }, 'client error')
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const timer = setTimeout(() => { socket.destroy() }, LINGER_MS)
  timer.unref()
  let drained = 0
  socket.on('data', (chunk: Buffer) => {
    drained += chunk.length
    if (drained > LINGER_BYTES) socket.destroy()
  })
  socket.on('end', () => { socket.destroy() })
  socket.on('close', () => { clearTimeout(timer) })
  // A reset from the client while draining ends it; nothing to report.
  socket.on('error', () => { socket.destroy() })
  socket.end(rawProblem(status, detail))
  socket.resume()
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
      return await sendProblem(reply, validationProblem(toProblemErrors(part, error.validation)).problem)
    }
    const status = (error.code !== undefined ? FASTIFY_CLIENT_ERRORS[error.code] : undefined) ??
      (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : undefined)
    if (status !== undefined) {
      if (status === 400 && error instanceof SyntaxError) return await sendProblem(reply, plainProblem(400, `Body is not valid JSON: ${error.message}`))
      if (status === 415) return await sendProblem(reply, plainProblem(415, 'The body must be JSON, sent with Content-Type: application/json.'))
      return await sendProblem(reply, plainProblem(status, error.message))
    }
    if (isStorageFull(error)) {
      request.log.error({ err: error }, 'write failed: the database\'s disk is full')
      return await sendProblem(reply, {
        type: PROBLEM_TYPES.storageFull,
        title: 'Insufficient Storage',
        status: 507,
        detail: 'The database\'s disk is full; nothing was stored. Retry later.'
      }, { 'retry-after': String(STORAGE_FULL_RETRY_AFTER_SECONDS) })
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
