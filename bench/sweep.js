// npm run bench:sweep: the background stall sweep over one batch of BENCH_SWEEP_MAILBOXES
// (100,000) mailboxes loaded through POST /events/bulk, most of them last synced three days
// ago (STALL_AFTER is the default 26h), on SQLite or (BENCH_DATABASE_URL) PostgreSQL.
//
// Two runs, each on a fresh store:
//  - alone: the sweep with nothing else to do; its wall time (the service's own
//    sfr_stall_sweep_duration_seconds), its CPU (from /proc) and the event loop's delay
//    (prom-client's monitorEventLoopDelay gauges on /metrics, nodejs_eventloop_lag_*: each scrape
//    reads the histogram since the last one and resets it, so one scrape just before the sweep
//    and one just after it bracket the sweep);
//  - with a neighbour: another tenant's GET /batches/:id of a 100-mailbox batch over
//    BENCH_CONNECTIONS (10) connections, for BENCH_DURATION (10 s) before the sweep and then
//    for as long as the sweep runs; the latencies of the two compare.
// Last, on SQLite, the same sweep in this process without HTTP (BENCH_SWEEP_CHUNK_MAILBOXES,
// 20,000): each chunk's wall and CPU time. A SQLite chunk is synchronous, so its wall time is
// how long it holds the event loop; on a busy machine most of it is waiting for a CPU.
// How the sweep is made due at a known moment: the batch is loaded while STALL_AFTER is ten years
// (nothing is stale), then the service restarts with STALL_AFTER=26h and STALL_SWEEP_INTERVAL
// long enough for the neighbour's baseline, and its first sweep finds the stalls.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import {
  AUTH, CONNECTIONS, DURATION, PG_URL, ROOT, cannon, cpuMicros, freshStore, intFromEnv, loadAverage, machine as machineInfo,
  measureCeiling, round, startService, stopChild, writeResults
} from './harness.js'

const MAILBOXES = intFromEnv('BENCH_SWEEP_MAILBOXES', 100_000)
const BULK_SIZE = 1000
const BULK_CONNECTIONS = 4
const BATCH = 'sweep-batch'
const NEIGHBOUR_BATCH = 'neighbour-batch'
const NEIGHBOUR_MAILBOXES = 100
const HOUR = 3_600_000
// The first sweep after the restart starts this long after the service is ready: room for the
// neighbour's warm-up and baseline.
const SWEEP_DELAY_SECONDS = DURATION + 8
const LOOP_DELAY_TARGET_MS = 50
const CHUNK_MAILBOXES = intFromEnv('BENCH_SWEEP_CHUNK_MAILBOXES', 20_000)

/**
 * Mailbox m of the big batch, one event each: every 20th synced an hour ago (not stale), the next
 * failed three days ago with a blocking failure (stale, but a stall does not take over a blocking
 * failure), the rest synced three days ago: these the sweep stalls.
 */
function sweepEvent (m, now) {
  const event = { id: `sweep-${m}`, batchId: BATCH, mailbox: `user${m}@contoso.com` }
  if (m % 20 === 0) return { ...event, occurredAt: new Date(now - HOUR).toISOString(), outcome: 'synced' }
  const occurredAt = new Date(now - 72 * HOUR + m).toISOString()
  if (m % 20 === 1) {
    return { ...event, occurredAt, outcome: 'failed', failure: { category: 'source_sign_in_failed', code: '161', message: `Login of user${m} failed` } }
  }
  return { ...event, occurredAt, outcome: 'synced' }
}

const expectedStalls = (mailboxes) => mailboxes - Math.ceil(mailboxes / 20) - Math.ceil((mailboxes - 1) / 20)

