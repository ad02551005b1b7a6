// Reads imapsync's output (a log file or the live output of a run) into the outcome of one run.
// Pure: lines in, a summary out. The line formats and error types are imapsync 2.229's
// (see shared/reference/imapsync-exit-codes-and-log-lines.md).

/** imapsync's `sub error_type`: the first regex that matches names the type, checked in this order. */
const ERROR_TYPES: ReadonlyArray<readonly [RegExp, string]> = [
  [/Host1 failure: Error login on/, 'ERR_AUTHENTICATION_FAILURE_USER1'],
  [/Host2 failure: Error login on/, 'ERR_AUTHENTICATION_FAILURE_USER2'],
  [/Host. failure: Can not go to tls encryption on host./, 'ERR_EXIT_TLS_FAILURE'],
  [/could not be fetched:/, 'ERR_Host1_FETCH'],
  [/could not append .*BAD maximum message size exceeded|could not append .*Maximum size of appendable message has been exceeded/, 'ERR_APPEND_SIZE'],
  [/OVERQUOTA|Quota limit will be exceeded|full: it is time to find a bigger place/, 'ERR_OVERQUOTA'],
  [/could not append.*virus/, 'ERR_APPEND_VIRUS'],
  [/could not append/, 'ERR_APPEND'],
  [/could not add flags/, 'ERR_FLAGS'],
  [/Could not create folder/, 'ERR_CREATE'],
  [/Could not select:/, 'ERR_SELECT'],
  [/Maximum bytes transferred reached/, 'ERR_TRANSFER_EXCEEDED'],
  [/can not open imap connection on host1/, 'ERR_CONNECTION_FAILURE_HOST1'],
  [/can not open imap connection on host2/, 'ERR_CONNECTION_FAILURE_HOST2']
]
const UNCLASSIFIED = 'ERR_UNCLASSIFIED'

/** The error type imapsync gives an error line. */
export function imapsyncErrorType (line: string): string {
  return ERROR_TYPES.find(([pattern]) => pattern.test(line))?.[1] ?? UNCLASSIFIED
}

// Lines imapsync prints when it counts an error (errors_incr), before the final errors dump.
const INLINE_ERROR = /^(?:Host[12] failure: |- msg .* could not |Host2: Quota limit will be exceeded|Host[12]: [0-9.]+ % full: it is time|Could not create folder|Could not select:|Maximum bytes transferred reached)/
const ERRORS_DUMP_LINE = /^Err [0-9]+\/[0-9]+: (.+)$/
const MOST_FREQUENT = /^The most frequent error is (ERR_\w+)/
const EXIT_LINE = /^Exiting with return value (-?[0-9]+)\b.*?(?:\bPID ([0-9]+))?\s*$/
const PID_LINE = /^PID is ([0-9]+)\b/
const STARTED = /^Transfer started (?:at|on)\b.*?([0-9]{4}-[0-9]{2}-[0-9]{2}) ([0-9]{2}:[0-9]{2}:[0-9]{2}) ([+-][0-9]{2})([0-9]{2})/
const ENDED = /^Transfer ended on\b.*?([0-9]{4}-[0-9]{2}-[0-9]{2}) ([0-9]{2}:[0-9]{2}:[0-9]{2}) ([+-][0-9]{2})([0-9]{2})/
const COMMAND_LINE_HEADER = /^Command line used\b/

export interface ImapsyncRun {
  /** The "Exiting with return value" status; null when the run has not ended (or was killed). */
  exitStatus: number | null
  /** imapsync's process id, from "PID is" or the exit line. */
  pid: string | null
  /** "Transfer started at" exactly as logged (the run's identity) and as a time. */
  startedText: string | null
  startedAt: Date | null
  endedAt: Date | null
  /** The arguments of "Command line used" (imapsync masks the passwords there itself). */
  commandLine: string[] | null
  /** The error type "The most frequent error is" names. */
  mostFrequentError: string | null
  /** The line that explains the failure: the first error of the most frequent type. */
  explainingLine: string | null
  /** "Exiting with return value ..." as logged. */
  exitLine: string | null
  /** The last line with text (what a run that died says last). */
  lastLine: string | null
  /** Errors counted per type, from the errors dump (or the inline error lines without one). */
  errorCounts: Record<string, number>
}

