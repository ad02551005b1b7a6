import t from 'tap'
import { buildTestApp } from './helpers/app.js'

t.test('GET /health/live answers ok', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'GET', url: '/health/live' })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { status: 'ok' })
})

t.test('GET /health/ready answers ready when the database is reachable and migrated', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'GET', url: '/health/ready' })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { status: 'ready', database: { dialect: ctx.repository.dialect, reachable: true, migrated: true } })
})

t.test('GET /health/ready answers 503 problem+json when the database is gone', async (t) => {
  const ctx = await buildTestApp(t)
  await ctx.repository.close()
  const response = await ctx.inject({ method: 'GET', url: '/health/ready' })
  t.equal(response.statusCode, 503)
  t.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.match(response.json(), { status: 503, title: 'Not ready' })
})
