import type { FastifyReply, FastifyRequest } from 'fastify'
import { etagMatches, strongEtag } from '../domain/index.js'

// Cheap polling: a dashboard sends back the ETag it has and gets a bodiless 304 while nothing changed.

/** Response schema entry of the 304 every cacheable route may answer. */
export const notModifiedResponse = {
  304: { description: 'Not Modified: If-None-Match holds the current ETag; no body.', type: 'null' }
} as const

/**
 * Tags the reply with the strong ETag of `content` (what the response says, minus anything
 * that is not content) and tells whether the client's If-None-Match already holds it.
 */
export function isNotModified (request: FastifyRequest, reply: FastifyReply, content: unknown): boolean {
  return tagMatches(request, reply, strongEtag(content))
}

/** Tags the reply with `etag` and tells whether the client's If-None-Match already holds it. */
export function tagMatches (request: FastifyRequest, reply: FastifyReply, etag: string): boolean {
  reply.header('etag', etag).header('cache-control', 'no-cache')
  return etagMatches(request.headers['if-none-match'], etag)
}

/** 304 with no body and no content headers. */
export async function sendNotModified (reply: FastifyReply): Promise<FastifyReply> {
  return await reply.code(304).removeHeader('content-type').send()
}
