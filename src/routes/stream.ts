import fp from 'fastify-plugin'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { changeBody } from '../domain/changes.js'
import { StreamHub } from '../services/stream-hub.js'
import { validationProblem } from '../plugins/problems.js'
import { problemResponses } from '../schemas/common.js'
import { BatchParamsSchema } from '../schemas/batches.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Open event streams, fed from the change feed. */
    streams: StreamHub
  }
}

/** How often an idle stream sends a comment line, so proxies keep it open. */
export const HEARTBEAT_MS = 15_000

/** Bytes a stream may have waiting for a slow reader before it is closed. */
const MAX_BUFFERED_BYTES = 1_000_000

const StreamQuerySchema = Type.Object({
  after: Type.Optional(Type.Integer({
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
    description: 'Start after this feed seq (a `Last-Event-ID` header takes precedence). Default: only changes from now on.'
  }))
}, { additionalProperties: false })

const stream: FastifyPluginAsyncTypebox = async (app) => {
  const hub = new StreamHub(app.changes, (error) => { app.log.error({ err: error }, 'event stream read failed') })
  app.decorate('streams', hub)
  // Before the server stops accepting: open streams would otherwise hold the close up.
  app.addHook('preClose', async () => { hub.close() })

  app.get('/batches/:batchId/stream', {
    sse: 'only',
    config: { scope: 'reports:read' },
    schema: {
      operationId: 'streamBatchChanges',
      tags: ['changes'],
      summary: 'Live changes of one batch as Server-Sent Events',
      description: 'A `text/event-stream` with one event per change of the batch\'s failures, named after the change type ' +
        '(`failure.opened`, `failure.reopened`, `failure.resolved`, `failure.stalled`), its data the change as `GET /changes` ' +
        'gives it and its `id` the feed seq. Reconnect with `Last-Event-ID` (browsers do so by themselves) to resume with ' +
        'no gap and no repeat. A `: heartbeat` comment every 15 s keeps idle connections open. Authorised by an API key ' +
        'or by the pages\' sign-in session. Changes written through any instance arrive within about a second.',
      params: BatchParamsSchema,
      querystring: StreamQuerySchema,
      response: {
        200: {
          description: 'The event stream.',
          content: { 'text/event-stream': { schema: { type: 'string', description: 'id: <seq>\\nevent: <type>\\ndata: <change JSON>' } } }
        },
        ...problemResponses(400, 404)
      }
    }
  }, async (request, reply) => {
    const { tenantId } = request
    const { batchId } = request.params
    const header = reply.sse.lastEventId
    if (header !== null && !/^[0-9]{1,15}$/.test(header)) {
      throw validationProblem([{ in: 'headers', pointer: '/last-event-id', detail: 'must be a feed seq (a non-negative integer) this stream sent' }])
    }
    await app.reports.requireBatch(tenantId, batchId)
    const after = header !== null ? Number(header) : request.query.after ?? await app.changes.latestSeq(tenantId)
    reply.sse.keepAlive()
    reply.header('cache-control', 'no-store')
    reply.header('x-accel-buffering', 'no')
    reply.sse.sendHeaders()
    // Node holds the head back until the first byte: a comment sends it now, so the client
    // knows the stream is open (EventSource's open event) before any change comes.
    reply.raw.write(': connected\n\n')
    const raw = reply.raw
    let last: Promise<void> = Promise.resolve()
    const leave = await hub.join(tenantId, batchId, {
      after,
      send: (change) => {
        if (raw.destroyed || !reply.sse.isConnected) return false
        // A reader this far behind is let go: it reconnects with Last-Event-ID and resumes from the feed.
        if (raw.writableLength > MAX_BUFFERED_BYTES) {
          reply.sse.close()
          return false
        }
        last = reply.sse.send({ id: String(change.seq), event: change.type, data: changeBody(change) }).catch(() => {})
        return true
      },
      drained: () => raw.writableNeedDrain ? last : null,
      end: () => { reply.sse.close() }
    })
    reply.sse.onClose(leave)
    if (!reply.sse.isConnected) leave()
  })
}

export default fp(stream, { name: 'stream', dependencies: ['change-feed', '@fastify/sse'] })
