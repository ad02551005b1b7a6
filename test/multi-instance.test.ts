import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import t from 'tap'
import {
  TEST_DATABASE_URL, buildTestApp, createTestSchema, failedEvent, postEvent, report, syncedEvent, type ErrorReport
} from './helpers/app.js'

// Two real service processes (src/server.ts, run with the same TypeScript loader tap runs this
// file with, so no build step), each with its own connection pool, on one PostgreSQL schema.
// Separate processes, not two apps in this one, so nothing in memory can be shared by accident.

interface Instance {
  url: string
  child: ChildProcess
}

// Both instances create this admin key at start (BOOTSTRAP_ADMIN_KEY); only the first one stores it.
const KEY = 'sfr_' + 'm'.repeat(43)
const AUTHORIZATION = { authorization: `Bearer ${KEY}` }

async function startInstance (databaseUrl: string, sweepInterval = '1h'): Promise<Instance> {
  const child = spawn(process.execPath, [...process.execArgv, 'src/server.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      DATABASE_POOL_SIZE: '4',
      BOOTSTRAP_ADMIN_KEY: KEY,
      RATE_LIMIT_MAX: '1000000',
      STALL_SWEEP_INTERVAL: sweepInterval,
      // The TypeScript loader keeps the loop busy at start: no load shedding here.
      MAX_EVENT_LOOP_DELAY: '0'
    },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const exited = once(child, 'exit').then(([code]) => { throw new Error(`instance exited with ${String(code)} before listening`) })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  // The instances' errors (level 50 and up) show in the test's output.
  lines.on('line', (line) => { if (/"level":(5|6)0/.test(line)) process.stderr.write(`instance: ${line.slice(0, 2000)}\n`) })
  const listening = new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)
      if (match !== null) resolve(match[1])
    })
    lines.on('close', () => { reject(new Error('instance closed its output before listening')) })
  })
  const url = await Promise.race([listening, exited])
  return { url, child }
}

async function stopInstance (instance: Instance): Promise<void> {
  if (instance.child.exitCode !== null) return
  const exited = once(instance.child, 'exit')
  instance.child.kill('SIGTERM')
  await exited
}

interface BulkResult { id: string, duplicate: boolean, category: string | null }

async function postBulk (instance: Instance, events: Array<Record<string, unknown>>): Promise<BulkResult[]> {
  const response = await fetch(`${instance.url}/events/bulk`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTHORIZATION },
    body: JSON.stringify({ events })
  })
  if (response.status !== 200) throw new Error(`bulk answered ${response.status}: ${await response.text()}`)
  return (await response.json() as { results: BulkResult[] }).results
}

async function fullReport (instance: Instance): Promise<ErrorReport> {
  const response = await fetch(`${instance.url}/batches/batch-1/errors?status=all&limit=500`, { headers: AUTHORIZATION })
  return await response.json() as ErrorReport
}

/**
 * Each mailbox's history: failures of two categories and syncs, every event with its own
 * time, so the folded result depends on the events alone, never on their arrival order.
 */
function history (base: number): Array<Record<string, unknown>> {
  const events: Array<Record<string, unknown>> = []
  for (let m = 0; m < 12; m++) {
    const mailbox = `user${String(m).padStart(2, '0')}@contoso.com`
    for (let step = 0; step < 10; step++) {
      const occurredAt = new Date(base + step * 3_600_000 + m * 1000).toISOString()
      const id = `mi-${m}-${step}`
      if ((step + m) % 4 === 3) events.push(syncedEvent({ id, mailbox, occurredAt }))
      else if ((step * m) % 3 === 1) events.push(failedEvent({ id, mailbox, occurredAt, failure: { category: 'throttled', message: `back off ${step}` } }))
      else events.push(failedEvent({ id, mailbox, occurredAt, failure: { code: '161', message: `login failed ${step}` } }))
    }
  }
  return events
}

/** A fixed shuffle: a permutation by stride, so runs are repeatable. */
function shuffled<T> (items: T[], stride: number): T[] {
  return items.map((_, i) => items[(i * stride) % items.length])
}

