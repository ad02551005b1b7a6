// Writes openapi/openapi.json from the route schemas: `npm run openapi`.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { SqliteFailureRepository } from '../src/repositories/sqlite.js'
import { SqliteApiKeyRepository } from '../src/repositories/api-keys.sqlite.js'
import { SqliteWebhookRepository } from '../src/repositories/webhooks.sqlite.js'

export async function openapiDocument (): Promise<string> {
  const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent' }), {
    stores: { repository: SqliteFailureRepository.open(':memory:'), apiKeys: SqliteApiKeyRepository.open(':memory:'), webhooks: SqliteWebhookRepository.open(':memory:') }, logger: false
  })
  try {
    await app.ready()
    return JSON.stringify(app.swagger(), null, 2) + '\n'
  } finally {
    await app.close()
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const target = join(process.cwd(), 'openapi', 'openapi.json')
  mkdirSync(dirname(target), { recursive: true })
  writeFileSync(target, await openapiDocument())
  process.stdout.write(`wrote ${target}\n`)
}
