import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { etagMatches, etagOf } from '../domain/index.js'

// Cheap polling: a dashboard sends back the ETag it has and gets a bodiless 304 while nothing changed.

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Tag the route's 200 answers with the strong ETag of their serialized body (see conditional). */
    etag?: boolean
  }
}

/** Response schema entry of the 304 every cacheable route may answer. */
export const notModifiedResponse = {
  304: { description: 'Not Modified: If-None-Match holds the current ETag; no body.', type: 'null' }
} as const

/** Tags the reply with `etag` and tells whether the client's If-None-Match already holds it. */
export function tagMatches (request: FastifyRequest, reply: FastifyReply, etag: string): boolean {
  reply.header('etag', etag).header('cache-control', 'no-cache')
  return etagMatches(request.headers['if-none-match'], etag)
}

/** 304 with no body and no content headers. */
export async function sendNotModified (reply: FastifyReply): Promise<FastifyReply> {
  return await reply.code(304).removeHeader('content-type').send()
}

/**
 * For routes that declare `config: { etag: true }`: the ETag is the hash of the body exactly as
 * serialized, taken once the serializer has run, so the body is serialized once and a handler
 * only returns it. A route whose validator must leave something out (the error report's
 * cursor snapshot) tags its reply itself with tagMatches instead.
 */
export default fp(async function conditional (app) {
  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.routeOptions.config.etag !== true || reply.statusCode !== 200) return payload
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload
    if (!tagMatches(request, reply, etagOf(payload))) return payload
    reply.code(304).removeHeader('content-type')
    return null
  })
}, { name: 'conditional' })
