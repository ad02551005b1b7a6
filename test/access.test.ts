import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { API_SCOPES, apiKeyPrefix, type ApiScope } from '../src/domain/api-keys.js'
import { issueApiKey } from '../src/repositories/api-keys.js'
import { buildTestApp, failedEvent, type TestApp } from './helpers/app.js'

const PROBLEM = 'application/problem+json; charset=utf-8'
// The batch id is in the request itself (a 404 may echo it); contoso's mailbox and message are
// data no refused request and no other tenant may see.
const BATCH = 'contoso-batch-7'
const MAILBOX = 'ceo.secret@contoso.example'
const MESSAGE = 'contoso-only-message-1f9c'

interface Operation { method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, scope: ApiScope | 'public', example: unknown }

interface OpenApiOperation {
  description?: string
  security?: Array<Record<string, string[]>>
  requestBody?: { content?: Record<string, { example?: unknown, schema?: { examples?: unknown[] } }> }
}

/** Every operation of the OpenAPI document with the scope it declares: new routes are covered without editing this test. */
function operations (document: { paths: Record<string, Record<string, OpenApiOperation>> }): Operation[] {
  return Object.entries(document.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => {
    const declared = /Requires an API key with the scope `([a-z:]+)`/.exec(operation.description ?? '')
    const scope = operation.security?.length === 0 ? 'public' : (declared?.[1] as ApiScope)
    // @fastify/swagger moves a schema's only example up to the media type's `example`.
    const media = operation.requestBody?.content?.['application/json']
    const example = media?.example ?? media?.schema?.examples?.[0] ?? {}
    return { method: method.toUpperCase() as Operation['method'], path, scope, example }
  }))
}

interface World {
  ctx: TestApp
  contosoKeyId: string
  /** Bearer tokens by case. */
  keys: Record<ApiScope, { contoso: string, fabrikam: string, allBut: string }> & { revoked: string }
}

async function world (t: Test): Promise<World> {
  // E-mail on (nothing is sent: no subscription exists), so its routes answer as they would in use.
  const ctx = await buildTestApp(t, { SMTP_URL: 'smtp://127.0.0.1:9', SMTP_FROM: 'sfr@example.test', PUBLIC_URL: 'https://sfr.example.test', EMAIL_POLL_INTERVAL: '1h' })
  const keys: Partial<World['keys']> = {}
  let contosoKeyId = ''
  for (const scope of API_SCOPES) {
    const contoso = await issueApiKey(ctx.apiKeys, { tenantId: 'contoso', scopes: [scope] }, 0)
    const fabrikam = await issueApiKey(ctx.apiKeys, { tenantId: 'fabrikam', scopes: [scope] }, 0)
    const allBut = await issueApiKey(ctx.apiKeys, { tenantId: 'contoso', scopes: API_SCOPES.filter((other) => other !== scope) }, 0)
    keys[scope] = { contoso: contoso.secret, fabrikam: fabrikam.secret, allBut: allBut.secret }
    contosoKeyId = contoso.key.id
  }
  const revoked = await issueApiKey(ctx.apiKeys, { tenantId: 'contoso', scopes: [...API_SCOPES] }, 0)
  await ctx.apiKeys.revoke(revoked.key.id, 0)
  keys.revoked = revoked.secret
  const full = keys as World['keys']
  const stored = await ctx.inject({
    method: 'POST',
    url: '/events',
    headers: { authorization: `Bearer ${full['events:write'].contoso}` },
    payload: failedEvent({ batchId: BATCH, mailbox: MAILBOX, failure: { message: MESSAGE } })
  })
  t.equal(stored.statusCode, 201)
  return { ctx, contosoKeyId, keys: full }
}

function url (operation: Operation, contosoKeyId: string): string {
  return operation.path.replace(/\{([^}]+)\}/g, (_match, name: string) => {
    if (operation.path.startsWith('/admin/api-keys')) return contosoKeyId
    if (name === 'mailbox') return encodeURIComponent(MAILBOX)
    if (name === 'category') return 'source_sign_in_failed'
    return BATCH
  })
}

async function send (ctx: TestApp, operation: Operation, contosoKeyId: string, authorization: string | null): Promise<LightMyRequestResponse> {
  return await ctx.inject({
    method: operation.method,
    url: url(operation, contosoKeyId),
    ...(operation.method === 'GET' || operation.method === 'DELETE' ? {} : { payload: operation.example as Record<string, unknown> }),
    ...(authorization === null ? { auth: false } : { headers: { authorization } })
  })
}

function leaksNothing (t: Test, response: LightMyRequestResponse, label: string): void {
  for (const secret of [MAILBOX, MESSAGE]) t.notOk(response.payload.includes(secret), `${label}: no ${secret}`)
}

t.test('every operation declares a scope, and only health and the signed unsubscribe link are public', async (t) => {
  const { ctx } = await world(t)
  const all = operations(ctx.app.swagger() as never)
  t.ok(all.length >= 10)
  for (const operation of all) t.ok(operation.scope !== undefined, `${operation.method} ${operation.path} declares a scope`)
  // The unsubscribe link carries its own authorisation: an HMAC of subscription and address (test/email-digests.test.ts).
  t.same(all.filter((operation) => operation.scope === 'public').map((operation) => `${operation.method} ${operation.path}`),
    ['GET /health/live', 'GET /health/ready', 'GET /email-unsubscribe', 'POST /email-unsubscribe'])
})