async function request (method, url, headers, body) {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text.slice(0, 500)}`)
  return response.headers.get('content-type')?.includes('json') === true ? JSON.parse(text) : text
}

/** POST /events/bulk of `events`, BULK_SIZE a request, BULK_CONNECTIONS requests at once. */
async function load (base, headers, events) {
  let next = 0
  const worker = async () => {
    while (next < events.length) {
      const start = next
      next += BULK_SIZE
      await request('POST', `${base}/events/bulk`, headers, { events: events.slice(start, start + BULK_SIZE) })
    }
  }
  await Promise.all(Array.from({ length: BULK_CONNECTIONS }, worker))
}

/** A key of another tenant, made with the CLI on the service's store. */
async function neighbourKey (databaseUrl) {
  const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'dist', 'scripts', 'apikey.js'), 'create', '--tenant', 'neighbour', '--scopes', 'events:write,reports:read', '--name', 'bench neighbour'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }
  })
  const key = /(sfr_[A-Za-z0-9_-]+)\s*$/.exec(stdout.trim())?.[1]
  if (key === undefined) throw new Error(`apikey create printed no key: ${stdout}`)
  return { authorization: `Bearer ${key}` }
}

/** The samples of a Prometheus text exposition, by series (name and labels as written). */
async function scrape (base) {
  const text = await request('GET', `${base}/metrics`, AUTH)
  const samples = new Map()
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line)
    if (match !== null) samples.set(match[1], Number(match[2]))
  }
  return samples
}

/** The event loop's delay since the previous scrape (prom-client resets its histogram on each), in ms. */
function loopDelay (samples) {
  const ms = (name) => round(samples.get(`sfr_nodejs_eventloop_lag_${name}_seconds`) * 1000, 1)
  return { p50: ms('p50'), p90: ms('p90'), p99: ms('p99'), max: ms('max'), mean: ms('mean') }
}

const sleep = async (ms) => await new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))

async function scenario (withNeighbour) {
  const label = withNeighbour ? 'with a neighbour' : 'alone'
  const dir = mkdtempSync(join(tmpdir(), 'sfr-sweep-'))
  const store = await freshStore(dir, 'sweep')
  let service = null
  try {
    service = await startService(store.databaseUrl, { STALL_AFTER: '3650d' })
    const neighbour = await neighbourKey(store.databaseUrl)
    const now = Date.now()
    const events = Array.from({ length: MAILBOXES }, (_, m) => sweepEvent(m, now))
    const loadStarted = performance.now()
    await load(service.base, AUTH, events)
    const loadSeconds = (performance.now() - loadStarted) / 1000
    console.log(`${label}: loaded ${MAILBOXES} mailboxes in ${round(loadSeconds)} s (${round(MAILBOXES / loadSeconds, 0)} events/s)`)
    await load(service.base, neighbour, Array.from({ length: NEIGHBOUR_MAILBOXES }, (_, m) => ({
      id: `neighbour-${m}`,
      batchId: NEIGHBOUR_BATCH,
      mailbox: `user${m}@fabrikam.com`,
      occurredAt: new Date(now - HOUR).toISOString(),
      outcome: 'failed',
      failure: { category: 'throttled', code: '429', message: 'Too many requests' }
    })))
    await stopChild(service.child)

    service = await startService(store.databaseUrl, { STALL_AFTER: '26h', STALL_SWEEP_INTERVAL: `${SWEEP_DELAY_SECONDS}s` })
    const sweepDue = performance.now() + SWEEP_DELAY_SECONDS * 1000
    const pid = service.child.pid
    const neighbourUrl = `${service.base}/batches/${NEIGHBOUR_BATCH}`
    // The event loop's delay without the sweep, for comparison: idle (on a shared machine the
    // process also waits for a CPU), or serving the neighbour.
    let baseline = null
    await scrape(service.base)
    if (withNeighbour) {
      await cannon({ title: 'warm-up', url: neighbourUrl, headers: neighbour, duration: 1 })
      await scrape(service.base)
      baseline = await cannon({ title: 'neighbour before the sweep', url: neighbourUrl, headers: neighbour })
    } else await sleep(3000)
    const loopWithoutSweep = loopDelay(await scrape(service.base))
    if (performance.now() > sweepDue - 1000) throw new Error('the baseline ran into the sweep: raise STALL_SWEEP_INTERVAL')
    await sleep(sweepDue - 1000 - performance.now())
    const expected = expectedStalls(MAILBOXES)
    const before = await scrape(service.base)
    if ((before.get('sfr_stalls_found_total') ?? 0) !== 0) throw new Error('a sweep ran before the bracket')
    const windowStarted = performance.now()
    const cpuBefore = cpuMicros(pid)
    let running = null
    const during = withNeighbour
      ? cannon({ title: 'neighbour during the sweep', url: neighbourUrl, headers: neighbour, duration: 3600 }, (instance) => { running = instance })
      : null
    let firstStallAt = null
    let stalled = 0
    const deadline = performance.now() + 3_600_000
    while (stalled < expected) {
      if (performance.now() > deadline) throw new Error(`${label}: ${stalled} of ${expected} stalls after an hour`)
      await sleep(100)
      stalled = (await request('GET', `${service.base}/batches/${BATCH}`, AUTH)).mailboxesStalled
      if (stalled > 0 && firstStallAt === null) firstStallAt = performance.now()
    }
    const stalledAt = performance.now()
    running?.stop()
    const neighbourDuring = during === null ? null : await during
    const after = await scrape(service.base)
    const windowSeconds = (performance.now() - windowStarted) / 1000
    const cpuSeconds = (cpuMicros(pid) - cpuBefore) / 1e6
    // The sweep's own clock: the duration it reports once it has been through every batch.
    let samples = after
    while ((samples.get('sfr_stall_sweeps_total{result="swept"}') ?? 0) < 1) {
      await sleep(100)
      samples = await scrape(service.base)
    }
    const result = {
      scenario: label,
      mailboxes: MAILBOXES,
      stalled: expected,
      loadSeconds: round(loadSeconds),
      sweepSeconds: round(samples.get('sfr_stall_sweep_duration_seconds_sum'), 2),
      firstToLastStallSeconds: round((stalledAt - firstStallAt) / 1000, 2),
      windowSeconds: round(windowSeconds, 2),
      serviceCpuSeconds: round(cpuSeconds, 2),
      serviceCpuMicrosPerMailbox: withNeighbour ? undefined : round(cpuSeconds * 1e6 / MAILBOXES, 1),
      eventLoopDelayMs: loopDelay(after),
      eventLoopDelayWithoutSweepMs: { ...loopWithoutSweep, over: withNeighbour ? 'the neighbour\'s baseline run' : '3 s idle' },
      eventLoopTarget: `p99 < ${LOOP_DELAY_TARGET_MS} ms`,
      eventLoopMet: loopDelay(after).p99 < LOOP_DELAY_TARGET_MS,
      neighbour: withNeighbour
        ? {
            request: `GET /batches/${NEIGHBOUR_BATCH} (${NEIGHBOUR_MAILBOXES} mailboxes, another tenant), ${CONNECTIONS} connections`,
            before: { reqPerSec: round(baseline.reqPerSec), p50Ms: baseline.p50Ms, p99Ms: baseline.p99Ms },
            during: { reqPerSec: round(neighbourDuring.reqPerSec), p50Ms: neighbourDuring.p50Ms, p99Ms: neighbourDuring.p99Ms, seconds: neighbourDuring.seconds }
          }
        : undefined,
      load: loadAverage()
    }
    console.log(`${label}: sweep of ${MAILBOXES} mailboxes (${expected} stalled) took ${result.sweepSeconds} s, ` +
      `service CPU ${result.serviceCpuSeconds} s over the ${result.windowSeconds} s window; event-loop delay p99 ${result.eventLoopDelayMs.p99} ms, max ${result.eventLoopDelayMs.max} ms ` +
      `(without the sweep: p99 ${loopWithoutSweep.p99} ms, max ${loopWithoutSweep.max} ms)` +
      (withNeighbour ? `; neighbour p50/p99 ${baseline.p50Ms}/${baseline.p99Ms} ms before, ${neighbourDuring.p50Ms}/${neighbourDuring.p99Ms} ms during` : ''))
    return result
  } finally {
    if (service !== null) await stopChild(service.child)
    rmSync(dir, { recursive: true, force: true })
    await store.drop()
  }
}

/** The sweep of CHUNK_MAILBOXES stale mailboxes on a SQLite file in this process: every chunk timed. */
async function chunksInProcess (dir) {
  const { classifyEvent } = await import('../dist/src/domain/index.js')
  const { SqliteFailureRepository } = await import('../dist/src/repositories/sqlite.js')
  const { StallSweep, SWEEP_CHUNK } = await import('../dist/src/services/stall-sweep.js')
  const repository = SqliteFailureRepository.open(join(dir, 'chunks.db'))
  try {
    const now = Date.now()
    const events = Array.from({ length: CHUNK_MAILBOXES }, (_, m) => classifyEvent(sweepEvent(m, now)))
    for (let start = 0; start < events.length; start += BULK_SIZE) await repository.recordEvents('default', events.slice(start, start + BULK_SIZE), now)
    const sweepStalls = repository.sweepStalls.bind(repository)
    const wall = []
    const cpu = []
    repository.sweepStalls = async (...args) => {
      const started = performance.now()
      const cpuBefore = process.cpuUsage()
      const chunk = await sweepStalls(...args)
      wall.push(performance.now() - started)
      const used = process.cpuUsage(cpuBefore)
      cpu.push((used.user + used.system) / 1000)
      return chunk
    }
    await new StallSweep({ repository, clock: Date.now, stallAfterMs: 26 * HOUR }).runOnce()
    const percentiles = (values) => {
      const sorted = [...values].sort((a, b) => a - b)
      const at = (p) => round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))], 1)
      return { p50: at(0.5), p99: at(0.99), max: round(sorted[sorted.length - 1], 1) }
    }
    return { mailboxes: CHUNK_MAILBOXES, chunkMailboxes: SWEEP_CHUNK.sqlite, chunks: wall.length, wallMs: percentiles(wall), cpuMs: percentiles(cpu), load: loadAverage() }
  } finally {
    await repository.close()
  }
}

async function main () {
  const started = Date.now()
  const machine = machineInfo()
  const loadAtStart = loadAverage()
  const ceiling = await measureCeiling()
  console.log(`sweep bench: ${MAILBOXES} mailboxes; ${machine.nproc} x ${machine.cpu}, node ${machine.node}; ` +
    `hello-world ${round(ceiling.reqPerSec, 0)} req/s, p99 ${ceiling.p99Ms} ms; load average ${loadAtStart.join(' ')}`)
  const alone = await scenario(false)
  const neighbour = await scenario(true)
  const store = PG_URL === undefined ? 'sqlite' : 'postgres'
  let chunks
  if (store === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'sfr-sweep-chunks-'))
    try {
      chunks = await chunksInProcess(dir)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    console.log(`in process, no HTTP: ${chunks.chunks} chunks of ${chunks.chunkMailboxes} mailboxes: wall p50 ${chunks.wallMs.p50} ms, p99 ${chunks.wallMs.p99} ms, ` +
      `max ${chunks.wallMs.max} ms; CPU p50 ${chunks.cpuMs.p50} ms, p99 ${chunks.cpuMs.p99} ms, max ${chunks.cpuMs.max} ms`)
  }
  const file = writeResults(store === 'sqlite' ? '-sweep' : '-sweep-postgres', {
    settings: { store, load: `${loadAtStart.join(' ')} at start, ${loadAverage().join(' ')} at the end`, mailboxes: MAILBOXES, durationSeconds: DURATION, connections: CONNECTIONS, stallAfter: '26h' },
    ceiling: { reqPerSec: round(ceiling.reqPerSec), p50Ms: ceiling.p50Ms, p99Ms: ceiling.p99Ms },
    results: [alone, neighbour],
    chunksInProcess: chunks,
    totalSeconds: round((Date.now() - started) / 1000)
  })
  console.log(`written ${file} (${round((Date.now() - started) / 1000)} s in all)`)
}

await main()
