// npm run bench:streams: how cheap the live stream is. Starts the built service (SQLite in a
// temporary directory) as a child process, opens BENCH_STREAMS (5,000) event streams on one
// batch from this process, and reports (figures, not a pass/fail):
//   - the service's RSS growth for holding them (from /proc/<pid>/status, after a GC settles);
//   - fan-out latency: the time from POST /events answering to each stream receiving the change
//     (p50, p99, max over every stream), over BENCH_ROUNDS (5) events.
// The bar: under 300 MB of RSS growth and every stream within 2 s.
// Writes the figures to bench/results/<date>-<commit>-streams-<BENCH_STREAMS>.json too.
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request, Agent } from 'node:http'
import { createServer } from 'node:net'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const STREAMS = Number(process.env.BENCH_STREAMS ?? 5000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const KEY = 'sfr_' + 's'.repeat(43)
const HOST = '127.0.0.1'
// The machine's load average as the run starts: the figures mean little on a busy machine.
const LOAD_AT_START = readFileSync('/proc/loadavg', 'utf8').trim()

async function freePort () {
  return await new Promise((resolve) => {
    const server = createServer().listen(0, HOST, () => { const { port } = server.address(); server.close(() => resolve(port)) })
  })
}

function rssMb (pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(match[1]) / 1024
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function post (base, event) {
  const response = await fetch(`${base}/events`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(event) })
  if (!response.ok) throw new Error(`POST /events ${response.status}`)
}

function event (i) {
  return {
    id: `bench-${i}`,
    batchId: 'bench',
    mailbox: `user${i}@contoso.com`,
    occurredAt: new Date(Date.now() - 60_000).toISOString(),
    outcome: 'failed',
    failure: { code: '161', message: 'Host1 failure: Error login on [imap.contoso.com] with user [u] auth [LOGIN]: 2 NO [AUTHENTICATIONFAILED] Authentication failed.' }
  }
}

/** The run's figures as JSON beside `npm run bench`'s, with what they were measured on. */
function writeResult (figures) {
  let commit = 'unknown'
  try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim() } catch {}
  const date = new Date().toISOString()
  const machine = { nproc: cpus().length, cpu: cpus()[0]?.model, node: process.version }
  const file = join(ROOT, 'bench', 'results', `${date.slice(0, 10)}-${commit}-streams-${STREAMS}.json`)
  mkdirSync(dirname(file), { recursive: true })
  const settings = { store: 'sqlite', loadAtStart: LOAD_AT_START, streams: STREAMS, rounds: ROUNDS }
  writeFileSync(file, JSON.stringify({ date, commit, machine, settings, ...figures }, null, 2) + '\n')
  console.log(`written ${file}`)
}

const dir = mkdtempSync(join(tmpdir(), 'sfr-streams-'))
const port = await freePort()
const base = `http://${HOST}:${port}`
const child = spawn(process.execPath, ['--expose-gc', join(ROOT, 'dist', 'src', 'server.js')], {
  env: { ...process.env, HOST, PORT: String(port), DATABASE_URL: join(dir, 'bench.db'), BOOTSTRAP_ADMIN_KEY: KEY, LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '1000000', MAX_EVENT_LOOP_DELAY: '0' },
  stdio: ['ignore', 'inherit', 'inherit']
})
try {
  // Up to a minute: a loaded machine starts the service slowly.
  for (let i = 0; i < 600; i++) {
    try { if ((await fetch(`${base}/health/ready`)).ok) break } catch {}
    await sleep(100)
  }
  await post(base, event(0))
  await sleep(1000)
  const before = rssMb(child.pid)
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity })
  const received = [] // per round, the arrival times
  const streams = []
  let opened = 0
  for (let s = 0; s < STREAMS; s++) {
    streams.push(new Promise((resolve, reject) => {
      const req = request(`${base}/batches/bench/stream`, { agent, headers: { accept: 'text/event-stream', authorization: `Bearer ${KEY}` } }, (res) => {
        if (res.statusCode !== 200) { reject(new Error(`stream ${res.statusCode}`)); return }
        opened++
        res.setEncoding('utf8')
        res.on('data', (chunk) => {
          const now = performance.now()
          for (const match of chunk.matchAll(/data: .*"mailbox":"user(\d+)@/g)) {
            const round = Number(match[1])
            ;(received[round] ??= []).push(now)
          }
        })
        resolve(req)
      })
      req.on('error', reject)
      req.end()
    }))
    if (s % 200 === 199) { await Promise.all(streams.slice(-200)); if (process.env.BENCH_DEBUG) console.log('opened', opened) }
  }
  const requests = await Promise.all(streams)
  await sleep(2000)
  const held = rssMb(child.pid)
  const latencies = []
  const rounds = []
  for (let round = 1; round <= ROUNDS; round++) {
    const start = performance.now()
    await post(base, event(round))
    const posted = performance.now()
    while ((received[round]?.length ?? 0) < STREAMS && performance.now() - start < 30_000) await sleep(10)
    const arrivals = received[round] ?? []
    latencies.push(...arrivals.map((t) => t - posted))
    const lastMs = Math.round(Math.max(...arrivals) - posted)
    rounds.push({ round, streamsReached: arrivals.length, lastMs })
    console.log(`round ${round}: ${arrivals.length}/${STREAMS} streams got the change; last after ${lastMs} ms`)
    await sleep(500)
  }
  latencies.sort((a, b) => a - b)
  const pick = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(0)
  console.log(`streams open: ${opened}`)
  console.log(`service RSS: ${before.toFixed(0)} MB before, ${held.toFixed(0)} MB holding ${opened} streams: +${(held - before).toFixed(0)} MB (${((held - before) * 1024 / opened).toFixed(1)} KB a stream)`)
  console.log(`fan-out latency after POST /events answered: p50 ${pick(0.5)} ms, p99 ${pick(0.99)} ms, max ${latencies[latencies.length - 1].toFixed(0)} ms`)
  for (const req of requests) req.destroy()
  writeResult({
    streamsOpen: opened,
    rounds,
    // MiB, as /proc reports RSS (the bar is 300 MB; a MiB is 1.05 MB).
    rss: { beforeMiB: Math.round(before), heldMiB: Math.round(held), growthMiB: Math.round(held - before), perStreamKiB: Number(((held - before) * 1024 / opened).toFixed(1)), target: '< 300 MB', met: (held - before) * 1.048576 < 300 },
    fanOutMs: { p50: Number(pick(0.5)), p99: Number(pick(0.99)), max: Math.round(latencies[latencies.length - 1]), target: 'every stream < 2000 ms', met: rounds.every((r) => r.streamsReached === STREAMS && r.lastMs < 2000) }
  })
} finally {
  child.kill('SIGTERM')
  await new Promise((resolve) => child.once('exit', resolve))
  rmSync(dir, { recursive: true, force: true })
}
