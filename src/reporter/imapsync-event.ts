// One imapsync run -> one event: synced on exit 0, otherwise failed with the exit status as code
// and the line that explains it as message.
import type { ImapsyncArguments } from './imapsync-arguments.js'
import { maskSecrets, readImapsyncArguments } from './imapsync-arguments.js'
import type { ImapsyncRun } from './imapsync-log.js'
import { boundedMessage, deterministicEventId, isMailAddress, ReportInputError, type ReportedEvent } from './reported-events.js'

export interface ImapsyncRunReport {
  batchId: string
  /** --mailbox; else user1 when it is an address. */
  mailbox?: string
  /** The wrapper's own knowledge of the run, used where the output lacks it. */
  exitStatus?: number
  /** How the process ended when a signal ended it (SIGKILL, ...). */
  signal?: string
  pid?: string
  startedAt?: Date
  endedAt?: Date
  /** The command-line arguments as run (the wrapper's), else those the log names. */
  args?: readonly string[]
}

/** The mailbox a run is about, or a usage error that says how to give one. */
export function imapsyncMailbox (explicit: string | undefined, args: ImapsyncArguments, where: string): string {
  if (explicit !== undefined) {
    if (!isMailAddress(explicit)) throw new ReportInputError(`--mailbox "${explicit}" is not an e-mail address`)
    return explicit.toLowerCase()
  }
  if (args.user1 !== null && isMailAddress(args.user1)) return args.user1.toLowerCase()
  throw new ReportInputError(`${where}: --user1 ${args.user1 === null ? 'is missing' : `"${args.user1}" is not an e-mail address`}; ` +
    'give the migrated mailbox with --mailbox ADDR')
}

export function imapsyncEvent (run: ImapsyncRun, report: ImapsyncRunReport, where: string): ReportedEvent {
  const args = readImapsyncArguments(report.args ?? run.commandLine ?? [])
  const mailbox = imapsyncMailbox(report.mailbox, args, where)
  const exitStatus = report.exitStatus ?? run.exitStatus
  const startedAt = run.startedAt ?? report.startedAt
  const occurredAt = run.endedAt ?? startedAt ?? report.endedAt
  if (occurredAt === undefined || (exitStatus === null && report.signal === undefined)) {
    throw new ReportInputError(`${where}: not a finished imapsync run (no "Transfer started" or "Exiting with return value" line)`)
  }
  const id = deterministicEventId('imapsync', [
    report.batchId, mailbox, run.pid ?? report.pid ?? null, run.startedText ?? startedAt?.toISOString() ?? null
  ])
  const base = { id, batchId: report.batchId, mailbox, occurredAt: occurredAt.toISOString() }
  if (exitStatus === 0) return { ...base, outcome: 'synced' }
  const code = report.signal ?? String(exitStatus)
  const explaining = run.explainingLine ??
    (report.signal === undefined ? run.exitLine ?? run.lastLine ?? `imapsync exited with status ${code}` : `imapsync was ended by ${report.signal}`)
  return {
    ...base,
    outcome: 'failed',
    failure: { code, message: boundedMessage(maskSecrets(explaining, args.secrets)) },
    context: {
      engine: 'imapsync',
      migrationType: 'imap',
      ...(args.host1 !== null && /^\S{1,255}$/.test(args.host1) ? { server: args.host1 } : {}),
      credentialMode: args.authuser1 !== null || args.proxyauth1 || /using proxy-login as/.test(explaining) ? 'admin' : 'user'
    }
  }
}
