import Type, { type Static } from 'typebox'

export const ProblemErrorSchema = Type.Object({
  in: Type.String({ description: 'Which part of the request: body, querystring, params or headers.' }),
  pointer: Type.String({ description: 'JSON Pointer (RFC 6901) to the offending value within that part.' }),
  detail: Type.String({ description: 'What is wrong with it.' })
}, { additionalProperties: false })

export const ProblemSchema = Type.Object({
  type: Type.String({ description: 'URI naming the kind of problem; about:blank for plain HTTP statuses.' }),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.Optional(Type.String()),
  instance: Type.Optional(Type.String({ description: 'The request id, as the response\'s x-request-id header and the service\'s logs carry it.' })),
  errors: Type.Optional(Type.Array(ProblemErrorSchema, { description: 'Every problem found, at most 100; `moreErrors` counts the rest.' })),
  moreErrors: Type.Optional(Type.Integer({ minimum: 1, description: 'How many problems were found beyond those listed in `errors`.' }))
}, {
  $id: 'Problem',
  description: 'RFC 9457 problem details, sent as application/problem+json.',
  examples: [{
    type: 'urn:problem:sync-failure-reports:validation',
    title: 'Request validation failed',
    status: 400,
    detail: 'body/failure/message must NOT have more than 8192 characters',
    errors: [{ in: 'body', pointer: '/failure/message', detail: 'must NOT have more than 8192 characters' }]
  }]
})

export type Problem = Static<typeof ProblemSchema>

/** Responses every route may give, referenced by status. */
export function problemResponses (...statuses: number[]): Record<number, unknown> {
  return Object.fromEntries(statuses.map((status) => [status, {
    description: STATUS_DESCRIPTIONS[status] ?? 'Problem',
    content: { 'application/problem+json': { schema: Type.Ref('Problem') } }
  }]))
}

const STATUS_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is malformed; `errors` names each bad field.',
  401: 'No valid API key: send `Authorization: Bearer <key>`.',
  403: 'The API key lacks the scope this operation requires.',
  404: 'No such resource.',
  406: 'None of the accepted media types can be produced.',
  413: 'The body is larger than this route accepts.',
  415: 'The body is not application/json.',
  422: 'The request conflicts with what is stored.',
  429: 'Too many requests for this API key; `Retry-After` says when to retry.',
  414: 'A path parameter is far longer than any identifier this service knows.',
  503: 'Unavailable for now: the service is overloaded or its database is unreachable or not migrated; `Retry-After` says when to retry.',
  507: 'The database\'s disk is full: nothing was stored; `Retry-After` says when to retry.'
}

export const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339 time, UTC.', examples: ['2026-11-23T10:00:00.000Z'] })
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()])
export const IdentifierPattern = '^[A-Za-z0-9._:-]{1,128}$'
