import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { AUTHORIZATION, ensureBuilt, killHard, startService } from './helpers/service-process.js'
import { startReceiver } from './helpers/webhook-receiver.js'
import { failedEvent } from './helpers/app.js'

// Load shedding off: a busy CI machine must not turn the setup requests into 503s.
const ENV = { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', WEBHOOK_POLL_INTERVAL: '200ms', MAX_EVENT_LOOP_DELAY: '0' }

t.test('a process killed in the middle of a delivery delivers it after the restart, with the same webhook-id', async (t) => {
  ensureBuilt()
  const dir = mkdtempSync(join(tmpdir(), 'sfr-webhook-restart-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const databasePath = join(dir, 'reports.db')
  const receiver = await startReceiver(t)
  // The first request is never answered: the process dies while it waits.
  receiver.responses.push(() => 'hang')

  let service = await startService(databasePath, 20_000, ENV)
  t.teardown(async () => { await killHard(service) })
  const headers = { ...AUTHORIZATION, 'content-type': 'application/json' }
  const created = await fetch(`${service.baseUrl}/webhooks`, { method: 'POST', headers, body: JSON.stringify({ url: receiver.url }) })
  t.equal(created.status, 201)
  const { id, secret } = await created.json() as { id: string, secret: string }
  receiver.secrets.push(secret)
  const posted = await fetch(`${service.baseUrl}/events`, { method: 'POST', headers, body: JSON.stringify(failedEvent()) })
  t.equal(posted.status, 201)

  const [first] = await receiver.waitFor(1)
  await killHard(service)
  service = await startService(databasePath, 20_000, ENV)

  const [, second] = await receiver.waitFor(2, 15_000)
  t.equal(second.headers['webhook-id'], first.headers['webhook-id'], 'the same message')
  t.equal(second.body, first.body)
  t.equal(second.verifiedWith, secret)
  let log: { items: Array<{ status: string, attemptLog: unknown[] }> } = { items: [] }
  for (let poll = 0; poll < 200 && log.items[0]?.status !== 'delivered'; poll++) {
    log = await (await fetch(`${service.baseUrl}/webhooks/${id}/deliveries`, { headers: AUTHORIZATION })).json() as typeof log
    if (log.items[0]?.status !== 'delivered') await new Promise((resolve) => setTimeout(resolve, 25))
  }
  t.match(log.items, [{ status: 'delivered', attemptLog: [{ statusCode: 204 }] }], 'the killed attempt left no record; the one after the restart did')
  t.equal(receiver.received.length, 2)
})
