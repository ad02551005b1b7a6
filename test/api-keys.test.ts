import t from 'tap'
import { apiKeyPrefix, generateApiKey, hashApiKey, isWellFormedApiKey, parseScopes, verifyApiKey } from '../src/domain/api-keys.js'
import { buildApp, bootstrapAdminKey } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { authenticateApiKey, issueApiKey } from '../src/repositories/api-keys.js'
import { SqliteApiKeyRepository } from '../src/repositories/api-keys.sqlite.js'
import { SqliteWebhookRepository } from '../src/repositories/webhooks.sqlite.js'
import { buildTestApp, freshRepository } from './helpers/app.js'

const PROBLEM = 'application/problem+json; charset=utf-8'

t.test('a generated key is sfr_ and 256 random bits, and only its hash and prefix are kept', async (t) => {
  const key = generateApiKey()
  t.match(key, /^sfr_[A-Za-z0-9_-]{43}$/)
  t.ok(isWellFormedApiKey(key))
  t.not(generateApiKey(), key)
  const repository = SqliteApiKeyRepository.open(':memory:')
  t.teardown(async () => { await repository.close() })
  const { key: stored, secret } = await issueApiKey(repository, { tenantId: 'contoso', scopes: ['events:write'] }, 0)
  t.equal(stored.hash, hashApiKey(secret))
  t.equal(stored.prefix, secret.slice(0, 12))
  t.notMatch(JSON.stringify(await repository.listByTenant('contoso')), secret.slice(12))
})

t.test('verifyApiKey rejects a different key that shares the prefix', async (t) => {
  const key = generateApiKey()
  const impostor = apiKeyPrefix(key) + 'A'.repeat(key.length - apiKeyPrefix(key).length)
  const stored = { hash: hashApiKey(key), revokedAt: null }
  t.equal(verifyApiKey(key, [stored]), stored)
  t.equal(verifyApiKey(impostor, [stored]), null)
  t.equal(verifyApiKey(key, [{ hash: hashApiKey(key), revokedAt: 5 }]), null, 'a revoked key')
  t.equal(verifyApiKey(key, [{ hash: 'abcd', revokedAt: null }]), null, 'a stored hash of another length')
  t.equal(verifyApiKey(key, []), null)
})

