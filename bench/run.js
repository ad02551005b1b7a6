// npm run bench: the built service against a bare Fastify hello-world (the ceiling) and a bare
// durable insert (bench/durable-insert.js: the least a durably acknowledged write costs here).
// The load generator (autocannon) runs in this process; each server runs in a child process.
// Sizes: BENCH_EVENTS (1,000,000), BENCH_MAILBOXES (100,000), BENCH_DURATION (seconds, 10),
// BENCH_CONNECTIONS (10), BENCH_BULK_CONNECTIONS (4), BENCH_SERVICE_NODE_ARGS,
// BENCH_DATABASE_URL (postgres://...: the service runs on PostgreSQL, in a schema of its own
// that is dropped afterwards; default SQLite), BENCH_KEEP_DB=1 keeps the database for inspection
// (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the service).
// Each timed run also reports the service's CPU time per request (per event for bulk), read
// from /proc; it varies less between runs than throughput on a shared machine. Last, the seed
// is written once more in this process without HTTP, to split an event's cost into domain and
// repository.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import pg from 'pg'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const HOST = '127.0.0.1'
const EVENTS = intFromEnv('BENCH_EVENTS', 1_000_000)
const MAILBOXES = intFromEnv('BENCH_MAILBOXES', 100_000)
const DURATION = intFromEnv('BENCH_DURATION', 10)
const CONNECTIONS = intFromEnv('BENCH_CONNECTIONS', 10)
const BULK_CONNECTIONS = intFromEnv('BENCH_BULK_CONNECTIONS', 4)
const SERVICE_NODE_ARGS = (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '')
const BULK_SIZE = 1000
const PG_URL = process.env.BENCH_DATABASE_URL === '' ? undefined : process.env.BENCH_DATABASE_URL
// The summaries are measured at this many mailboxes too, in the same run: their cost must not grow with the batch.
const SMALL_MAILBOXES = Math.max(1, Math.floor(MAILBOXES / 10))
// The service creates this admin key for itself at start (BOOTSTRAP_ADMIN_KEY).
const BENCH_KEY = 'sfr_' + 'k'.repeat(43)
const AUTH = { authorization: `Bearer ${BENCH_KEY}` }
const BATCH = 'bench-batch'
const BASE_TIME = Date.parse('2026-11-01T00:00:00Z')
const CATEGORIES = ['source_sign_in_failed', 'source_unreachable', 'cloud_mailbox_full', 'throttled', null]

function intFromEnv (name, fallback) {
  const value = process.env[name]
  if (value === undefined || value === '') return fallback
  const number = Number(value)
  if (!Number.isInteger(number) || number < 1) throw new Error(`${name} must be a positive integer, got "${value}"`)
  return number
}

async function freePort () {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, HOST, () => {
      const { port } = server.address()
      server.close(() => { resolve(port) })
    })
  })
}

async function waitForHttp (url, child, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`)
    try {
      const response = await fetch(url)
      await response.arrayBuffer()
      if (response.ok) return
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`)
}

