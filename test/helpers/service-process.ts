import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

// Runs the built service (dist/) as a real child process, as `npm start` would.

export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const SERVER_ENTRY = join(PACKAGE_ROOT, 'dist', 'src', 'server.js')

function newestMtime (dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs)
  }
  return newest
}

/** Compiles src/ to dist/ when dist is missing or older than a source file (a clean CI clone has none). */
export function ensureBuilt (): void {
  if (existsSync(SERVER_ENTRY) && statSync(SERVER_ENTRY).mtimeMs >= newestMtime(join(PACKAGE_ROOT, 'src'))) return
  const tsc = join(PACKAGE_ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  execFileSync(process.execPath, [tsc, '-p', join(PACKAGE_ROOT, 'tsconfig.build.json')], { cwd: PACKAGE_ROOT, stdio: 'inherit' })
}

export interface ServiceProcess {
  child: ChildProcess
  baseUrl: string
  /** Resolves once the process has exited, for whatever reason. */
  exited: Promise<void>
}

/** Starts the service on a free port and resolves when it listens (or rejects after timeoutMs). */
/** The admin key a service started here creates for itself (BOOTSTRAP_ADMIN_KEY). */
export const SERVICE_KEY = 'sfr_' + 's'.repeat(43)
export const AUTHORIZATION = { authorization: `Bearer ${SERVICE_KEY}` }

export async function startService (databasePath: string, timeoutMs = 20_000, env: Record<string, string> = {}): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [SERVER_ENTRY], {
    cwd: PACKAGE_ROOT,
    // Without tap's NODE_OPTIONS: the child runs plain dist/ JS, not instrumented for coverage.
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: databasePath,
      LOG_LEVEL: 'info',
      BOOTSTRAP_ADMIN_KEY: SERVICE_KEY,
      RATE_LIMIT_MAX: '1000000',
      // No load shedding: on a busy CI machine it turned the crash test's writes into 503s.
      MAX_EVENT_LOOP_DELAY: '0',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000) })
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`service did not listen within ${timeoutMs} ms: ${stderr}`)) }, timeoutMs)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`service exited with ${String(code)} before listening: ${stderr}`)) })
    // Fastify logs "Server listening at http://host:port" as JSON once the socket is bound.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:[0-9]+)"/.exec(line)
      if (match !== null) { clearTimeout(timer); resolve(match[1]) }
    })
  })
  return { child, baseUrl, exited }
}

/** SIGKILLs the process (no shutdown hooks run) and waits until it is gone. */
export async function killHard (service: ServiceProcess): Promise<void> {
  if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGKILL')
  await service.exited
}