t.test('authenticateApiKey finds live keys only', async (t) => {
  const repository = SqliteApiKeyRepository.open(':memory:')
  t.teardown(async () => { await repository.close() })
  const { key, secret } = await issueApiKey(repository, { tenantId: 'contoso', scopes: ['reports:read'] }, 0)
  t.match(await authenticateApiKey(repository, secret), { id: key.id, tenantId: 'contoso', scopes: ['reports:read'] })
  t.equal(await authenticateApiKey(repository, 'not a key'), null)
  t.equal(await authenticateApiKey(repository, secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A')), null)
  t.ok(await repository.revoke(key.id, 1))
  t.equal(await authenticateApiKey(repository, secret), null)
  t.notOk(await repository.revoke(key.id, 2), 'revoking twice changes nothing')
})

t.test('parseScopes reads a comma list and refuses unknown scopes', async (t) => {
  t.same(parseScopes('events:write, reports:read,events:write'), ['events:write', 'reports:read'])
  t.throws(() => parseScopes('events:write,root'), { message: /unknown scope "root"/ })
  t.throws(() => parseScopes(''), { message: /no scope/ })
})

t.test('BOOTSTRAP_ADMIN_KEY becomes an all-scopes admin key of tenant default when no key exists', async (t) => {
  const secret = generateApiKey()
  const apiKeys = SqliteApiKeyRepository.open(':memory:')
  const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent', BOOTSTRAP_ADMIN_KEY: secret }), { stores: { repository: await freshRepository(), apiKeys, webhooks: SqliteWebhookRepository.open(':memory:') }, logger: false })
  t.teardown(async () => { await app.close() })
  const response = await app.inject({ method: 'GET', url: '/admin/api-keys', headers: { authorization: `Bearer ${secret}` } })
  t.equal(response.statusCode, 200)
  t.match(response.json(), { items: [{ tenantId: 'default', name: 'bootstrap admin', scopes: ['events:write', 'reports:read', 'admin'], revokedAt: null }] })
})

t.test('the bootstrap key is not created once any key exists', async (t) => {
  const apiKeys = SqliteApiKeyRepository.open(':memory:')
  t.teardown(async () => { await apiKeys.close() })
  await issueApiKey(apiKeys, { tenantId: 'contoso', scopes: ['admin'] }, 0)
  t.equal(await bootstrapAdminKey(apiKeys, generateApiKey(), 0), false)
  t.equal(await bootstrapAdminKey(apiKeys, null, 0), false)
  t.equal(await apiKeys.count(), 1)
})

t.test('POST /admin/api-keys creates a key of the caller\'s tenant and shows it once', async (t) => {
  const ctx = await buildTestApp(t)
  const created = await ctx.inject({ method: 'POST', url: '/admin/api-keys', payload: { scopes: ['events:write'], name: 'engine 1' } })
  t.equal(created.statusCode, 201)
  const body = created.json()
  t.match(body, { tenantId: 'default', name: 'engine 1', scopes: ['events:write'], revokedAt: null, createdAt: '2026-11-24T12:00:00.000Z' })
  t.ok(isWellFormedApiKey(body.key))
  t.equal(body.prefix, body.key.slice(0, 12))

  const listed = await ctx.inject({ method: 'GET', url: '/admin/api-keys' })
  t.equal(listed.statusCode, 200)
  t.equal(listed.json().items.length, 2)
  t.notOk(listed.payload.includes(body.key), 'the list never holds a secret')
  t.notOk(listed.payload.includes(hashApiKey(body.key)), 'nor a hash')

  const used = await ctx.inject({ method: 'GET', url: '/troubleshooting', headers: { authorization: `Bearer ${body.key}` } })
  t.equal(used.statusCode, 403, 'the new key has only its own scopes')
  const posted = await ctx.inject({ method: 'POST', url: '/classify', headers: { authorization: `Bearer ${body.key}` }, payload: { message: 'x' } })
  t.equal(posted.statusCode, 403)
})

t.test('POST /admin/api-keys refuses unknown and missing scopes', async (t) => {
  const ctx = await buildTestApp(t)
  for (const payload of [{ scopes: ['root'] }, { scopes: [] }, {}, { scopes: ['admin', 'admin'] }, { scopes: ['admin'], tenantId: 'other' }]) {
    const response = await ctx.inject({ method: 'POST', url: '/admin/api-keys', payload })
    t.equal(response.statusCode, 400, JSON.stringify(payload))
    t.equal(response.headers['content-type'], PROBLEM)
  }
})

t.test('DELETE /admin/api-keys/:id revokes at once', async (t) => {
  const ctx = await buildTestApp(t)
  const { key, secret } = await issueApiKey(ctx.apiKeys, { tenantId: 'default', scopes: ['reports:read'] }, ctx.clock.now)
  const auth = { authorization: `Bearer ${secret}` }
  t.equal((await ctx.inject({ method: 'GET', url: '/troubleshooting', headers: auth })).statusCode, 200)
  const revoked = await ctx.inject({ method: 'DELETE', url: `/admin/api-keys/${key.id}` })
  t.equal(revoked.statusCode, 204)
  t.equal(revoked.payload, '')
  const after = await ctx.inject({ method: 'GET', url: '/troubleshooting', headers: auth })
  t.equal(after.statusCode, 401)
  const items = (await ctx.inject({ method: 'GET', url: '/admin/api-keys' })).json<{ items: Array<{ id: string }> }>().items
  t.match(items.find((item) => item.id === key.id), { revokedAt: '2026-11-24T12:00:00.000Z' })
  t.equal((await ctx.inject({ method: 'DELETE', url: `/admin/api-keys/${key.id}` })).statusCode, 404, 'already revoked')
})

t.test('an admin cannot see or revoke another tenant\'s keys', async (t) => {
  const ctx = await buildTestApp(t)
  const other = await issueApiKey(ctx.apiKeys, { tenantId: 'fabrikam', scopes: ['admin'] }, 0)
  const response = await ctx.inject({ method: 'DELETE', url: `/admin/api-keys/${other.key.id}` })
  t.equal(response.statusCode, 404)
  t.notOk((await ctx.inject({ method: 'GET', url: '/admin/api-keys' })).payload.includes(other.key.id))
  t.ok(await authenticateApiKey(ctx.apiKeys, other.secret), 'still live')
})

t.test('issuing a key whose secret is already stored writes nothing and says so', async (t) => {
  const repository = SqliteApiKeyRepository.open(':memory:')
  t.teardown(async () => { await repository.close() })
  const secret = 'sfr_' + 'd'.repeat(43)
  t.equal((await issueApiKey(repository, { tenantId: 'default', scopes: ['admin'], secret }, 1)).stored, true)
  t.equal((await issueApiKey(repository, { tenantId: 'default', scopes: ['admin'], secret }, 2)).stored, false)
  t.equal(await repository.count(), 1)
})
