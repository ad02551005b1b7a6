import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AUTHORIZATION, ensureBuilt, killHard, startService } from './helpers/service-process.js'
import { startSmtpServer } from './helpers/smtp.js'

// The process killed mid-send sends no duplicate: the service is SIGKILLed while the SMTP
// server holds its first attempt (DATA read, no answer yet), so that copy was never accepted.
// The restarted process takes the delivery over once the dead one's lease (EMAIL_SEND_LEASE,
// short here) has run out, and exactly one copy is accepted, with the Message-ID recorded
// before the first attempt.

t.test('killed while the SMTP server holds the mail: one copy after restart, same Message-ID', async (t) => {
  ensureBuilt()
  const dir = mkdtempSync(join(tmpdir(), 'sfr-email-crash-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const smtp = await startSmtpServer()
  t.teardown(async () => { await smtp.close() })
  let held: () => void = () => {}
  const firstAttempt = new Promise<void>((resolve) => { held = resolve })
  let hold = true
  // The first DATA is never answered: the service is killed while it waits.
  smtp.answer = async () => {
    if (!hold) return null
    held()
    return await new Promise(() => {})
  }
  const env = {
    SMTP_URL: smtp.url,
    SMTP_FROM: 'sfr@example.test',
    PUBLIC_URL: 'https://sfr.example.test',
    EMAIL_GROUP_WAIT: '0s',
    EMAIL_POLL_INTERVAL: '100ms',
    EMAIL_SEND_LEASE: '2s'
  }
  const database = join(dir, 'db.sqlite')
  const first = await startService(database, 60_000, env)
  t.teardown(async () => { await killHard(first) })
  const request = async (baseUrl: string, method: string, path: string, body?: unknown): Promise<Response> => await fetch(`${baseUrl}${path}`, {
    method, headers: { 'content-type': 'application/json', ...AUTHORIZATION }, ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const created = await request(first.baseUrl, 'POST', '/email-subscriptions', { recipients: ['admin@contoso.com'] })
  t.equal(created.status, 201)
  const { id } = await created.json() as { id: string }
  const event = await request(first.baseUrl, 'POST', '/events', {
    id: 'e-1',
    batchId: 'batch-1',
    mailbox: 'alice@contoso.com',
    occurredAt: new Date().toISOString(),
    outcome: 'failed',
    failure: { code: '161', message: 'Host1 failure: Error login' }
  })
  t.equal(event.status, 201)
  await firstAttempt
  await killHard(first)
  t.equal(smtp.received.length, 0, 'the held attempt was never accepted')

  hold = false
  const second = await startService(database, 60_000, env)
  t.teardown(async () => { await killHard(second) })
  let deliveries: Array<{ status: string, attempts: number, messageId: string }> = []
  // Polls the delivery log until the mail is sent (the restarted process retries once the lease is over).
  while (deliveries[0]?.status !== 'sent') {
    const response = await request(second.baseUrl, 'GET', `/email-subscriptions/${id}/deliveries`)
    const body = await response.text()
    if (response.status !== 200) throw new Error(`deliveries: ${response.status} ${body}`)
    deliveries = (JSON.parse(body) as { items: typeof deliveries }).items
    await smtp.waitFor(1)
  }
  t.equal(deliveries.length, 1)
  t.equal(deliveries[0].attempts, 2, 'the killed attempt and the one after the restart')
  t.equal(smtp.received.length, 1, 'one copy accepted')
  t.equal(smtp.received[0].parsed.messageId, deliveries[0].messageId, 'with the Message-ID recorded before the first attempt')
})
