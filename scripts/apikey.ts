// Operators' API-key tool, on the database DATABASE_URL names:
//   npm run apikey -- create --tenant T --scopes events:write,reports:read [--name N]
//   npm run apikey -- list --tenant T
//   npm run apikey -- revoke --id ID
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '../src/config.js'
import { parseScopes } from '../src/domain/api-keys.js'
import { issueApiKey, type ApiKeyRepository } from '../src/repositories/api-keys.js'
import { openApiKeyRepository } from '../src/repositories/index.js'
import { IdentifierPattern } from '../src/schemas/common.js'

const USAGE = `usage:
  apikey create --tenant T --scopes events:write,reports:read,admin [--name N]
  apikey list --tenant T
  apikey revoke --id ID`

export class UsageError extends Error {
  override name = 'UsageError'
}

function required (value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`--${flag} is required\n${USAGE}`)
  return value
}

function tenant (value: string | undefined): string {
  const id = required(value, 'tenant')
  if (!new RegExp(IdentifierPattern).test(id)) throw new UsageError(`--tenant: "${id}" is not 1-128 of A-Za-z0-9._:-`)
  return id
}

/** Runs one command and returns what to print. */
export async function runApiKeyCommand (apiKeys: ApiKeyRepository, argv: string[], now: number): Promise<string> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { tenant: { type: 'string' }, scopes: { type: 'string' }, name: { type: 'string' }, id: { type: 'string' } }
  })
  const [command] = positionals
  if (command === 'create') {
    let scopes
    try {
      scopes = parseScopes(required(values.scopes, 'scopes'))
    } catch (error) {
      throw new UsageError(`--scopes: ${(error as Error).message}`)
    }
    const { key, secret } = await issueApiKey(apiKeys, { tenantId: tenant(values.tenant), scopes, name: values.name ?? null }, now)
    return `created ${key.id} for tenant ${key.tenantId} with scopes ${key.scopes.join(',')}\n` +
      `key (shown once, store it now): ${secret}\n`
  }
  if (command === 'list') {
    const keys = await apiKeys.listByTenant(tenant(values.tenant))
    if (keys.length === 0) return 'no keys\n'
    return keys.map((key) => [
      key.id, key.prefix + '…', key.scopes.join(','), new Date(key.createdAt).toISOString(),
      key.revokedAt === null ? 'live' : `revoked ${new Date(key.revokedAt).toISOString()}`, key.name ?? ''
    ].join('\t')).join('\n') + '\n'
  }
  if (command === 'revoke') {
    const id = required(values.id, 'id')
    if (!await apiKeys.revoke(id, now)) throw new UsageError(`no live key "${id}"`)
    return `revoked ${id}\n`
  }
  throw new UsageError(USAGE)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const apiKeys = await openApiKeyRepository(loadConfig().database, { poolSize: 1 })
  try {
    process.stdout.write(await runApiKeyCommand(apiKeys, process.argv.slice(2), Date.now()))
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof TypeError)) throw error
    process.stderr.write(`apikey: ${error.message}\n`)
    process.exitCode = 2
  } finally {
    await apiKeys.close()
  }
}
