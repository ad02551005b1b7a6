// sfr-report: posts the outcomes of imapsync runs and Exchange Online migration exports to the
// service, through a local spool (see README, "Connect your engine").
import { spawn } from 'node:child_process'
import { createReadStream, readFileSync, statSync } from 'node:fs'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { flushSpool, type FlushResult } from './delivery.js'
import { exchangeEvents, exportRecords, type ExchangeReport } from './exchange-export.js'
import { exportTimeZone, ExportDateError } from './export-dates.js'
import { readImapsyncArguments } from './imapsync-arguments.js'
import { imapsyncEvent, imapsyncMailbox } from './imapsync-event.js'
import { ImapsyncLogReader } from './imapsync-log.js'
import { BATCH_ID, ReportInputError, type ReportedEvent } from './reported-events.js'
import { readSettings, type ReporterSettings } from './settings.js'
import { Spool } from './spool.js'

export const EXIT = { sent: 0, usage: 2, refused: 3, spooled: 4 } as const

const COMMON_HELP = `Options of every command:
  --url URL          the service's base URL (default: SFR_URL)
  --api-key KEY      an API key with the events:write scope (default: SFR_API_KEY; prefer the
                     variable: other users of the machine can read command lines)
  --spool-dir DIR    where events wait until the service has them (default: SFR_SPOOL_DIR, else
                     sfr-report/spool in the user's state directory)
  -h, --help         this help

Exit status: 0 sent (or nothing to send), 2 usage or unreadable input (nothing sent),
3 the service refused events (set aside under <spool>/rejected) or the request,
4 the service is unreachable: the events wait in the spool for "sfr-report flush" or the next run.`

const HELP: Record<string, string> = {
  main: `usage: sfr-report <command> [options]

Reports mail-migration sync outcomes to sync-failure-reports.

Commands:
  imapsync       run imapsync and report how the run ended
  imapsync-log   report runs of imapsync from their log files
  exchange       report a Get-MigrationUserStatistics export of Exchange Online (JSON or CSV)
  flush          send the events waiting in the spool

"sfr-report <command> --help" describes each.

${COMMON_HELP}`,
  imapsync: `usage: sfr-report imapsync --batch ID [--mailbox ADDR] [options] -- <imapsync arguments>

Runs imapsync (the IMAPSYNC variable, else imapsync on PATH) with the arguments after "--",
passes its output through unchanged, and when it ends reports one event: synced on exit 0,
otherwise failed with the exit status as code and the error line imapsync's "most frequent
error" names as message. The exit status is imapsync's. Passwords are never reported.

  --batch ID       the migration batch (1-128 of A-Za-z0-9._:-), required
  --mailbox ADDR   the migrated mailbox (default: --user1 when it is an e-mail address)

${COMMON_HELP}`,
  'imapsync-log': `usage: sfr-report imapsync-log --batch ID [--mailbox ADDR] [options] FILE...

Reports one event per imapsync log (e.g. LOG_imapsync/*.txt), at the time the log gives.
Reading a log again is a duplicate, not a second failure. Logs of runs that have not ended
yet are skipped.

  --batch ID       the migration batch (1-128 of A-Za-z0-9._:-), required
  --mailbox ADDR   the migrated mailbox (default: the log's --user1 when it is an e-mail address)

${COMMON_HELP}`,
  exchange: `usage: sfr-report exchange [--batch ID] [--date-format F] [--time-zone Z] [options] FILE...

Reports "Get-MigrationUser | Get-MigrationUserStatistics" output saved with ConvertTo-Json
(Windows PowerShell 5.1 or PowerShell 7) or Export-Csv (with or without the #TYPE line):
one event per user in a failed or synced state, plus an items_skipped failure for a user
with skipped items. Reading an export again is a duplicate, not a second failure.

  --batch ID          the batch to report under (default: each record's BatchId)
  --date-format F     the culture's date form of a CSV, in .NET notation, e.g. "dd/MM/yyyy HH:mm:ss"
                      (PowerShell shows it: (Get-Culture).DateTimeFormat.ShortDatePattern + ' ' +
                      (Get-Culture).DateTimeFormat.LongTimePattern); en-US, dotted day-first
                      (de-DE, de-AT, ...) and ISO forms are read without it
  --time-zone Z       the zone of dates written without one (IANA name, UTC, UTC+2); default local
  --exported-at TIME  when the export was taken, for failures without a time of their own
                      (RFC 3339; default: the file's modification time)

${COMMON_HELP}`,
  flush: `usage: sfr-report flush [options]

Sends the events waiting in the spool (every other command does this too).

${COMMON_HELP}`
}

