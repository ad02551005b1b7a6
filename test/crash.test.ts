import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AUTHORIZATION, ensureBuilt, killHard, startService, type ServiceProcess } from './helpers/service-process.js'

// A 2xx means "committed": SIGKILL the service mid-stream, restart it on the same file, and
// every acknowledged event must be there exactly once. One failed event per mailbox, so each
// acknowledged event is a failure with occurrences 1; events whose request got no answer may
// or may not have been committed, but never twice.

const BATCH = 'crash-batch'
// Acknowledged requests after which each round pulls the plug: early, mid-bulk, later.
const KILL_AFTER_ACKS = [2, 9, 23, 50]
const IN_FLIGHT = 6
const BULK_SIZE = 25
const MAX_REQUESTS_PER_ROUND = 2000

interface SentEvent {
  id: string
  mailbox: string
  body: Record<string, unknown>
}

let counter = 0

function newEvent (round: number): SentEvent {
  counter += 1
  const id = `r${round}-e${counter}`
  const mailbox = `user${counter}.r${round}@contoso.com`
  return {
    id,
    mailbox,
    body: {
      id,
      batchId: BATCH,
      mailbox,
      occurredAt: new Date(Date.UTC(2026, 10, 23, 10, 0, 0) + counter * 1000).toISOString(),
      outcome: 'failed',
      failure: { code: '161', message: `Host1 failure: Error login ${counter}` }
    }
  }
}

async function post (baseUrl: string, path: string, body: unknown): Promise<Response> {
  return await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTHORIZATION },
    body: JSON.stringify(body)
  })
}

/**
 * Keeps IN_FLIGHT writers busy with single and bulk requests, SIGKILLs the service once
 * `killAfter` requests were acknowledged, and returns the events of every 2xx answer.
 */
async function streamUntilKilled (service: ServiceProcess, round: number, killAfter: number): Promise<{ acknowledged: SentEvent[], sent: SentEvent[] }> {
  const acknowledged: SentEvent[] = []
  const sent: SentEvent[] = []
  let acks = 0
  let requests = 0
  let killed = false
  const writer = async (slot: number): Promise<void> => {
    while (!killed && requests < MAX_REQUESTS_PER_ROUND) {
      requests += 1
      const bulk = (requests + slot) % 3 === 0
      const batch = Array.from({ length: bulk ? BULK_SIZE : 1 }, () => newEvent(round))
      sent.push(...batch)
      try {
        const response = bulk
          ? await post(service.baseUrl, '/events/bulk', { events: batch.map((event) => event.body) })
          : await post(service.baseUrl, '/events', batch[0].body)
        await response.arrayBuffer()
        if (response.status >= 200 && response.status < 300) {
          acknowledged.push(...batch)
          acks += 1
        } else {
          throw new Error(`unexpected ${response.status}`)
        }
      } catch (error) {
        if (!killed) throw error
        return
      }
      if (acks >= killAfter && !killed) {
        killed = true
        // Other writers still have requests in flight: the kill lands mid-stream.
        await killHard(service)
      }
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, async (_, slot) => { await writer(slot) }))
  if (!killed) await killHard(service)
  return { acknowledged, sent }
}

interface ReportItem { mailbox: string, occurrences: number, status: string }
interface ReportPage { summary: { openFailures: number, mailboxesFailing: number }, items: ReportItem[], nextCursor: string | null }

async function readWholeReport (baseUrl: string): Promise<{ items: ReportItem[], summary: ReportPage['summary'] }> {
  const items: ReportItem[] = []
  let cursor: string | null = null
  let summary: ReportPage['summary'] | null = null
  for (let page = 0; page < 1000; page++) {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`
    const response = await fetch(`${baseUrl}/batches/${BATCH}/errors?status=all&limit=500${query}`, { headers: AUTHORIZATION })
    if (response.status !== 200) throw new Error(`report answered ${response.status}`)
    const body = await response.json() as ReportPage
    summary ??= body.summary
    items.push(...body.items)
    cursor = body.nextCursor
    if (cursor === null) return { items, summary }
  }
  throw new Error('report did not end within 1000 pages')
}

t.test('every acknowledged event survives SIGKILL exactly once, over several kill points', async (t) => {
  ensureBuilt()
  const dir = mkdtempSync(join(tmpdir(), 'sfr-crash-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const databasePath = join(dir, 'reports.db')

  const acknowledged = new Map<string, SentEvent>()
  const sentMailboxes = new Set<string>()
  let service = await startService(databasePath)
  t.teardown(async () => { await killHard(service) })

  for (const [round, killAfter] of KILL_AFTER_ACKS.entries()) {
    const result = await streamUntilKilled(service, round, killAfter)
    for (const event of result.acknowledged) acknowledged.set(event.id, event)
    for (const event of result.sent) sentMailboxes.add(event.mailbox)
    t.ok(result.acknowledged.length >= killAfter, `round ${round}: ${result.acknowledged.length} events acknowledged before the kill`)

    service = await startService(databasePath)

    const { items, summary } = await readWholeReport(service.baseUrl)
    const byMailbox = new Map(items.map((item) => [item.mailbox, item]))
    t.equal(byMailbox.size, items.length, `round ${round}: each mailbox appears once in the report`)
    const missing = [...acknowledged.values()].filter((event) => byMailbox.get(event.mailbox)?.occurrences !== 1)
    t.same(missing.map((event) => event.id), [], `round ${round}: every acknowledged event is counted exactly once`)
    t.same(items.filter((item) => !sentMailboxes.has(item.mailbox) || item.occurrences !== 1).map((item) => item.mailbox), [],
      `round ${round}: nothing unsent or double-counted is reported`)
    t.equal(summary.openFailures, items.length, `round ${round}: summary counts every stored failure`)
    t.equal(summary.mailboxesFailing, items.length, `round ${round}: summary counts every failing mailbox`)

    // A retry of any acknowledged event is recognised as already stored.
    const retries = [...acknowledged.values()]
    for (let start = 0; start < retries.length; start += 1000) {
      const part = retries.slice(start, start + 1000)
      const response = await post(service.baseUrl, '/events/bulk', { events: part.map((event) => event.body) })
      const body = await response.json() as { results: Array<{ duplicate: boolean }> }
      t.equal(response.status, 200)
      t.ok(body.results.every((result) => result.duplicate), `round ${round}: bulk retry of ${part.length} acknowledged events is all duplicates`)
    }
    const last = retries[retries.length - 1]
    const single = await post(service.baseUrl, '/events', last.body)
    t.equal(single.status, 200, `round ${round}: single retry answers 200`)
    t.match(await single.json(), { id: last.id, duplicate: true })
  }
  await killHard(service)
})