t.test('every route refuses each wrong key without leaking data', async (t) => {
  const { ctx, contosoKeyId, keys } = await world(t)
  for (const operation of operations(ctx.app.swagger() as never)) {
    if (operation.scope === 'public') continue
    const name = `${operation.method} ${operation.path}`
    const scope = operation.scope
    const unauthenticated: Array<[string, string | null]> = [
      ['no key', null],
      ['a malformed header', 'Bearer'],
      ['another scheme', `Basic ${Buffer.from('contoso:secret').toString('base64')}`],
      ['a malformed key', 'Bearer not-an-api-key'],
      ['a forged key with a real prefix', `Bearer ${apiKeyPrefix(keys[scope].contoso)}${'A'.repeat(keys[scope].contoso.length - 12)}`],
      ['a revoked key', `Bearer ${keys.revoked}`]
    ]
    for (const [label, authorization] of unauthenticated) {
      const response = await send(ctx, operation, contosoKeyId, authorization)
      t.equal(response.statusCode, 401, `${name} with ${label}`)
      t.equal(response.headers['content-type'], PROBLEM)
      t.match(response.headers['www-authenticate'], /^Bearer/)
      t.match(response.json(), { type: 'urn:problem:sync-failure-reports:unauthorized', status: 401 })
      leaksNothing(t, response, `${name} with ${label}`)
    }

    const missingScope = await send(ctx, operation, contosoKeyId, `Bearer ${keys[scope].allBut}`)
    t.equal(missingScope.statusCode, 403, `${name} with a contoso key lacking ${scope}`)
    t.equal(missingScope.headers['content-type'], PROBLEM)
    t.match(missingScope.json(), { type: 'urn:problem:sync-failure-reports:forbidden', status: 403 })
    leaksNothing(t, missingScope, `${name} without ${scope}`)

    const otherTenant = await send(ctx, operation, contosoKeyId, `Bearer ${keys[scope].fabrikam}`)
    leaksNothing(t, otherTenant, `${name} from fabrikam`)
    // A path naming one of contoso's resources does not exist for fabrikam: 404, not 403.
    if (/\{(batchId|id|mailbox)\}/.test(operation.path)) t.equal(otherTenant.statusCode, 404, `${name} from fabrikam is a 404`)
    else t.ok(otherTenant.statusCode < 500, `${name} from fabrikam`)
  }
})

t.test('the right key of the right tenant is served', async (t) => {
  const { ctx, keys } = await world(t)
  const response = await ctx.inject({ method: 'GET', url: `/batches/${BATCH}/errors`, headers: { authorization: `Bearer ${keys['reports:read'].contoso}` } })
  t.equal(response.statusCode, 200)
  t.match(response.json(), { batchId: BATCH, items: [{ mailbox: MAILBOX, lastMessage: MESSAGE }] })
})

t.test('the same batch id in two tenants holds two separate reports', async (t) => {
  const { ctx, keys } = await world(t)
  const posted = await ctx.inject({
    method: 'POST',
    url: '/events',
    headers: { authorization: `Bearer ${keys['events:write'].fabrikam}` },
    payload: failedEvent({ batchId: BATCH, mailbox: 'bob@fabrikam.example' })
  })
  t.equal(posted.statusCode, 201)
  const fabrikam = await ctx.inject({ method: 'GET', url: `/batches/${BATCH}/errors`, headers: { authorization: `Bearer ${keys['reports:read'].fabrikam}` } })
  t.equal(fabrikam.statusCode, 200)
  t.match(fabrikam.json(), { summary: { openFailures: 1 }, items: [{ mailbox: 'bob@fabrikam.example' }] })
  leaksNothing(t, fabrikam, 'fabrikam report')
  const contoso = await ctx.inject({ method: 'GET', url: `/batches/${BATCH}/errors`, headers: { authorization: `Bearer ${keys['reports:read'].contoso}` } })
  t.match(contoso.json(), { summary: { openFailures: 1 }, items: [{ mailbox: MAILBOX }] })
})

t.test('a route that declares no scope is refused to every key (deny by default)', async (t) => {
  const ctx = await buildTestApp(t)
  ctx.app.get('/undeclared', async () => ({ secret: 'x' }))
  const response = await ctx.inject({ method: 'GET', url: '/undeclared' })
  t.equal(response.statusCode, 403)
  t.equal(response.headers['content-type'], PROBLEM)
  t.notOk(response.payload.includes('secret'))
  t.equal((await ctx.inject({ method: 'GET', url: '/undeclared', auth: false })).statusCode, 401)
})

t.test('an unknown route is a 401 without a key and a 404 with one', async (t) => {
  const ctx = await buildTestApp(t)
  t.equal((await ctx.inject({ method: 'GET', url: '/nowhere', auth: false })).statusCode, 401)
  t.equal((await ctx.inject({ method: 'GET', url: '/nowhere' })).statusCode, 404)
})

t.test('health, /docs and /openapi.json need no key', async (t) => {
  const ctx = await buildTestApp(t)
  for (const path of ['/health/live', '/health/ready', '/docs/', '/openapi.json']) {
    t.equal((await ctx.inject({ method: 'GET', url: path, auth: false })).statusCode, 200, path)
  }
})