export interface ReporterIo {
  env: Record<string, string | undefined>
  stdout: Writable
  stderr: Writable
}

/** How the reporter ends: an exit status, or (the imapsync wrapper) the signal that ended imapsync. */
export interface ReporterOutcome {
  status: number
  signal?: NodeJS.Signals
}

const COMMON_OPTIONS = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  'spool-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' }
} as const satisfies ParseArgsConfig['options']

function parse<O extends NonNullable<ParseArgsConfig['options']>> (args: string[], options: O, command: string) {
  try {
    return parseArgs({ args, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true })
  } catch (error) {
    throw new ReportInputError(`${(error as Error).message}\n\n${HELP[command]}`)
  }
}

function batchOption (value: string | undefined, required: boolean): string | undefined {
  if (value === undefined) {
    if (required) throw new ReportInputError('--batch ID is required (the migration batch the runs belong to)')
    return undefined
  }
  if (!BATCH_ID.test(value)) throw new ReportInputError(`--batch "${value}" is not 1-128 of A-Za-z0-9._:-`)
  return value
}

function say (io: ReporterIo, line: string): void {
  io.stderr.write(`sfr-report: ${line}\n`)
}

function plural (count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`
}

/** Spools the events (if any), sends everything waiting, and says what happened. */
async function deliver (io: ReporterIo, settings: ReporterSettings, events: readonly ReportedEvent[]): Promise<number> {
  const spool = new Spool(settings.spoolDir)
  if (events.length > 0) spool.add(events)
  const result = await flushSpool(spool, settings)
  return summarise(io, settings, result)
}

function summarise (io: ReporterIo, settings: ReporterSettings, result: FlushResult): number {
  const sent = result.stored + result.duplicates
  if (sent > 0) say(io, `sent ${plural(sent, 'event')} (${result.stored} new, ${result.duplicates} already known)`)
  for (const rejected of result.rejected) {
    say(io, `the service refused event ${rejected.id}: ${rejected.reason}; set aside in ${rejected.path}`)
  }
  const waiting = `${plural(result.waiting, 'event')} wait${result.waiting === 1 ? 's' : ''} in ${settings.spoolDir}`
  if (result.refused !== null) {
    say(io, `the service refused the request (${result.refused}): ${waiting}; fix the URL or API key, then run "sfr-report flush"`)
    return EXIT.refused
  }
  if (result.unreachable !== null) {
    say(io, `the service is unreachable (${result.unreachable}): ${waiting}; "sfr-report flush" or the next run sends them`)
    return result.rejected.length > 0 ? EXIT.refused : EXIT.spooled
  }
  if (sent === 0 && result.rejected.length === 0) say(io, 'nothing to send')
  return result.rejected.length > 0 ? EXIT.refused : EXIT.sent
}

async function readLog (file: string): Promise<ImapsyncLogReader> {
  const reader = new ImapsyncLogReader()
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity })
  for await (const line of lines) reader.line(line)
  return reader
}

async function imapsyncLogCommand (io: ReporterIo, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { batch: { type: 'string' }, mailbox: { type: 'string' } }, 'imapsync-log')
  if (values.help === true) { io.stdout.write(HELP['imapsync-log'] + '\n'); return EXIT.sent }
  const settings = readSettings(values, io.env)
  const batchId = batchOption(values.batch, true)!
  if (positionals.length === 0) throw new ReportInputError(`no log FILE given\n\n${HELP['imapsync-log']}`)
  const events: ReportedEvent[] = []
  for (const file of positionals) {
    let reader: ImapsyncLogReader
    try {
      reader = await readLog(file)
    } catch (error) {
      throw new ReportInputError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
    }
    const run = reader.result()
    if (run.exitStatus === null) {
      say(io, `${file}: skipped, the run has not ended (no "Exiting with return value" line)`)
      continue
    }
    events.push(imapsyncEvent(run, { batchId, mailbox: values.mailbox }, file))
  }
  return await deliver(io, settings, events)
}

async function exchangeCommand (io: ReporterIo, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    batch: { type: 'string' }, 'date-format': { type: 'string' }, 'time-zone': { type: 'string' }, 'exported-at': { type: 'string' }
  }, 'exchange')
  if (values.help === true) { io.stdout.write(HELP.exchange + '\n'); return EXIT.sent }
  const settings = readSettings(values, io.env)
  const batchId = batchOption(values.batch, false)
  if (positionals.length === 0) throw new ReportInputError(`no export FILE given\n\n${HELP.exchange}`)
  let timeZone: string
  try {
    timeZone = exportTimeZone(values['time-zone'])
  } catch (error) {
    throw new ReportInputError((error as ExportDateError).message)
  }
  const exportedAtFlag = values['exported-at']
  if (exportedAtFlag !== undefined && (!/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:\d{2})$/i.test(exportedAtFlag) || Number.isNaN(Date.parse(exportedAtFlag)))) {
    throw new ReportInputError(`--exported-at "${exportedAtFlag}" is not an RFC 3339 time (e.g. 2026-11-23T10:00:00Z)`)
  }
  const events: ReportedEvent[] = []
  for (const file of positionals) {
    let bytes: Buffer
    let modifiedAt: Date
    try {
      bytes = readFileSync(file)
      modifiedAt = statSync(file).mtime
    } catch (error) {
      throw new ReportInputError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
    }
    let report: ExchangeReport
    try {
      report = exchangeEvents(exportRecords(bytes), {
        batchId,
        dateFormat: values['date-format'],
        timeZone,
        // Whole seconds: a copy of the file (cp -p, a download) keeps the same time.
        exportedAt: exportedAtFlag === undefined ? new Date(Math.floor(modifiedAt.getTime() / 1000) * 1000) : new Date(exportedAtFlag)
      })
    } catch (error) {
      if (error instanceof ReportInputError) throw new ReportInputError(`${file}: ${error.message.replace(/\n/g, `\n${file}: `)}`)
      throw error
    }
    const others = Object.entries(report.notReported).map(([status, count]) => `${status} ${count}`).join(', ')
    say(io, `${file}: ${plural(report.users, 'user')}: ${report.failed} failed, ${report.synced} synced, ` +
      `${report.itemsSkipped} with skipped items${others === '' ? '' : `; not reported (neither failed nor synced): ${others}`}`)
    events.push(...report.events)
  }
  return await deliver(io, settings, events)
}

async function flushCommand (io: ReporterIo, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {}, 'flush')
  if (values.help === true) { io.stdout.write(HELP.flush + '\n'); return EXIT.sent }
  if (positionals.length > 0) throw new ReportInputError(`flush takes no arguments\n\n${HELP.flush}`)
  return await deliver(io, readSettings(values, io.env), [])
}

/** Forwards imapsync's bytes unchanged and feeds its lines to the log reader. */
function tee (from: Readable, to: Writable, reader: ImapsyncLogReader): Promise<void> {
  const decoder = new TextDecoder('utf-8')
  let partial = ''
  // A reader of our output that goes away (| head) must not stop imapsync or its report.
  const broken = (): void => { from.unpipe(to) }
  to.on('error', broken)
  from.pipe(to, { end: false })
  from.on('data', (chunk: Buffer) => {
    const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) reader.line(line)
  })
  return new Promise((resolve) => {
    from.once('close', () => {
      const rest = partial + decoder.decode()
      if (rest !== '') reader.line(rest)
      to.off('error', broken)
      resolve()
    })
  })
}

async function imapsyncCommand (io: ReporterIo, args: string[]): Promise<ReporterOutcome> {
  const separator = args.indexOf('--')
  const ours = separator < 0 ? args : args.slice(0, separator)
  const { values, positionals } = parse(ours, { batch: { type: 'string' }, mailbox: { type: 'string' } }, 'imapsync')
  if (values.help === true) { io.stdout.write(HELP.imapsync + '\n'); return { status: EXIT.sent } }
  if (separator < 0 || positionals.length > 0) {
    throw new ReportInputError(`put imapsync's arguments after "--"\n\n${HELP.imapsync}`)
  }
  const imapsyncArgs = args.slice(separator + 1)
  const settings = readSettings(values, io.env)
  const batchId = batchOption(values.batch, true)!
  // Refuse before the sync runs rather than run a sync nobody hears of.
  imapsyncMailbox(values.mailbox, readImapsyncArguments(imapsyncArgs), 'imapsync arguments')
  const command = io.env.IMAPSYNC === undefined || io.env.IMAPSYNC === '' ? 'imapsync' : io.env.IMAPSYNC

  const reader = new ImapsyncLogReader()
  const startedAt = new Date()
  const child = spawn(command, imapsyncArgs, { stdio: ['inherit', 'pipe', 'pipe'], env: io.env })
  // A terminal's Ctrl-C reaches imapsync itself; a SIGTERM or SIGHUP sent to the wrapper is passed on.
  const forward = (signal: NodeJS.Signals): void => { child.kill(signal) }
  const ignore = (): void => {}
  process.on('SIGTERM', forward).on('SIGHUP', forward).on('SIGINT', ignore)
  let ended: { code: number | null, signal: NodeJS.Signals | null } | Error
  try {
    const streams = Promise.all([tee(child.stdout, io.stdout, reader), tee(child.stderr, io.stderr, reader)])
    ended = await new Promise((resolve) => {
      child.once('error', resolve)
      child.once('exit', (code, signal) => { resolve({ code, signal }) })
    })
    if (!(ended instanceof Error)) await streams
  } finally {
    process.off('SIGTERM', forward).off('SIGHUP', forward).off('SIGINT', ignore)
  }
  if (ended instanceof Error) {
    const code = (ended as NodeJS.ErrnoException).code
    throw new ReportInputError(code === 'ENOENT'
      ? `cannot run imapsync: "${command}" was not found (install imapsync, or set IMAPSYNC to its path)`
      : `cannot run imapsync ("${command}"): ${code ?? ended.message}`)
  }
  const event = imapsyncEvent(reader.result(), {
    batchId,
    mailbox: values.mailbox,
    args: imapsyncArgs,
    ...(ended.code === null ? {} : { exitStatus: ended.code }),
    ...(ended.signal === null ? {} : { signal: ended.signal }),
    pid: child.pid === undefined ? undefined : String(child.pid),
    startedAt,
    endedAt: new Date()
  }, 'imapsync output')
  await deliver(io, settings, [event])
  return ended.signal === null ? { status: ended.code ?? 1 } : { status: 1, signal: ended.signal }
}

