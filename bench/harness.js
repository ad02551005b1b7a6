// What the benchmarks share: child servers on free loopback ports, the service on a fresh store
// (a SQLite file, or a PostgreSQL schema of its own), the service's CPU and memory from /proc,
// autocannon with the bench key, the machine and its load, and the results file.
import { spawn, execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import pg from 'pg'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
export const HOST = '127.0.0.1'
export const DURATION = intFromEnv('BENCH_DURATION', 10)
export const CONNECTIONS = intFromEnv('BENCH_CONNECTIONS', 10)
export const PG_URL = process.env.BENCH_DATABASE_URL === '' ? undefined : process.env.BENCH_DATABASE_URL
// The service creates this admin key for itself at start (BOOTSTRAP_ADMIN_KEY).
export const BENCH_KEY = 'sfr_' + 'k'.repeat(43)
export const AUTH = { authorization: `Bearer ${BENCH_KEY}` }

export function intFromEnv (name, fallback) {
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

export async function startChild (script, env, readyPath, nodeArgs = []) {
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

export async function stopChild (child) {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

/** The hello-world ceiling of this run: a bare Fastify route, measured like everything else. */
export async function measureCeiling () {
  const hello = await startChild(join(ROOT, 'bench', 'hello-world.js'), {}, '/')
  try {
    await cannon({ title: 'warm-up', url: hello.base + '/', duration: 2 })
    return await cannon({ title: 'hello', url: hello.base + '/' })
  } finally {
    await stopChild(hello.child)
  }
}

/** Peak and current resident set of a process, in MiB, from /proc. */
export function memoryOf (pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0)
  return { peakMiB: kib('VmHWM') / 1024, rssMiB: kib('VmRSS') / 1024 }
}

/** CPU time (user + system) a process has used so far, in microseconds, from /proc. */
export function cpuMicros (pid) {
  // Fields after the command name: utime and stime are the 12th and 13th, in clock ticks (100 Hz).
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

/** Runs `work` and adds the service's CPU time per unit of work (request or event) to its result. */
export async function withCpu (pid, work, units = (result) => result.requests) {
  const before = cpuMicros(pid)
  const result = await work()
  return { ...result, cpuMicrosPerUnit: (cpuMicros(pid) - before) / units(result) }
}

/**
 * Waits (up to `timeoutMs`) until the process used under a tenth of a CPU over half a second:
 * after a seed, the service's background followers of the change feed catch up, and a read
 * timed meanwhile would be charged their CPU. Returns the seconds waited.
 */
export async function settle (pid, timeoutMs = 120_000) {
  const started = performance.now()
  for (;;) {
    const before = cpuMicros(pid)
    await new Promise((resolve) => setTimeout(resolve, 500))
    if (cpuMicros(pid) - before < 50_000 || performance.now() - started > timeoutMs) return (performance.now() - started) / 1000
  }
}

/**
 * One autocannon run with the bench key (options.headers may replace it); throws on any error,
 * timeout or non-2xx. `started` is handed the running instance (its stop() ends the run early).
 */
export async function cannon (options, started = () => {}) {
  const instance = autocannon({ connections: CONNECTIONS, duration: DURATION, timeout: 120, ...options, headers: { ...AUTH, ...(options.headers ?? {}) } })
  started(instance)
  const result = await instance
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

/**
 * The median of `count` requests sent one at a time, in ms with microsecond resolution
 * (autocannon's percentiles are whole milliseconds, too coarse for a 5 ms target). It includes
 * the client's own fetch, about 0.2-0.5 ms here.
 */
export async function sequentialMedian (url, count = 200, headers = AUTH) {
  const times = []
  for (let i = 0; i < count; i++) {
    const started = performance.now()
    const response = await fetch(url, { headers })
    await response.arrayBuffer()
    if (response.status !== 200) throw new Error(`${url}: ${response.status}`)
    times.push(performance.now() - started)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]
}

export async function pgQuery (text) {
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

/**
 * A fresh store for the service: a file in `dir`, or (with BENCH_DATABASE_URL) a new PostgreSQL
 * schema. drop() removes the schema (the caller removes `dir`).
 */
export async function freshStore (dir, name = 'bench') {
  if (PG_URL === undefined) return { store: 'sqlite', schema: null, databaseUrl: join(dir, `${name}.db`), drop: async () => {} }
  const schema = `${name.replace(/[^a-z0-9_]/g, '_')}_${process.pid}_${Date.now()}`
  await pgQuery(`create schema "${schema}"`)
  return { store: 'postgres', schema, databaseUrl: withSearchPath(PG_URL, schema), drop: async () => { await pgQuery(`drop schema if exists "${schema}" cascade`) } }
}

/** The built service on `databaseUrl`, with the bench key, no rate limit and no load shedding. */
export async function startService (databaseUrl, env = {}, nodeArgs = []) {
  return await startChild(join(ROOT, 'dist', 'src', 'server.js'), {
    DATABASE_URL: databaseUrl,
    BOOTSTRAP_ADMIN_KEY: BENCH_KEY,
    RATE_LIMIT_MAX: '999999999',
    LOG_LEVEL: 'warn',
    // Load shedding off: on a shared machine a busy neighbour would turn measured requests into 503s.
    MAX_EVENT_LOOP_DELAY: '0',
    ...env
  }, '/health/ready', nodeArgs)
}

export function machine () {
  return {
    nproc: cpus().length,
    cpu: /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model,
    node: process.version
  }
}

/** The load averages (1, 5, 15 minutes) as `uptime` shows them. */
export function loadAverage () {
  return readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).map(Number)
}

export function gitCommit () {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
}

export function round (value, digits = 1) {
  return Math.round(value * 10 ** digits) / 10 ** digits
}

/** Writes bench/results/<date>-<commit><suffix>.json and returns its path. */
export function writeResults (suffix, content) {
  const commit = gitCommit()
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true })
  const file = join(ROOT, 'bench', 'results', `${new Date().toISOString().slice(0, 10)}-${commit}${suffix}.json`)
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), commit, machine: machine(), ...content }, null, 2) + '\n')
  return file
}
