import { readFileSync } from 'node:fs'
import t from 'tap'
import { openapiDocument } from '../scripts/write-openapi.js'
import { buildTestApp } from './helpers/app.js'

const committed = readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8')

t.test('the committed openapi/openapi.json matches the route schemas (run `npm run openapi`)', async (t) => {
  t.equal(await openapiDocument(), committed)
})

t.test('GET /openapi.json serves the generated OpenAPI 3.1 document', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(response.statusCode, 200)
  t.same(response.json(), JSON.parse(committed))
  t.equal(response.json().openapi, '3.1.0')
})

t.test('every route has tags, a summary and a response for each status', async (t) => {
  const document = JSON.parse(committed) as { paths: Record<string, Record<string, { tags?: string[], summary?: string, responses?: Record<string, unknown> }>> }
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      t.ok(operation.tags !== undefined && operation.tags.length > 0, `${method} ${path} has tags`)
      t.ok(operation.summary, `${method} ${path} has a summary`)
      t.ok(Object.keys(operation.responses ?? {}).some((status) => status.startsWith('2')), `${method} ${path} documents its success`)
    }
  }
})

t.test('GET /docs serves Swagger UI', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'GET', url: '/docs/' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /text\/html/)
})
