import Type, { type Static } from 'typebox'
import { API_SCOPES } from '../domain/api-keys.js'
import { Timestamp } from './common.js'

export const ScopeSchema = Type.Enum([...API_SCOPES], {
  description: '`events:write`: post events (sync engines). `reports:read`: read reports (dashboards). `admin`: manage the tenant\'s keys.'
})

export const CreateApiKeyBodySchema = Type.Object({
  scopes: Type.Array(ScopeSchema, { minItems: 1, maxItems: API_SCOPES.length, uniqueItems: true }),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'What the key is for, e.g. the engine host.' }))
}, {
  additionalProperties: false,
  examples: [{ scopes: ['events:write'], name: 'imapsync on migrate-01' }]
})

export type CreateApiKeyBody = Static<typeof CreateApiKeyBodySchema>

const apiKeyProperties = {
  id: Type.String({ description: 'Key id: names the key in lists and in DELETE.' }),
  tenantId: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  prefix: Type.String({ description: 'First characters of the key, to recognise it; not enough to use it.' }),
  scopes: Type.Array(ScopeSchema),
  createdAt: Timestamp,
  revokedAt: Type.Union([Timestamp, Type.Null()])
}

export const ApiKeySchema = Type.Object(apiKeyProperties, {
  examples: [{
    id: 'key_3vQb9kXy1LmA',
    tenantId: 'contoso',
    name: 'imapsync on migrate-01',
    prefix: 'sfr_Hk2nY0aQ',
    scopes: ['events:write'],
    createdAt: '2026-11-23T10:00:00.000Z',
    revokedAt: null
  }]
})

export const CreatedApiKeySchema = Type.Object({
  ...apiKeyProperties,
  key: Type.String({ description: 'The API key itself. Shown only in this response: store it now.' })
})

export const ApiKeyListSchema = Type.Object({ items: Type.Array(ApiKeySchema) })

export const ApiKeyParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: 'Key id.' })
})

export type ApiKeyView = Static<typeof ApiKeySchema>
