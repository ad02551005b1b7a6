import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { PROBLEM_TYPES, RETRY_AFTER_SECONDS, sendProblem } from '../plugins/problems.js'
import { problemResponses } from '../schemas/common.js'

const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health/live', {
    config: { scope: 'public' },
    schema: {
      tags: ['health'],
      operationId: 'getLiveness',
      summary: 'Liveness: the process serves requests',
      response: { 200: Type.Object({ status: Type.Literal('ok') }) }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/health/ready', {
    config: { scope: 'public' },
    schema: {
      tags: ['health'],
      operationId: 'getReadiness',
      summary: 'Readiness: the database is reachable, migrated and writes can commit',
      response: {
        200: Type.Object({
          status: Type.Literal('ready'),
          database: Type.Object({ dialect: Type.String(), reachable: Type.Boolean(), migrated: Type.Boolean() })
        }),
        ...problemResponses(503)
      }
    }
  }, async (_request, reply) => {
    const state = await app.failures.readiness()
    if (!state.reachable || !state.migrated || state.writable === false) {
      return await sendProblem(reply, {
        type: PROBLEM_TYPES.notReady,
        title: 'Not ready',
        status: 503,
        detail: !state.reachable
          ? 'the database is unreachable'
          : !state.migrated ? 'the database is not fully migrated' : 'the database\'s disk is full: writes cannot commit'
      }, { 'retry-after': String(RETRY_AFTER_SECONDS) })
    }
    return { status: 'ready' as const, database: { dialect: app.failures.dialect, reachable: true, migrated: true } }
  })
}

export default health
