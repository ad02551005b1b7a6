import t from 'tap'
import { issueApiKey } from '../src/repositories/api-keys.js'
import { buildTestApp, failedEvent } from './helpers/app.js'

const PROBLEM = 'application/problem+json; charset=utf-8'

t.test('a key over its rate limit gets 429 problem+json with Retry-After and RateLimit headers', async (t) => {
  const ctx = await buildTestApp(t, { RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW: '1m' })
  const first = await ctx.inject({ method: 'GET', url: '/troubleshooting' })
  t.equal(first.statusCode, 200)
  t.equal(first.headers['ratelimit-limit'], '2')
  t.equal(first.headers['ratelimit-remaining'], '1')
  t.equal((await ctx.inject({ method: 'GET', url: '/troubleshooting' })).statusCode, 200)
  const limited = await ctx.inject({ method: 'GET', url: '/troubleshooting' })
  t.equal(limited.statusCode, 429)
  t.equal(limited.headers['content-type'], PROBLEM)
  t.equal(limited.headers['retry-after'], '60')
  t.equal(limited.headers['ratelimit-remaining'], '0')
  t.match(limited.json(), { type: 'urn:problem:sync-failure-reports:rate-limited', title: 'Too Many Requests', status: 429, detail: /retry in 1 minute/ })

  const other = await issueApiKey(ctx.apiKeys, { tenantId: 'default', scopes: ['reports:read'] }, 0)
  const otherKey = await ctx.inject({ method: 'GET', url: '/troubleshooting', headers: { authorization: `Bearer ${other.secret}` } })
  t.equal(otherKey.statusCode, 200, 'each key has its own budget')
  t.equal((await ctx.inject({ method: 'GET', url: '/health/live' })).statusCode, 200, 'probes are not limited')
})

t.test('requests without a valid key are limited per client address, before they are refused', async (t) => {
  const ctx = await buildTestApp(t, { RATE_LIMIT_MAX: '2' })
  const bad = { authorization: 'Bearer sfr_' + 'Z'.repeat(43) }
  t.equal((await ctx.inject({ method: 'GET', url: '/troubleshooting', headers: bad })).statusCode, 401)
  t.equal((await ctx.inject({ method: 'GET', url: '/troubleshooting', auth: false })).statusCode, 401)
  t.equal((await ctx.inject({ method: 'GET', url: '/troubleshooting', headers: bad })).statusCode, 429)
  t.equal((await ctx.inject({ method: 'GET', url: '/troubleshooting' })).statusCode, 200, 'a valid key is counted on its own')
})

t.test('a bulk body over 16 MiB is refused with 413 problem+json', async (t) => {
  const ctx = await buildTestApp(t)
  const event = failedEvent({ failure: { message: 'x'.repeat(8000) } })
  const response = await ctx.inject({ method: 'POST', url: '/events/bulk', payload: { events: Array.from({ length: 2100 }, () => event) } })
  t.equal(response.statusCode, 413)
  t.equal(response.headers['content-type'], PROBLEM)
})

t.test('responses carry security headers', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'GET', url: '/troubleshooting' })
  t.equal(response.headers['x-content-type-options'], 'nosniff')
  t.match(response.headers['content-security-policy'], /default-src 'self'/)
  t.match(response.headers['strict-transport-security'], /max-age=/)
})

t.test('Swagger UI gets a policy that lets it run', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'GET', url: '/docs/', auth: false })
  t.equal(response.statusCode, 200)
  // Swagger UI's own policy (staticCSP) replaces the API's: it allows its images and styles.
  t.match(response.headers['content-security-policy'], /img-src 'self' data: validator\.swagger\.io/)
  t.match(response.headers['content-security-policy'], /style-src 'self' https:/)
})
