// A first look that is not empty: posts a realistic migration batch through the API of a
// running service. A few hundred mailboxes; each failure the corpus of real engine output holds;
// some mailboxes syncing, some failing (a few over and over), some resolved, some stalled;
// every time relative to now.
//   npm run demo                     (SFR_URL, default http://127.0.0.1:3000)
// The key (events:write) comes from SFR_API_KEY, else BOOTSTRAP_ADMIN_KEY (also from .env).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadEnvFile } from '../src/config.js'
import { packageRoot } from '../src/db/migrations.js'

interface Signal { engine: string, code: string | null, message: string }

export interface DemoEvent {
  id: string
  batchId: string
  mailbox: string
  occurredAt: string
  outcome: 'failed' | 'synced'
  failure?: { code?: string, message: string }
  context?: { engine: string, migrationType: 'imap' | 'exchange', server: string, credentialMode: 'admin' | 'user' }
}

const HOUR = 3_600_000
const FIRST = ['adele', 'bruno', 'chloe', 'dmitri', 'elena', 'farid', 'greta', 'hiro', 'ines', 'jonas', 'kenji', 'lena', 'mateo', 'nadia', 'omar', 'priya', 'quinn', 'rosa', 'sven', 'tariq']
const LAST = ['adams', 'berg', 'costa', 'dubois', 'eriksen', 'fischer', 'garcia', 'huang', 'ivanova', 'jensen', 'kowalski', 'lopez', 'moreau', 'nakamura', 'olsen']

/** The corpus of real engine failures shipped with the tests (from ../shared/corpus). */
export function corpusSignals (): Signal[] {
  const root = packageRoot()
  return ['signals.jsonl', 'signals-real.jsonl'].flatMap((file) => readFileSync(join(root, 'test', 'fixtures', file), 'utf8')
    .split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Signal))
}

function migrationType (engine: string): 'imap' | 'exchange' {
  return /imap/i.test(engine) ? 'imap' : 'exchange'
}

/** Engine names as the event schema takes them: one word. */
function engineName (engine: string): string {
  return engine.split(/\s|\(/)[0].toLowerCase().replace(/[^a-z0-9._-]/g, '') || 'engine'
}

/**
 * The demo batch's events at `now`: `count` mailboxes, all first synced two days ago; then
 * 45% keep syncing, 30% fail (every corpus signal at least once, a third of them several
 * times), 12% failed and have synced since (resolved), 13% stopped syncing 30 hours ago (the
 * stall sweep reports them once STALL_AFTER, 26 h by default, has passed).
 */
export function demoEvents (now: number, count = 300, signals: Signal[] = corpusSignals()): DemoEvent[] {
  const batchId = `demo-${new Date(now).toISOString().slice(0, 10)}`
  const events: DemoEvent[] = []
  const at = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString()
  let signalIndex = 0
  const failure = (mailbox: string, index: number, when: number, step: number): void => {
    const signal = signals[signalIndex++ % signals.length]
    events.push({
      id: `demo-${now}-${index}-f${step}`,
      batchId,
      mailbox,
      occurredAt: at(when),
      outcome: 'failed',
      failure: { ...(signal.code === null ? {} : { code: signal.code }), message: signal.message },
      context: { engine: engineName(signal.engine), migrationType: migrationType(signal.engine), server: 'mail.contoso.local', credentialMode: index % 3 === 0 ? 'admin' : 'user' }
    })
  }
  for (let index = 0; index < count; index++) {
    const mailbox = `${FIRST[index % FIRST.length]}.${LAST[Math.floor(index / FIRST.length) % LAST.length]}${index >= FIRST.length * LAST.length ? index : ''}@contoso.com`
    const synced = (when: number, step: string): void => {
      events.push({ id: `demo-${now}-${index}-s${step}`, batchId, mailbox, occurredAt: at(when), outcome: 'synced' })
    }
    synced(now - 48 * HOUR - index * 1000, '0')
    const bucket = (index * 37) % 100
    if (bucket < 45) {
      synced(now - (index % 50) * 60_000 - 60_000, '1')
    } else if (bucket < 75) {
      const since = now - (2 + (index % 20)) * HOUR
      failure(mailbox, index, since, 1)
      if (index % 3 === 0) {
        failure(mailbox, index, since + 40 * 60_000, 2)
        signalIndex--
        failure(mailbox, index, since + 80 * 60_000, 3)
      }
    } else if (bucket < 87) {
      failure(mailbox, index, now - 30 * HOUR + index * 1000, 1)
      synced(now - 2 * HOUR, '1')
    } else {
      synced(now - 30 * HOUR - index * 1000, '1')
    }
  }
  return events
}

/** Posts the events in bulk; throws on any refusal. */
export async function postDemo (baseUrl: string, apiKey: string, events: DemoEvent[]): Promise<void> {
  for (let start = 0; start < events.length; start += 500) {
    const response = await fetch(new URL('/events/bulk', baseUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: events.slice(start, start + 500) })
    })
    if (!response.ok) throw new Error(`POST /events/bulk answered ${response.status}: ${(await response.text()).slice(0, 500)}`)
  }
}

async function main (): Promise<void> {
  loadEnvFile('.env')
  const baseUrl = process.env.SFR_URL ?? 'http://127.0.0.1:3000'
  const apiKey = process.env.SFR_API_KEY ?? process.env.BOOTSTRAP_ADMIN_KEY
  if (apiKey === undefined || apiKey === '') {
    console.error('Set SFR_API_KEY (a key with events:write) or BOOTSTRAP_ADMIN_KEY, e.g. in .env')
    process.exitCode = 2
    return
  }
  const events = demoEvents(Date.now())
  await postDemo(baseUrl, apiKey, events)
  const batchId = events[0].batchId
  const mailboxes = new Set(events.map((event) => event.mailbox)).size
  console.log(`Posted ${events.length} events for ${mailboxes} mailboxes in batch ${batchId}.`)
  console.log(`Report page: ${new URL(`/ui/batches/${batchId}`, baseUrl).toString()} (sign in with a reports:read key)`)
  console.log(`API:         curl -H "Authorization: Bearer $KEY" ${new URL(`/batches/${batchId}/errors`, baseUrl).toString()}`)
  console.log(`Live stream: curl -N -H "Authorization: Bearer $KEY" ${new URL(`/batches/${batchId}/stream`, baseUrl).toString()}`)
  console.log('Stalled mailboxes show once the background sweep has run (STALL_SWEEP_INTERVAL, default 5m).')
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error)
    process.exitCode = 1
  })
}
