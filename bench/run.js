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
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  AUTH, CONNECTIONS, DURATION, ROOT, cannon, freshStore, intFromEnv, loadAverage, machine as machineInfo, measureCeiling,
  memoryOf, round, sequentialMedian, settle, startChild, startService, stopChild, withCpu, writeResults
} from './harness.js'

const EVENTS = intFromEnv('BENCH_EVENTS', 1_000_000)
const MAILBOXES = intFromEnv('BENCH_MAILBOXES', 100_000)
const BULK_CONNECTIONS = intFromEnv('BENCH_BULK_CONNECTIONS', 4)
const SERVICE_NODE_ARGS = (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '')
const BULK_SIZE = 1000
// The summaries are measured at this many mailboxes too, in the same run: their cost must not grow with the batch.
const SMALL_MAILBOXES = Math.max(1, Math.floor(MAILBOXES / 10))
const BATCH = 'bench-batch'
const BASE_TIME = Date.parse('2026-11-01T00:00:00Z')
const CATEGORIES = ['source_sign_in_failed', 'source_unreachable', 'cloud_mailbox_full', 'throttled', null]

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

/**
 * What a dashboard polls: GET /batches/:id, the report's first page and GET /batches, CONNECTIONS
 * at once (throughput, p50/p99, CPU), then one at a time (the median, to the microsecond).
 */
async function summaryReads (base, pid, label) {
  const urls = { detail: `${base}/batches/${BATCH}`, firstPage: `${base}/batches/${BATCH}/errors`, list: `${base}/batches` }
  const results = {}
  for (const [name, url] of Object.entries(urls)) {
    await cannon({ title: 'warm-up', url, duration: 1 })
    results[name] = await withCpu(pid, async () => await cannon({ title: `${name} at ${label}`, url }))
    results[name].medianMs = await sequentialMedian(url)
    console.log(`${name} at ${label}: ${round(results[name].reqPerSec, 0)} req/s, p50 ${results[name].p50Ms} ms, p99 ${results[name].p99Ms} ms; ` +
      `one at a time: median ${round(results[name].medianMs, 2)} ms`)
  }
  return results
}

/**
 * Rows of the summary reads at both sizes. Targets (issue 16): a median under 5 ms at full size
 * and within 1.5x of the small batch's; p99 under `p99Target` with 10 connections. The CPU per
 * request at full size over the small batch's ("CPU x small") is the steadier figure on a
 * shared machine.
 */
function summaryRows (small, big, p99Target) {
  const names = { detail: 'GET /batches/:id', firstPage: 'GET report, first page', list: 'GET /batches' }
  const row = (result, size) => ({ name: '', throughput: result.reqPerSec, unit: 'req/s', cpu: result.cpuMicrosPerUnit, p50: result.p50Ms, p99: result.p99Ms, median: result.medianMs, size })
  return Object.entries(names).flatMap(([key, name]) => [
    { ...row(small[key], SMALL_MAILBOXES), name: `${name} at ${SMALL_MAILBOXES} mailboxes`, target: '' },
    {
      ...row(big[key], MAILBOXES),
      name: `${name} at ${MAILBOXES} mailboxes`,
      sizeRatio: big[key].cpuMicrosPerUnit / small[key].cpuMicrosPerUnit,
      medianRatio: big[key].medianMs / small[key].medianMs,
      target: `median < 5 ms and <= 1.5x at ${SMALL_MAILBOXES}; p99 < ${p99Target} ms`,
      met: big[key].medianMs < 5 && big[key].medianMs <= 1.5 * small[key].medianMs && big[key].p99Ms < p99Target
    }
  ])
}