async function startChild (script, env, readyPath, nodeArgs = []) {
  const port = await freePort()
  const child = spawn(process.execPath, [...nodeArgs, script], {
    cwd: ROOT,
    env: { ...process.env, HOST, PORT: String(port), ...env },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const base = `http://${HOST}:${port}`
  await waitForHttp(base + readyPath, child)
  return { child, base }
}

async function stopChild (child) {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

/** Peak and current resident set of a process, in MiB, from /proc. */
function memoryOf (pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0)
  return { peakMiB: kib('VmHWM') / 1024, rssMiB: kib('VmRSS') / 1024 }
}

/** CPU time (user + system) a process has used so far, in microseconds, from /proc. */
function cpuMicros (pid) {
  // Fields after the command name: utime and stime are the 12th and 13th, in clock ticks (100 Hz).
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

/** Runs `work` and adds the service's CPU time per unit of work (request or event) to its result. */
async function withCpu (pid, work, units = (result) => result.requests) {
  const before = cpuMicros(pid)
  const result = await work()
  return { ...result, cpuMicrosPerUnit: (cpuMicros(pid) - before) / units(result) }
}

async function cannon (options) {
  const result = await autocannon({ connections: CONNECTIONS, duration: DURATION, timeout: 120, ...options, headers: { ...AUTH, ...(options.headers ?? {}) } })
  const ok = result['2xx']
  if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0) {
    throw new Error(`${options.title}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx of ${result.requests.total} (${JSON.stringify(result.statusCodeStats)})`)
  }
  return {
    requests: ok,
    seconds: result.duration,
    reqPerSec: ok / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99
  }
}

// Event g of the seed: mailbox g mod MAILBOXES, round g div MAILBOXES. Every mailbox's
// events arrive in time order; some middle rounds sync (resolving, then reopening the
// failure), and the last round fails, so every mailbox ends with one open failure.
function seedEvent (g) {
  const m = g % MAILBOXES
  const round = Math.floor(g / MAILBOXES)
  const lastRound = Math.floor((EVENTS - 1) / MAILBOXES)
  const event = {
    id: `seed-${g}`,
    batchId: BATCH,
    mailbox: `user${m}@contoso.com`,
    occurredAt: new Date(BASE_TIME + round * 3_600_000 + m * 10).toISOString()
  }
  if (round < lastRound && (m + round) % 7 === 3) return { ...event, outcome: 'synced' }
  const category = CATEGORIES[m % CATEGORIES.length]
  return {
    ...event,
    outcome: 'failed',
    failure: category === null
      ? { code: '161', message: `Host1 failure: Error login on [imap.contoso.com] with user [user${m}] auth [LOGIN]: 2 NO [AUTHENTICATIONFAILED] Authentication failed.` }
      : { category, code: 'E' + (round % 10), message: `Sync of user${m} failed in round ${round}` },
    context: { engine: 'imapsync', migrationType: 'imap', server: 'imap.contoso.com', credentialMode: 'admin' }
  }
}

/** POST /events with a new single event each time, ids prefixed so that runs never collide. */
function singleEvents (prefix) {
  let single = 0
  return {
    method: 'POST',
    path: '/events',
    headers: { 'content-type': 'application/json', ...AUTH },
    setupRequest: (request) => {
      single += 1
      return {
        ...request,
        body: JSON.stringify({
          id: `${prefix}-${single}`,
          batchId: 'bench-single',
          mailbox: `single${single % MAILBOXES}@contoso.com`,
          occurredAt: new Date(BASE_TIME + single * 1000).toISOString(),
          outcome: 'failed',
          failure: { code: '161', message: 'Host1 failure: Error login on [imap.contoso.com] with user [alice] auth [LOGIN]: 2 NO [AUTHENTICATIONFAILED] Authentication failed.' },
          context: { engine: 'imapsync', migrationType: 'imap', server: 'imap.contoso.com', credentialMode: 'user' }
        })
      }
    }
  }
}

function bulkBody (start, end) {
  const events = []
  for (let g = start; g < end; g++) events.push(seedEvent(g))
  return JSON.stringify({ events })
}

/**
 * The seed's first `total` events, BULK_SIZE a request, over BULK_CONNECTIONS connections.
 * With `prebuilt`, every body is built before the clock starts: a server that takes a bulk in
 * a few milliseconds would otherwise be measured waiting for this process to build the next.
 */
async function bulkOfSeed (base, total = EVENTS, prebuilt = false, from = 0) {
  const bodies = []
  if (prebuilt) for (let start = 0; start < total; start += BULK_SIZE) bodies.push(bulkBody(start, Math.min(total, start + BULK_SIZE)))
  let next = from
  // Timed here: autocannon's own duration counts whole seconds, too coarse for a short run.
  const started = performance.now()
  const result = await cannon({
    title: 'bulk',
    url: base,
    connections: Math.min(BULK_CONNECTIONS, Math.ceil((total - from) / BULK_SIZE)),
    amount: Math.ceil((total - from) / BULK_SIZE),
    requests: [{
      method: 'POST',
      path: '/events/bulk',
      headers: { 'content-type': 'application/json', ...AUTH },
      setupRequest: (request) => {
        const start = next
        next = Math.min(total, next + BULK_SIZE)
        // autocannon may ask for one more request than `amount` at the very end: a retry of the first.
        if (start === next) return { ...request, body: bodies[0] ?? bulkBody(from, from + 1) }
        return { ...request, body: prebuilt ? bodies[start / BULK_SIZE] : bulkBody(start, next) }
      }
    }]
  })
  const seconds = (performance.now() - started) / 1000
  return { ...result, seconds, eventsPerSec: (next - from) / seconds, events: next - from }
}

/**
 * The bulk seed again without HTTP, in this process, on a fresh database: how much of an
 * event's cost is the domain (validation aside: classification and fingerprint) and how much
 * the repository's write (the group-commit path a bulk request takes, SQL included).
 */
async function seedInProcess (path) {
  const { classifyEvent } = await import('../dist/src/domain/index.js')
  const { SqliteFailureRepository } = await import('../dist/src/repositories/sqlite.js')
  const repository = SqliteFailureRepository.open(path)
  let domainNs = 0n
  let storeNs = 0n
  try {
    for (let start = 0; start < EVENTS; start += BULK_SIZE) {
      const inputs = []
      for (let g = start; g < Math.min(EVENTS, start + BULK_SIZE); g++) inputs.push(seedEvent(g))
      const classifyStart = process.hrtime.bigint()
      const classified = inputs.map(classifyEvent)
      const storeStart = process.hrtime.bigint()
      await repository.recordEvents('default', classified, Date.now())
      domainNs += storeStart - classifyStart
      storeNs += process.hrtime.bigint() - storeStart
    }
  } finally {
    await repository.close()
  }
  return { domainMicrosPerEvent: Number(domainNs) / 1000 / EVENTS, storeMicrosPerEvent: Number(storeNs) / 1000 / EVENTS }
}

/** Walks the report to about 90% of its length with big pages; returns the cursor there. */
async function deepCursor (base) {
  const stop = Math.floor(MAILBOXES * 0.9)
  let cursor = null
  let seen = 0
  while (seen < stop) {
    const query = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`
    const response = await fetch(`${base}/batches/${BATCH}/errors?limit=500${query}`, { headers: AUTH })
    const body = await response.json()
    if (response.status !== 200) throw new Error(`report page: ${response.status} ${JSON.stringify(body)}`)
    seen += body.items.length
    if (body.nextCursor === null) break
    cursor = body.nextCursor
  }
  return { cursor, depth: seen }
}

async function pgQuery (text) {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}

/** The URL with a search_path of `schema` (libpq's options parameter, which node-postgres reads). */
function withSearchPath (url, schema) {
  const parsed = new URL(url)
  parsed.searchParams.set('options', `-c search_path=${schema}`)
  return parsed.toString()
}

/** What a dashboard polls: GET /batches/:id, the report's first page and GET /batches, CONNECTIONS at once. */
async function summaryReads (base, pid, label) {
  const urls = { detail: `${base}/batches/${BATCH}`, firstPage: `${base}/batches/${BATCH}/errors`, list: `${base}/batches` }
  const results = {}
  for (const [name, url] of Object.entries(urls)) {
    await cannon({ title: 'warm-up', url, duration: 1 })
    results[name] = await withCpu(pid, async () => await cannon({ title: `${name} at ${label}`, url }))
    console.log(`${name} at ${label}: ${round(results[name].reqPerSec, 0)} req/s, p50 ${results[name].p50Ms} ms, p99 ${results[name].p99Ms} ms`)
  }
  return results
}

/** Rows of the summary reads at both sizes; the ratio column holds big p50 / small p50 (target <= 1.5). */
function summaryRows (small, big, p99Target) {
  const names = { detail: 'GET /batches/:id', firstPage: 'GET report, first page', list: 'GET /batches' }
  return Object.entries(names).flatMap(([key, name]) => [
    { name: `${name} at ${SMALL_MAILBOXES} mailboxes`, throughput: small[key].reqPerSec, unit: 'req/s', cpu: small[key].cpuMicrosPerUnit, p50: small[key].p50Ms, p99: small[key].p99Ms, target: '' },
    {
      name: `${name} at ${MAILBOXES} mailboxes`,
      throughput: big[key].reqPerSec,
      unit: 'req/s',
      cpu: big[key].cpuMicrosPerUnit,
      p50: big[key].p50Ms,
      p99: big[key].p99Ms,
      sizeRatio: big[key].cpuMicrosPerUnit / small[key].cpuMicrosPerUnit,
      target: `p99 < ${p99Target} ms, CPU/req <= 1.5x the small batch's`,
      met: big[key].p99Ms < p99Target && big[key].cpuMicrosPerUnit <= 1.5 * small[key].cpuMicrosPerUnit
    }
  ])
}