function logTime (match: RegExpExecArray): Date {
  const [, day, time, offsetHours, offsetMinutes] = match
  return new Date(`${day}T${time}${offsetHours}:${offsetMinutes}`)
}

/**
 * Consumes imapsync output line by line, keeping only what the outcome needs (memory does not
 * grow with the log: one line per error type).
 */
export class ImapsyncLogReader {
  private exitStatus: number | null = null
  private pid: string | null = null
  private exitPid: string | null = null
  private exitLine: string | null = null
  private startedText: string | null = null
  private startedAt: Date | null = null
  private endedAt: Date | null = null
  private commandLine: string[] | null = null
  private expectCommandLine = false
  private mostFrequent: string | null = null
  private readonly dumped = new Map<string, { first: string, count: number }>()
  private readonly inline = new Map<string, { first: string, count: number }>()
  private lastFailureLine: string | null = null
  private lastLine: string | null = null

  line (raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (line.trim() === '') return
    this.lastLine = line
    if (this.expectCommandLine) {
      this.expectCommandLine = false
      this.commandLine = line.trim().split(/\s+/).slice(1)
      return
    }
    if (COMMAND_LINE_HEADER.test(line)) {
      // imapsync 2.x prints the command on the next line; older ones after a colon on the same line.
      const rest = /^Command line used[^:]*:\s*(\S.*)$/.exec(line)
      if (rest !== null && !line.endsWith(':')) this.commandLine = rest[1].trim().split(/\s+/).slice(1)
      else this.expectCommandLine = true
      return
    }
    let match: RegExpExecArray | null
    if ((match = ERRORS_DUMP_LINE.exec(line)) !== null) {
      count(this.dumped, imapsyncErrorType(match[1]), match[1])
    } else if ((match = MOST_FREQUENT.exec(line)) !== null) {
      this.mostFrequent = match[1]
    } else if ((match = EXIT_LINE.exec(line)) !== null) {
      this.exitStatus = Number(match[1])
      this.exitPid = match[2] ?? null
      this.exitLine = line
    } else if (this.pid === null && (match = PID_LINE.exec(line)) !== null) {
      this.pid = match[1]
    } else if (this.startedAt === null && (match = STARTED.exec(line)) !== null) {
      this.startedText = line.replace(/^Transfer started (?:at|on)\s*:?\s*/, '')
      this.startedAt = logTime(match)
    } else if ((match = ENDED.exec(line)) !== null) {
      this.endedAt = logTime(match)
    } else if (INLINE_ERROR.test(line)) {
      count(this.inline, imapsyncErrorType(line), line)
      if (/^Host[12] failure: /.test(line)) this.lastFailureLine = line
    }
  }

  /** Feeds a whole text (a log file's content). */
  text (content: string): this {
    for (const line of content.split('\n')) this.line(line)
    return this
  }

  result (): ImapsyncRun {
    const errors = this.dumped.size > 0 ? this.dumped : this.inline
    // Without imapsync's own verdict (an older version, or a run cut short) the most frequent type decides.
    const type = this.mostFrequent ?? [...errors.entries()].sort((a, b) => b[1].count - a[1].count)[0]?.[0] ?? null
    const explaining = (type === null ? undefined : errors.get(type)?.first) ??
      [...errors.values()][0]?.first ?? this.lastFailureLine
    return {
      exitStatus: this.exitStatus,
      pid: this.pid ?? this.exitPid,
      startedText: this.startedText,
      startedAt: this.startedAt,
      endedAt: this.endedAt,
      commandLine: this.commandLine,
      mostFrequentError: this.mostFrequent,
      explainingLine: explaining ?? null,
      exitLine: this.exitLine,
      lastLine: this.lastLine,
      errorCounts: Object.fromEntries([...errors.entries()].map(([key, value]) => [key, value.count]))
    }
  }
}

function count (map: Map<string, { first: string, count: number }>, type: string, line: string): void {
  const seen = map.get(type)
  if (seen === undefined) map.set(type, { first: line, count: 1 })
  else seen.count += 1
}

export function readImapsyncLog (content: string): ImapsyncRun {
  return new ImapsyncLogReader().text(content).result()
}