async function main () {
  const started = Date.now()
  const machine = machineInfo()
  const loadAtStart = loadAverage()
  console.log(`bench: ${EVENTS} events, ${MAILBOXES} mailboxes, ${DURATION} s a run, ${CONNECTIONS} connections; ${machine.nproc} x ${machine.cpu}, node ${machine.node}`)

  // 1. The ceiling.
  const ceiling = await measureCeiling()
  console.log(`hello-world: ${round(ceiling.reqPerSec, 0)} req/s, p99 ${ceiling.p99Ms} ms (load average ${loadAtStart.join(' ')})`)

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
  const store = await freshStore(dir)
  // The stall sweep's own cost is bench/sweep.js's: here it must not stall the seed (dated weeks
  // ago) in the middle of a timed read, so nothing is stale for it and it only walks the batches.
  const service = await startService(store.databaseUrl, { STALL_AFTER: '3650d' }, SERVICE_NODE_ARGS).catch(async (error) => {
    await store.drop()
    throw error
  })
  let peakRss = 0
  const poll = setInterval(() => { try { peakRss = Math.max(peakRss, memoryOf(service.child.pid).peakMiB) } catch {} }, 250)
  try {
    const seedStart = Date.now()
    // The first SMALL_MAILBOXES events are one event of each of that many mailboxes.
    const smallBulk = await withCpu(service.child.pid, async () => await bulkOfSeed(service.base, SMALL_MAILBOXES), (result) => result.events)
    console.log(`service settled ${round(await settle(service.child.pid))} s after the first ${SMALL_MAILBOXES} events`)
    const smallSummaries = await summaryReads(service.base, service.child.pid, `${SMALL_MAILBOXES} mailboxes`)
    const restBulk = await withCpu(service.child.pid, async () => await bulkOfSeed(service.base, EVENTS, false, SMALL_MAILBOXES), (result) => result.events)
    const bulk = { ...restBulk, events: smallBulk.events + restBulk.events, eventsPerSec: restBulk.eventsPerSec }
    console.log(`bulk (seed): ${bulk.events} events in ${round((Date.now() - seedStart) / 1000)} s, ${round(bulk.eventsPerSec, 0)} events/s after the first ${SMALL_MAILBOXES}`)
    console.log(`service settled ${round(await settle(service.child.pid))} s after the seed`)
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
    const readTarget = store.store === 'sqlite' ? 10 : 20

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
      { name: 'GET report, first page', throughput: firstPage.reqPerSec, unit: 'req/s', cpu: firstPage.cpuMicrosPerUnit, p50: firstPage.p50Ms, p99: firstPage.p99Ms, target: `p99 < ${readTarget} ms`, met: firstPage.p99Ms < readTarget },
      { name: `GET report, deep page (${deep.depth})`, throughput: deepPage.reqPerSec, unit: 'req/s', cpu: deepPage.cpuMicrosPerUnit, p50: deepPage.p50Ms, p99: deepPage.p99Ms, target: `p99 < ${readTarget} ms`, met: deepPage.p99Ms < readTarget },
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
      'median ms, 1 at a time': row.median === undefined ? '' : round(row.median, 2),
      'median x small': row.medianRatio === undefined ? '' : round(row.medianRatio, 2),
      'service CPU us': row.cpu === undefined ? '' : round(row.cpu, 0),
      target: row.target,
      met: row.met === undefined ? '' : row.met ? 'yes' : 'NO'
    })))
    console.log(`peak RSS of the service: ${rss.peakMB} MB = ${rss.peakMiB} MiB (target < 250 MB: ${rss.met ? 'yes' : 'NO'})`)

    const file = writeResults(store.store === 'sqlite' ? '' : '-postgres', {
      settings: { store: store.store, load: `${loadAtStart.join(' ')} at start, ${loadAverage().join(' ')} at the end`, events: EVENTS, mailboxes: MAILBOXES, durationSeconds: DURATION, connections: CONNECTIONS, bulkConnections: BULK_CONNECTIONS, bulkSize: BULK_SIZE },
      results: rows.map(({ name, throughput, unit, ratio, vsReference, p50, p99, median, cpu, sizeRatio, medianRatio, target, met }) => ({
        name,
        throughput: round(throughput),
        unit,
        ratio: ratio === null ? null : round(ratio, 3),
        vsReference: vsReference === undefined ? undefined : round(vsReference, 3),
        p50Ms: p50,
        p99Ms: p99,
        medianMsOneAtATime: median === undefined ? undefined : round(median, 3),
        serviceCpuMicrosPerUnit: cpu === undefined ? undefined : round(cpu),
        cpuVsSmallBatch: sizeRatio === undefined ? undefined : round(sizeRatio, 2),
        medianVsSmallBatch: medianRatio === undefined ? undefined : round(medianRatio, 2),
        target,
        met
      })),
      peakRss: rss,
      inProcessMicrosPerEvent: { domain: round(layers.domainMicrosPerEvent), repositoryWrite: round(layers.storeMicrosPerEvent) },
      totalSeconds: round((Date.now() - started) / 1000)
    })
    console.log(`written ${file} (${round((Date.now() - started) / 1000)} s in all)`)
  } finally {
    clearInterval(poll)
    await stopChild(service.child)
    if (process.env.BENCH_KEEP_DB === '1') console.log(`database kept in ${store.schema ?? dir}`)
    else {
      rmSync(dir, { recursive: true, force: true })
      await store.drop()
    }
  }
}

await main()
