import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t, { type Test } from 'tap'
import ts from 'typescript'
import openapiTS, { astToString } from 'openapi-typescript'
import { buildTestApp } from './helpers/app.js'

// A client author's path: generate types from the committed document with openapi-typescript,
// write a small consumer with openapi-fetch, compile it strictly, run it against the service.

const root = fileURLToPath(new URL('..', import.meta.url))
const document = JSON.parse(readFileSync(join(root, 'openapi', 'openapi.json'), 'utf8')) as Parameters<typeof openapiTS>[0]

const CONSUMER = `import createClient from 'openapi-fetch'
import type { paths } from './api.js'

export async function run (baseUrl: string, key: string): Promise<{ created: number, openFailures: number, mailbox: string, category: string }> {
  const client = createClient<paths>({ baseUrl, headers: { authorization: 'Bearer ' + key } })
  const posted = await client.POST('/events', {
    body: {
      id: 'typed-client-1',
      batchId: 'typed-batch',
      mailbox: 'carol@contoso.com',
      occurredAt: new Date(Date.now() - 60_000).toISOString(),
      outcome: 'failed',
      failure: { code: '161', message: 'Host1 failure: Error login on [imap.contoso.com] with user [carol] auth [LOGIN]: 2 NO [AUTHENTICATIONFAILED] Authentication failed.' },
      context: { engine: 'imapsync', migrationType: 'imap', server: 'imap.contoso.com', credentialMode: 'user' }
    }
  })
  if (posted.error !== undefined) throw new Error('POST /events: ' + JSON.stringify(posted.error))
  // The report is JSON or, when asked for, CSV: ask for JSON and narrow to it.
  const report = await client.GET('/batches/{batchId}/errors', { params: { path: { batchId: 'typed-batch' } }, headers: { accept: 'application/json' } })
  if (report.data === undefined) throw new Error('GET errors: ' + JSON.stringify(report.error))
  if (typeof report.data === 'string') throw new Error('GET errors answered CSV')
  const first = report.data.items[0]
  return { created: posted.response.status, openFailures: report.data.summary.openFailures, mailbox: first.mailbox, category: first.category }
}
`

/** A folder with the generated types and the consumer, removed when the test ends. */
async function clientProject (t: Test, consumer: string): Promise<string> {
  // Inside node_modules so that the compiled consumer resolves openapi-fetch as an installed package.
  const directory = join(root, 'node_modules', '.cache', `typed-client-${randomBytes(6).toString('hex')}`)
  mkdirSync(directory, { recursive: true })
  t.teardown(() => { rmSync(directory, { recursive: true, force: true }) })
  writeFileSync(join(directory, 'package.json'), '{ "type": "module" }\n')
  writeFileSync(join(directory, 'api.d.ts'), astToString(await openapiTS(document)))
  writeFileSync(join(directory, 'consumer.ts'), consumer)
  return directory
}

function compile (directory: string): string[] {
  const program = ts.createProgram([join(directory, 'consumer.ts')], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    skipLibCheck: true,
    types: [],
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    outDir: directory
  })
  const emitted = program.emit()
  return [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics]
    .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'))
}

t.test('a client generated from openapi.json compiles, posts an event and reads the report', async (t) => {
  const directory = await clientProject(t, CONSUMER)
  t.same(compile(directory), [], 'the consumer type-checks against the generated types')

  const ctx = await buildTestApp(t)
  ctx.clock.now = Date.now()
  const address = await ctx.app.listen({ host: '127.0.0.1', port: 0 })
  const { run } = await import(pathToFileURL(join(directory, 'consumer.js')).href) as { run: (baseUrl: string, key: string) => Promise<Record<string, unknown>> }
  t.same(await run(address, ctx.key), { created: 201, openFailures: 1, mailbox: 'carol@contoso.com', category: 'source_sign_in_failed' })
})

t.test('the generated types are strict: a misspelt field does not compile', async (t) => {
  const directory = await clientProject(t, CONSUMER.replace('occurredAt:', 'occuredAt:'))
  const diagnostics = compile(directory)
  t.ok(diagnostics.some((message) => message.includes('occuredAt')), diagnostics.join('\n'))
})
