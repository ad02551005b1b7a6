import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, statfsSync, writeFileSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { buildApp, DEFAULT_TENANT } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { API_SCOPES } from '../src/domain/api-keys.js'
import { openSqlite } from '../src/db/sqlite.js'
import { issueApiKey } from '../src/repositories/api-keys.js'
import { SqliteApiKeyRepository } from '../src/repositories/api-keys.sqlite.js'
import { SqliteWebhookRepository } from '../src/repositories/webhooks.sqlite.js'
import { SqliteFailureRepository } from '../src/repositories/sqlite.js'
import { failedEvent } from './helpers/app.js'

// SQLite on a file system that runs full: writes answer 507 with Retry-After, readiness says
// not ready, and both recover by themselves once there is room again. It needs a small file
// system of its own (a tmpfs mounted here, which takes root); elsewhere it is skipped, loudly.

function mountSmallFs (dir: string): string | null {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'pipe' })
    return null
  } catch (error) {
    return (error as Error).message.split('\n')[0]
  }
}

const dir = mkdtempSync(join(tmpdir(), 'sfr-disk-full-'))
const why = mountSmallFs(dir)
if (why !== null) {
  rmSync(dir, { recursive: true, force: true })
  console.error(`# SKIPPED disk-full test: cannot mount a small tmpfs here (${why}); run it as root to cover SQLITE_FULL`)
}

t.test('a full disk answers 507 with Retry-After, turns readiness off, and recovers by itself', { skip: why ?? false }, async (t) => {
  t.teardown(() => {
    try { execFileSync('umount', [dir], { stdio: 'pipe' }) } catch {}
    rmSync(dir, { recursive: true, force: true })
  })
  const { db } = openSqlite(join(dir, 'reports.db'))
  const repository = SqliteFailureRepository.on(db)
  const apiKeys = new SqliteApiKeyRepository(db)
  const { secret } = await issueApiKey(apiKeys, { tenantId: DEFAULT_TENANT, scopes: [...API_SCOPES], name: 'disk' }, Date.parse('2026-11-24T12:00:00Z'))
  const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '1000000', MAX_EVENT_LOOP_DELAY: '0' }),
    { stores: { repository, apiKeys, webhooks: new SqliteWebhookRepository(db) }, clock: () => Date.parse('2026-11-24T12:00:00Z'), logger: false })
  t.teardown(async () => { await app.close() })
  const headers = { authorization: `Bearer ${secret}` }
  t.equal((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200)

  // Fill the file system, keeping the filler so that space can be given back.
  const filler = join(dir, 'filler')
  // Leaves about 256 KB free, whatever the schema already takes of the 4 MB.
  const { bavail, bsize } = statfsSync(dir)
  writeFileSync(filler, Buffer.alloc(bavail * bsize - 256 * 1024))
  let full = null
  for (let round = 0; round < 40 && full === null; round++) {
    const events = Array.from({ length: 50 }, (_, i) => failedEvent({ mailbox: `u${round}-${i}@contoso.com`, failure: { message: 'x'.repeat(8000) } }))
    const response = await app.inject({ method: 'POST', url: '/events/bulk', payload: { events }, headers })
    if (response.statusCode !== 200) full = response
  }
  if (full === null) throw new Error('the file system never ran full')
  t.equal(full.statusCode, 507)
  t.equal(full.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.ok(Number(full.headers['retry-after']) > 0, 'Retry-After is set')
  t.match(full.json(), { type: 'urn:problem:sync-failure-reports:storage-full', status: 507, title: 'Insufficient Storage' })
  t.notMatch(full.body, /SQLITE|disk I\/O|database or disk/i, 'no driver message leaks')
  const notReady = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(notReady.statusCode, 503)
  t.match(notReady.json(), { detail: /disk is full/ })
  const single = await app.inject({ method: 'POST', url: '/events', payload: failedEvent({ mailbox: 'one@contoso.com', failure: { message: 'y'.repeat(8000) } }), headers })
  t.ok([201, 507].includes(single.statusCode), `a single event is stored or refused with 507, got ${single.statusCode}`)

  // Space is back: readiness and writes recover without a restart.
  unlinkSync(filler)
  t.equal((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200)
  const after = await app.inject({ method: 'POST', url: '/events', payload: failedEvent({ mailbox: 'back@contoso.com' }), headers })
  t.equal(after.statusCode, 201)
  const report = await app.inject({ method: 'GET', url: '/batches/batch-1/errors?mailbox=back@contoso.com', headers })
  t.equal(report.json<{ items: unknown[] }>().items.length, 1)
})
