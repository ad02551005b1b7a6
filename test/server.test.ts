import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'

// The process entry, run as operators run it, through the same TypeScript loader as the tests.
const loader = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript'))
const entry = new URL('../src/server.ts', import.meta.url).pathname

const SERVICE_VARIABLES = [
  'HOST', 'PORT', 'DATABASE_URL', 'LOG_LEVEL', 'STALL_AFTER', 'MAX_CLOCK_SKEW', 'SHUTDOWN_GRACE', 'BOOTSTRAP_ADMIN_KEY',
  'RATE_LIMIT_MAX', 'RATE_LIMIT_WINDOW', 'REQUEST_TIMEOUT', 'MAX_EVENT_LOOP_DELAY', 'MAX_EVENT_LOOP_UTILIZATION'
]
const BOOTSTRAP_KEY = 'sfr_' + 'b'.repeat(43)

function withoutServiceVariables (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !SERVICE_VARIABLES.includes(key)))
}

function start (env: Record<string, string>, cwd?: string): ChildProcess {
  return spawn(process.execPath, [...loader, entry], {
    cwd,
    // Inherit the loader's settings (TS_NODE_TRANSPILE_ONLY), not the service's own variables.
    env: { ...withoutServiceVariables(process.env), ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
}

async function exitOf (child: ChildProcess): Promise<{ code: number | null, stderr: string, stdout: string }> {
  let stderr = ''
  let stdout = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  child.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  return await new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr, stdout })))
}

async function listeningUrl (child: ChildProcess): Promise<string> {
  return await new Promise((resolve, reject) => {
    let buffered = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(buffered)
      if (match !== null) resolve(match[1])
    })
    child.on('exit', (code) => reject(new Error(`exited with ${String(code)} before listening: ${buffered}`)))
  })
}

t.test('bad configuration stops the process with a clear message and a non-zero exit', async (t) => {
  const { code, stderr } = await exitOf(start({ PORT: 'eighty', STALL_AFTER: 'later' }))
  t.equal(code, 1)
  t.match(stderr, /sync-failure-reports: invalid configuration: .*PORT.*STALL_AFTER/)
})

t.test('the service starts on a SQLite file, serves, and shuts down cleanly on SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sfr-server-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // The TypeScript loader compiles for seconds at start: the event-loop check would answer 503.
  const child = start({ PORT: '0', DATABASE_URL: join(dir, 'reports.db'), LOG_LEVEL: 'info', BOOTSTRAP_ADMIN_KEY: BOOTSTRAP_KEY, MAX_EVENT_LOOP_UTILIZATION: '0', MAX_EVENT_LOOP_DELAY: '0' })
  const exited = exitOf(child)
  const url = await listeningUrl(child)
  const posted = await fetch(`${url}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${BOOTSTRAP_KEY}` },
    body: JSON.stringify({ id: 'srv-1', batchId: 'b1', mailbox: 'a@contoso.com', occurredAt: '2026-11-23T10:00:00Z', outcome: 'synced' })
  })
  t.equal(posted.status, 201)
  t.equal((await fetch(`${url}/health/ready`)).status, 200)
  child.kill('SIGTERM')
  const { code, stdout } = await exited
  t.equal(code, 0)
  t.match(stdout, /shutting down/)
})

t.test('.env in the working directory is read at start, and the real environment wins over it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sfr-dotenv-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, '.env'), `# a comment\nSTALL_AFTER=whenever\nPORT=eighty\nDATABASE_URL="${join(dir, 'reports.db')}"\n`)
  const refused = await exitOf(start({}, dir))
  t.equal(refused.code, 1)
  t.match(refused.stderr, /PORT.*STALL_AFTER|STALL_AFTER.*PORT/)
  // The environment's values win; .env still gives the database path.
  writeFileSync(join(dir, '.env'), `PORT=eighty\nLOG_LEVEL=info\nMAX_EVENT_LOOP_DELAY=0\nDATABASE_URL=${join(dir, 'reports.db')}\nBOOTSTRAP_ADMIN_KEY=${BOOTSTRAP_KEY}\n`)
  const child = start({ PORT: '0' }, dir)
  const exited = exitOf(child)
  const url = await listeningUrl(child)
  t.equal((await fetch(`${url}/health/ready`)).status, 200)
  t.equal((await fetch(`${url}/batches`, { headers: { authorization: `Bearer ${BOOTSTRAP_KEY}` } })).status, 200)
  child.kill('SIGTERM')
  t.equal((await exited).code, 0)
  t.ok(existsSync(join(dir, 'reports.db')))
})