function bulks<T> (items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))
}

/** Runs the tasks with at most `width` in flight; results in task order. */
async function inParallel<T> (tasks: Array<() => Promise<T>>, width: number): Promise<T[]> {
  const results: T[] = []
  let next = 0
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < tasks.length) {
      const index = next++
      results[index] = await tasks[index]()
    }
  }))
  return results
}

if (TEST_DATABASE_URL === undefined) {
  t.test('two instances on one PostgreSQL database', { skip: 'PostgreSQL tests SKIPPED: set TEST_DATABASE_URL to run the multi-instance test' }, async () => {})
} else {
  const databaseUrl = TEST_DATABASE_URL
  t.test('two instances posting the same events concurrently produce exactly the one-instance report', async (t) => {
    const schema = await createTestSchema(databaseUrl)
    t.teardown(schema.drop)
    const url = new URL(databaseUrl)
    url.searchParams.set('options', `-c search_path=${schema.name}`)
    // Started one after the other would hide the migration race: start both at once.
    const instances = await Promise.all([startInstance(url.toString()), startInstance(url.toString())])
    t.teardown(async () => { await Promise.all(instances.map(stopInstance)) })

    // The instances detect stalls on the wall clock, so the history is placed relative to it:
    // it ends 39 h ago, well past STALL_AFTER (26 h), and both the instances and the reference
    // (its clock set to now) open the same stalls, whatever the day the suite runs.
    const now = Date.now()
    const events = history(Math.floor(now / 3_600_000) * 3_600_000 - 48 * 3_600_000)
    // 120 events (4 relatively prime strides give 4 different orders), in bulks of 7 and
    // singly, each posted to both instances at once, plus retries of the whole set.
    const [a, b] = instances
    const streams = [
      bulks(shuffled(events, 7), 7).map((part) => async () => await postBulk(a, part)),
      bulks(shuffled(events, 11), 7).map((part) => async () => await postBulk(b, part)),
      bulks(shuffled(events, 13), 1).map((part) => async () => await postBulk(a, part)),
      bulks(shuffled(events, 17), 1).map((part) => async () => await postBulk(b, part))
    ]
    // Like a few engines each, not a flood: 4 requests in flight per stream, 16 in all.
    const results = (await Promise.all(streams.map(async (stream) => await inParallel(stream, 4)))).flat(2)

    t.equal(results.length, events.length * 4)
    const stored = results.filter((result) => !result.duplicate).map((result) => result.id).sort()
    t.same(stored, events.map((event) => String(event.id)).sort(), 'each event is stored exactly once')

    const reference = await buildTestApp(t)
    reference.clock.now = now
    for (const event of events) await postEvent(reference, event)
    await reference.app.stallSweep.runOnce()
    const expected = (await report(reference, 'batch-1', 'status=all&limit=500')).body

    // A sweep while events still arrive may stall a mailbox that a later event would have kept
    // from stalling, so the writers never sweep (1h) and two sweepers start once all is in:
    // one of them at a time holds the lease, and the stalls are those of the reference.
    const sweepers = await Promise.all([startInstance(url.toString(), '1s'), startInstance(url.toString(), '1s')])
    t.teardown(async () => { await Promise.all(sweepers.map(stopInstance)) })
    const stallCount = expected.summary.byCategory.sync_stalled
    const deadline = Date.now() + 30_000
    while ((await fullReport(a)).summary.byCategory.sync_stalled !== stallCount && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const [fromA, fromB] = await Promise.all([fullReport(a), fullReport(b)])
    t.same(fromA, expected, 'the report equals the one-instance report')
    t.same(fromB, expected, 'both instances serve the same report')
    // A stall the service detected has no event behind it.
    const fromEvents = expected.items.filter((item) => item.category !== 'sync_stalled')
    t.equal(fromEvents.reduce((sum, item) => sum + item.occurrences, 0), events.filter((event) => event.outcome === 'failed').length,
      'every failed event is counted once')
    t.ok(expected.items.some((item) => item.category === 'sync_stalled'), 'the report includes stalls both instances detected')
  })
}