/** Runs one sfr-report command line; never throws for bad input (exit status 2). */
export async function runReporter (argv: readonly string[], io: ReporterIo): Promise<ReporterOutcome> {
  const [command, ...args] = argv
  try {
    switch (command) {
      case 'imapsync': return await imapsyncCommand(io, args)
      case 'imapsync-log': return { status: await imapsyncLogCommand(io, args) }
      case 'exchange': return { status: await exchangeCommand(io, args) }
      case 'flush': return { status: await flushCommand(io, args) }
      case '-h': case '--help': case 'help':
        io.stdout.write(HELP.main + '\n')
        return { status: EXIT.sent }
      default:
        throw new ReportInputError(`${command === undefined ? 'no command given' : `unknown command "${command}"`}\n\n${HELP.main}`)
    }
  } catch (error) {
    if (!(error instanceof ReportInputError)) throw error
    io.stderr.write(`sfr-report: ${error.message}\n`)
    return { status: EXIT.usage }
  }
}

export async function main (): Promise<void> {
  const outcome = await runReporter(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr })
  if (outcome.signal !== undefined) {
    // End the way imapsync ended, so that a shell or cron sees the same signal.
    process.removeAllListeners(outcome.signal)
    process.kill(process.pid, outcome.signal)
    return
  }
  process.exitCode = outcome.status
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main()