function gitCommit () {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
}

function round (value, digits = 1) {
  return Math.round(value * 10 ** digits) / 10 ** digits
}

async function main () {
  const started = Date.now()
  const machine = {
    nproc: cpus().length,
    cpu: /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model,
    node: process.version
  }
  console.log(`bench: ${EVENTS} events, ${MAILBOXES} mailboxes, ${DURATION} s a run, ${CONNECTIONS} connections; ${machine.nproc} x ${machine.cpu}, node ${machine.node}`)

  // 1. The ceiling.
  const hello = await startChild(join(ROOT, 'bench', 'hello-world.js'), {}, '/')
  await cannon({ title: 'warm-up', url: hello.base + '/', duration: 2 })
  const ceiling = await cannon({ title: 'hello', url: hello.base + '/' })
  console.log(`hello-world: ${round(ceiling.reqPerSec, 0)} req/s`)
  await stopChild(hello.child)

  // 2. What a durable single write costs at least: a bare route, the same durability, one row.
  const durable = await startChild(join(ROOT, 'bench', 'durable-insert.js'), {}, '/')
  const durableRequest = singleEvents('durable')
  await cannon({ title: 'warm-up', url: durable.base, duration: 2, requests: [durableRequest] })
  const durableInsert = await withCpu(durable.child.pid, async () => await cannon({ title: 'durable insert', url: durable.base, requests: [durableRequest] }))
  console.log(`durable insert (bare route, one row, fsynced group commit): ${round(durableInsert.reqPerSec, 0)} req/s`)
  const durableBulk = await withCpu(durable.child.pid, async () => await bulkOfSeed(durable.base, Math.min(EVENTS, 200_000), true), (result) => result.events)
  console.log(`durable bulk insert (bare route, one row an event): ${round(durableBulk.eventsPerSec, 0)} events/s`)
  await stopChild(durable.child)

  // 3. The service on a fresh SQLite file, or a fresh PostgreSQL schema.
  const dir = mkdtempSync(join(tmpdir(), 'sfr-bench-'))
  const pgSchema = PG_URL === undefined ? null : `bench_${process.pid}_${Date.now()}`
  if (pgSchema !== null) await pgQuery(`create schema "${pgSchema}"`)
  const databaseUrl = pgSchema === null ? join(dir, 'bench.db') : withSearchPath(PG_URL, pgSchema)
  const service = await startChild(join(ROOT, 'dist', 'src', 'server.js'), {
    DATABASE_URL: databaseUrl,
    BOOTSTRAP_ADMIN_KEY: BENCH_KEY,
    RATE_LIMIT_MAX: '999999999',
    LOG_LEVEL: 'warn',
    // Load shedding off: on a shared machine a busy neighbour would turn measured requests into 503s.
    MAX_EVENT_LOOP_DELAY: '0'
  }, '/health/ready', SERVICE_NODE_ARGS).catch(async (error) => {
    if (pgSchema !== null) await pgQuery(`drop schema if exists "${pgSchema}" cascade`)
    throw error
  })
  let peakRss = 0
  const poll = setInterval(() => { try { peakRss = Math.max(peakRss, memoryOf(service.child.pid).peakMiB) } catch {} }, 250)
  try {
    const seedStart = Date.now()
    // The first SMALL_MAILBOXES events are one event of each of that many mailboxes.
    const smallBulk = await withCpu(service.child.pid, async () => await bulkOfSeed(service.base, SMALL_MAILBOXES), (result) => result.events)
    const smallSummaries = await summaryReads(service.base, service.child.pid, `${SMALL_MAILBOXES} mailboxes`)
    const restBulk = await withCpu(service.child.pid, async () => await bulkOfSeed(service.base, EVENTS, false, SMALL_MAILBOXES), (result) => result.events)
    const bulk = { ...restBulk, events: smallBulk.events + restBulk.events, eventsPerSec: restBulk.eventsPerSec }
    console.log(`bulk (seed): ${bulk.events} events in ${round((Date.now() - seedStart) / 1000)} s, ${round(bulk.eventsPerSec, 0)} events/s after the first ${SMALL_MAILBOXES}`)
    const summaries = await summaryReads(service.base, service.child.pid, `${MAILBOXES} mailboxes`)

    const firstPageUrl = `${service.base}/batches/${BATCH}/errors`
    await cannon({ title: 'warm-up', url: firstPageUrl, duration: 2 })
    const firstPage = await withCpu(service.child.pid, async () => await cannon({ title: 'first page', url: firstPageUrl }))
    console.log(`report first page: ${round(firstPage.reqPerSec, 0)} req/s, p99 ${firstPage.p99Ms} ms`)

    const deep = await deepCursor(service.base)
    const deepPage = await withCpu(service.child.pid, async () => await cannon({ title: 'deep page', url: `${firstPageUrl}?cursor=${encodeURIComponent(deep.cursor)}` }))
    console.log(`report deep page (after ${deep.depth} failures): ${round(deepPage.reqPerSec, 0)} req/s, p99 ${deepPage.p99Ms} ms`)

    const singleRequest = singleEvents('single')
    await cannon({ title: 'warm-up', url: service.base, duration: 2, requests: [singleRequest] })
    const ingest = await withCpu(service.child.pid, async () => await cannon({ title: 'single', url: service.base, requests: [singleRequest] }))
    console.log(`single ingest: ${round(ingest.reqPerSec, 0)} req/s, p50 ${ingest.p50Ms} ms, p99 ${ingest.p99Ms} ms`)

    clearInterval(poll)
    peakRss = Math.max(peakRss, memoryOf(service.child.pid).peakMiB)
    await stopChild(service.child)
    const readTarget = pgSchema === null ? 10 : 20

    const layers = await seedInProcess(join(dir, 'layers.db'))
    console.log(`in process, no HTTP: classification + fingerprint ${round(layers.domainMicrosPerEvent)} us/event, ` +
      `repository write ${round(layers.storeMicrosPerEvent)} us/event (${round(1e6 / layers.storeMicrosPerEvent, 0)} events/s for the write alone)`)

    // Only requests compare with the ceiling's requests: events/s against req/s would mean nothing.
    const rows = [
      { name: 'hello-world GET / (ceiling)', throughput: ceiling.reqPerSec, unit: 'req/s', p50: ceiling.p50Ms, p99: ceiling.p99Ms, target: '' },
      { name: 'bare durable insert (reference)', throughput: durableInsert.reqPerSec, unit: 'req/s', cpu: durableInsert.cpuMicrosPerUnit, p50: durableInsert.p50Ms, p99: durableInsert.p99Ms, target: '' },
      { name: 'bare durable bulk insert (reference)', throughput: durableBulk.eventsPerSec, unit: 'events/s', cpu: durableBulk.cpuMicrosPerUnit, p50: durableBulk.p50Ms, p99: durableBulk.p99Ms, target: '' },
      { name: 'POST /events (single)', throughput: ingest.reqPerSec, unit: 'req/s', cpu: ingest.cpuMicrosPerUnit, p50: ingest.p50Ms, p99: ingest.p99Ms, vsReference: ingest.reqPerSec / durableInsert.reqPerSec, target: '>= 0.5x bare durable insert', met: ingest.reqPerSec >= 0.5 * durableInsert.reqPerSec },
      { name: `POST /events/bulk (${BULK_SIZE}/req)`, throughput: bulk.eventsPerSec, unit: 'events/s', cpu: bulk.cpuMicrosPerUnit, p50: bulk.p50Ms, p99: bulk.p99Ms, vsReference: bulk.eventsPerSec / durableBulk.eventsPerSec, target: '>= 0.3x bare durable bulk', met: bulk.eventsPerSec >= 0.3 * durableBulk.eventsPerSec },
      { name: 'GET report, first page', throughput: firstPage.reqPerSec, unit: 'req/s', cpu: firstPage.cpuMicrosPerUnit, p50: firstPage.p50Ms, p99: firstPage.p99Ms, target: 'p99 < 20 ms', met: firstPage.p99Ms < 20 },
      { name: `GET report, deep page (${deep.depth})`, throughput: deepPage.reqPerSec, unit: 'req/s', cpu: deepPage.cpuMicrosPerUnit, p50: deepPage.p50Ms, p99: deepPage.p99Ms, target: 'p99 < 20 ms', met: deepPage.p99Ms < 20 },
      ...summaryRows(smallSummaries, summaries, readTarget)
    ].map((row) => ({ ...row, ratio: row.unit === 'req/s' ? row.throughput / ceiling.reqPerSec : null }))
    // The target is in MB (10^6 bytes); /proc reports KiB.
    const peakMB = peakRss * 1.048576
    const rss = { peakMiB: round(peakRss), peakMB: round(peakMB), target: '< 250 MB', met: peakMB < 250 }

    console.log('')
    console.table(rows.map((row) => ({
      measure: row.name,
      throughput: `${round(row.throughput, 0)} ${row.unit}`,
      'x ceiling': row.ratio === null ? '' : round(row.ratio, 2),
      'x reference': row.vsReference === undefined ? '' : round(row.vsReference, 2),
      'CPU x small': row.sizeRatio === undefined ? '' : round(row.sizeRatio, 2),
      'p50 ms': row.p50,
      'p99 ms': row.p99,
      'service CPU us': row.cpu === undefined ? '' : round(row.cpu, 0),
      target: row.target,
      met: row.met === undefined ? '' : row.met ? 'yes' : 'NO'
    })))
    console.log(`peak RSS of the service: ${rss.peakMB} MB = ${rss.peakMiB} MiB (target < 250 MB: ${rss.met ? 'yes' : 'NO'})`)

    const commit = gitCommit()
    const date = new Date().toISOString().slice(0, 10)
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true })
    const file = join(ROOT, 'bench', 'results', `${date}-${commit}${pgSchema === null ? '' : '-postgres'}.json`)
    writeFileSync(file, JSON.stringify({
      date: new Date().toISOString(),
      commit,
      machine,
      settings: { store: pgSchema === null ? 'sqlite' : 'postgres', load: readFileSync('/proc/loadavg', 'utf8').trim(), events: EVENTS, mailboxes: MAILBOXES, durationSeconds: DURATION, connections: CONNECTIONS, bulkConnections: BULK_CONNECTIONS, bulkSize: BULK_SIZE },
      results: rows.map(({ name, throughput, unit, ratio, vsReference, p50, p99, cpu, sizeRatio, target, met }) => ({ name, throughput: round(throughput), unit, ratio: ratio === null ? null : round(ratio, 3), vsReference: vsReference === undefined ? undefined : round(vsReference, 3), p50Ms: p50, p99Ms: p99, serviceCpuMicrosPerUnit: cpu === undefined ? undefined : round(cpu), cpuVsSmallBatch: sizeRatio === undefined ? undefined : round(sizeRatio, 2), target, met })),
      peakRss: rss,
      inProcessMicrosPerEvent: { domain: round(layers.domainMicrosPerEvent), repositoryWrite: round(layers.storeMicrosPerEvent) },
      totalSeconds: round((Date.now() - started) / 1000)
    }, null, 2) + '\n')
    console.log(`written ${file} (${round((Date.now() - started) / 1000)} s in all)`)
  } finally {
    clearInterval(poll)
    await stopChild(service.child)
    if (process.env.BENCH_KEEP_DB === '1') console.log(`database kept in ${pgSchema ?? dir}`)
    else {
      rmSync(dir, { recursive: true, force: true })
      if (pgSchema !== null) await pgQuery(`drop schema if exists "${pgSchema}" cascade`)
    }
  }
}

await main()
