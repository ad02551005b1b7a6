// The local spool: every event is written here (atomically, fsynced) before it is sent, and stays
// until the service has acknowledged it. One file per run; refused events move to rejected/.
import { randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { ReportedEvent } from './reported-events.js'

export interface SpoolFile {
  name: string
  events: ReportedEvent[]
}

const SPOOL_FILE = /^[0-9]{13}-[0-9a-f]{16}\.json$/

/** The user's state directory (XDG_STATE_HOME on Linux, Application Support on macOS, LOCALAPPDATA on Windows). */
export function defaultSpoolDir (env: Record<string, string | undefined>, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'sfr-report', 'spool')
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'sfr-report', 'spool')
  const state = env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state')
  return join(state, 'sfr-report', 'spool')
}

/** Writes `content` to `dir/name` so that the file is either absent or complete, and durable. */
function writeDurably (dir: string, name: string, content: string): void {
  const temporary = join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`)
  const fd = openSync(temporary, 'w', 0o600)
  try {
    writeSync(fd, content)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(temporary, join(dir, name))
  syncDirectory(dir)
}

function syncDirectory (dir: string): void {
  // The rename is durable once the directory is; Windows cannot open a directory for that.
  if (process.platform === 'win32') return
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

export class Spool {
  readonly rejectedDir: string

  constructor (readonly dir: string) {
    this.rejectedDir = join(dir, 'rejected')
  }

  /** Adds the events of one run; returns the file's name. Names sort in the order runs were spooled. */
  add (events: readonly ReportedEvent[], now = Date.now()): string {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    const name = `${String(now).padStart(13, '0')}-${randomBytes(8).toString('hex')}.json`
    writeDurably(this.dir, name, JSON.stringify({ events }) + '\n')
    return name
  }

  /** What waits to be sent, oldest first. A file another run removed meanwhile is skipped. */
  pending (): SpoolFile[] {
    let names: string[]
    try {
      names = readdirSync(this.dir).filter((name) => SPOOL_FILE.test(name)).sort()
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw error
    }
    return names.flatMap((name) => {
      const events = this.read(name)
      return events === null ? [] : [{ name, events }]
    })
  }

  private read (name: string): ReportedEvent[] | null {
    let content: string
    try {
      content = readFileSync(join(this.dir, name), 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw error
    }
    let parsed: { events?: unknown }
    try {
      parsed = JSON.parse(content) as { events?: unknown }
    } catch {
      // Only an edit by hand makes a spool file unreadable (writes are atomic): set it aside.
      mkdirSync(this.rejectedDir, { recursive: true, mode: 0o700 })
      renameSync(join(this.dir, name), join(this.rejectedDir, `${name}.unreadable`))
      return null
    }
    return Array.isArray(parsed.events) ? parsed.events as ReportedEvent[] : []
  }

  /** Removes a file whose events the service has acknowledged. */
  remove (name: string): void {
    try {
      unlinkSync(join(this.dir, name))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }

  /** Keeps only `events` in a file (the others were refused); removes it when none is left. */
  replace (name: string, events: readonly ReportedEvent[]): void {
    if (events.length === 0) this.remove(name)
    else writeDurably(this.dir, name, JSON.stringify({ events }) + '\n')
  }

  /** Sets a refused event aside with the service's answer, for a person to look at. */
  reject (event: ReportedEvent, problem: unknown): string {
    mkdirSync(this.rejectedDir, { recursive: true, mode: 0o700 })
    const name = `${event.id}.json`
    writeDurably(this.rejectedDir, name, JSON.stringify({ event, problem }, null, 2) + '\n')
    return join(this.rejectedDir, name)
  }
}
