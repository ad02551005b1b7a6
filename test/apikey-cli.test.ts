import t, { type Test } from 'tap'
import { runApiKeyCommand } from '../scripts/apikey.js'
import { authenticateApiKey } from '../src/repositories/api-keys.js'
import { SqliteApiKeyRepository } from '../src/repositories/api-keys.sqlite.js'

async function store (t: Test): Promise<SqliteApiKeyRepository> {
  const apiKeys = SqliteApiKeyRepository.open(':memory:')
  t.teardown(async () => { await apiKeys.close() })
  return apiKeys
}

t.test('create prints the key once; list shows it without the secret; revoke ends it', async (t) => {
  const apiKeys = await store(t)
  const created = await runApiKeyCommand(apiKeys, ['create', '--tenant', 'contoso', '--scopes', 'events:write,reports:read', '--name', 'engine 1'], 0)
  const [, id] = /^created (key_\S+) for tenant contoso with scopes events:write,reports:read/.exec(created) ?? []
  const [, secret] = /key \(shown once, store it now\): (sfr_\S+)/.exec(created) ?? []
  t.ok(id !== undefined && secret !== undefined)
  t.match(await authenticateApiKey(apiKeys, secret), { id, tenantId: 'contoso' })

  const listed = await runApiKeyCommand(apiKeys, ['list', '--tenant', 'contoso'], 0)
  t.match(listed, `${id}\t${secret.slice(0, 12)}…\tevents:write,reports:read\t1970-01-01T00:00:00.000Z\tlive\tengine 1`)
  t.notOk(listed.includes(secret))
  t.equal(await runApiKeyCommand(apiKeys, ['list', '--tenant', 'fabrikam'], 0), 'no keys\n')

  t.equal(await runApiKeyCommand(apiKeys, ['revoke', '--id', id], 5), `revoked ${id}\n`)
  t.equal(await authenticateApiKey(apiKeys, secret), null)
  await t.rejects(runApiKeyCommand(apiKeys, ['revoke', '--id', id], 6), { name: 'UsageError', message: /no live key/ })
})

t.test('bad arguments are refused with a usage message', async (t) => {
  const apiKeys = await store(t)
  await t.rejects(runApiKeyCommand(apiKeys, [], 0), { name: 'UsageError', message: /usage:/ })
  await t.rejects(runApiKeyCommand(apiKeys, ['create', '--scopes', 'admin'], 0), { message: /--tenant is required/ })
  await t.rejects(runApiKeyCommand(apiKeys, ['create', '--tenant', 'has space', '--scopes', 'admin'], 0), { message: /--tenant/ })
  await t.rejects(runApiKeyCommand(apiKeys, ['create', '--tenant', 'contoso', '--scopes', 'root'], 0), { message: /unknown scope "root"/ })
  await t.rejects(runApiKeyCommand(apiKeys, ['revoke'], 0), { message: /--id is required/ })
  t.equal(await apiKeys.count(), 0)
})
