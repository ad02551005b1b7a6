import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { issueApiKey, type StoredApiKey } from '../repositories/api-keys.js'
import { notFoundProblem } from '../plugins/problems.js'
import { problemResponses } from '../schemas/common.js'
import {
  ApiKeyListSchema, ApiKeyParamsSchema, CreateApiKeyBodySchema, CreatedApiKeySchema, type ApiKeyView
} from '../schemas/api-keys.js'

function toView (key: StoredApiKey): ApiKeyView {
  return {
    id: key.id,
    tenantId: key.tenantId,
    name: key.name,
    prefix: key.prefix,
    scopes: key.scopes,
    createdAt: new Date(key.createdAt).toISOString(),
    revokedAt: key.revokedAt === null ? null : new Date(key.revokedAt).toISOString()
  }
}

const apiKeys: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/admin/api-keys', {
    config: { scope: 'admin' },
    schema: {
      tags: ['admin'],
      operationId: 'createApiKey',
      summary: 'Create an API key for the caller\'s tenant',
      description: 'The response holds the key itself, once: only its hash is stored.',
      body: CreateApiKeyBodySchema,
      response: {
        201: { description: 'Created; `key` is shown only now.', ...CreatedApiKeySchema },
        ...problemResponses(400, 413, 415)
      }
    }
  }, async (request, reply) => {
    const { key, secret } = await issueApiKey(app.apiKeys, {
      tenantId: request.tenantId, scopes: request.body.scopes, name: request.body.name
    }, app.clock())
    return await reply.code(201).send({ ...toView(key), key: secret })
  })

  app.get('/admin/api-keys', {
    config: { scope: 'admin' },
    schema: {
      tags: ['admin'],
      operationId: 'listApiKeys',
      summary: 'List the caller\'s tenant\'s API keys, without secrets',
      response: { 200: ApiKeyListSchema }
    }
  }, async (request) => {
    return { items: (await app.apiKeys.listByTenant(request.tenantId)).map(toView) }
  })

  app.delete('/admin/api-keys/:id', {
    config: { scope: 'admin' },
    schema: {
      tags: ['admin'],
      operationId: 'revokeApiKey',
      summary: 'Revoke an API key of the caller\'s tenant',
      description: 'Takes effect at once: the next request with that key is a 401.',
      params: ApiKeyParamsSchema,
      response: {
        204: { description: 'Revoked.', type: 'null' },
        ...problemResponses(400, 404)
      }
    }
  }, async (request, reply) => {
    const revoked = await app.apiKeys.revoke(request.params.id, app.clock(), request.tenantId)
    if (!revoked) throw notFoundProblem(`no live API key "${request.params.id}" in this tenant`)
    return await reply.code(204).send(null)
  })
}

export default apiKeys
