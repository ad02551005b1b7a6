import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
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

t.test('every operation has a stable, unique camelCase operationId', async (t) => {
  const document = JSON.parse(committed) as { paths: Record<string, Record<string, { operationId?: string }>> }
  const ids = Object.entries(document.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => {
    t.match(operation.operationId, /^[a-z][A-Za-z0-9]*$/, `${method} ${path} has a camelCase operationId`)
    return operation.operationId
  }))
  t.equal(new Set(ids).size, ids.length, 'no two operations share one')
  for (const id of ['postEvent', 'postEventsBulk', 'getBatchErrors', 'listBatches', 'getBatch', 'getMailbox', 'listChanges']) t.ok(ids.includes(id), id)
})

t.test('servers come from PUBLIC_URL; the document names its license', async (t) => {
  const document = JSON.parse(committed) as { servers: Array<{ url: string }>, info: { license: { name: string } } }
  t.same(document.servers.map((server) => server.url), ['/'], 'without PUBLIC_URL: relative to where the document was fetched')
  t.ok(document.info.license.name)
  const ctx = await buildTestApp(t, { PUBLIC_URL: 'https://reports.contoso.com/sfr/' })
  const served = (await ctx.inject({ method: 'GET', url: '/openapi.json' })).json<{ servers: Array<{ url: string }> }>()
  t.same(served.servers.map((server) => server.url), ['https://reports.contoso.com/sfr'])
})

t.test('Redocly\'s recommended lint finds no error and no warning', async (t) => {
  const cli = fileURLToPath(new URL('../node_modules/@redocly/cli/bin/cli.js', import.meta.url))
  const result = spawnSync(process.execPath, [cli, 'lint', 'openapi/openapi.json', '--format=json'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
    // No telemetry, no update check: the test reaches no network.
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', CI: 'true' }
  })
  t.equal(result.status, 0, result.stderr)
  const report = JSON.parse(result.stdout) as { totals: { errors: number, warnings: number }, problems: Array<{ ruleId: string, message: string, ignored?: boolean }> }
  t.same(report.problems.filter((problem) => problem.ignored !== true).map((problem) => `${problem.ruleId}: ${problem.message}`), [])
  t.same(report.totals, { ...report.totals, errors: 0, warnings: 0 })
})
