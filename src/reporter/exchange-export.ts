// Get-MigrationUser | Get-MigrationUserStatistics output, saved with ConvertTo-Json or Export-Csv,
// -> one event per user (and an items_skipped failure where items were skipped). Pure.
import { parse as parseCsv } from 'csv-parse/sync'
import { ExportDateError, readExportDate, type DateReading } from './export-dates.js'
import { boundedMessage, deterministicEventId, isMailAddress, ReportInputError, type ReportedEvent } from './reported-events.js'

export interface ExchangeReading extends DateReading {
  /** --batch: overrides every record's BatchId. */
  batchId?: string
  /** When the export was written (the file's modification time, or --exported-at): the time of a
   * failure whose record carries none. */
  exportedAt: Date
}

export interface ExchangeReport {
  events: ReportedEvent[]
  users: number
  failed: number
  synced: number
  itemsSkipped: number
  /** Users in a state that is neither failed nor synced (Syncing, Queued, ...), per Status. */
  notReported: Record<string, number>
}

/** The table of the README's mapping, as data. */
export const FAILED_STATUSES = ['Failed', 'IncrementalFailed', 'CompletionFailed', 'Corrupted']
export const SYNCED_STATUSES = ['Synced', 'Completed', 'IncrementalSynced', 'CompletionSynced', 'CompletedWithWarnings']
/** StatusDetail values (RequestState) that mean the mailbox is not being synchronized right now. */
export const STALLED_DETAIL = /^(?:Stalled\w*|Failed\w*|Relinquished\w*Stall|TransientFailure|NetworkFailure)$/i

// The engine name the shared corpus and the classifier's rules use for Exchange's migration service.
const ENGINE = 'exchange'

type ExportRecord = Record<string, unknown>

/** Property names are case-insensitive in PowerShell; scripts select them in any case. */
function lowerKeys (record: ExportRecord): ExportRecord {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key.toLowerCase(), value]))
}

function decodeText (bytes: Uint8Array): string {
  // Windows PowerShell 5.1 writes UTF-16LE with a BOM through Out-File and ">"; others UTF-8.
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2))
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2))
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
  } catch {
    // Set-Content and Export-Csv -Encoding Default write the ANSI code page.
    return new TextDecoder('windows-1252').decode(bytes)
  }
}

function jsonRecords (text: string): ExportRecord[] {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new ReportInputError(`not valid JSON: ${(error as Error).message}`)
  }
  // ConvertTo-Json -InputObject @(...) in 5.1 wraps the array as { value: [...], Count: n }.
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Array.isArray((value as ExportRecord).value)) {
    value = (value as ExportRecord).value
  }
  const list = Array.isArray(value) ? value : [value]
  return list.map((item, index) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new ReportInputError(`record ${index + 1} is not an object`)
    return lowerKeys(item as ExportRecord)
  })
}

function csvRecords (text: string): ExportRecord[] {
  const lines = text.split(/\r?\n/)
  // Export-Csv in Windows PowerShell 5.1 starts with "#TYPE <type name>" unless -NoTypeInformation.
  const body = lines[0]?.startsWith('#TYPE') === true ? lines.slice(1).join('\n') : text
  const header = body.split(/\r?\n/, 1)[0] ?? ''
  // -UseCulture and -Delimiter write another separator (";" in most European cultures).
  const delimiter = /^"[^"]*"([,;\t|])/.exec(header)?.[1] ?? /[,;\t|]/.exec(header)?.[0] ?? ','
  try {
    const rows = parseCsv(body, { columns: true, delimiter, skip_empty_lines: true, bom: true }) as Array<Record<string, string>>
    return rows.map((row) => lowerKeys(Object.fromEntries(Object.entries(row).map(([key, value]) => [key, value === '' ? null : value]))))
  } catch (error) {
    throw new ReportInputError(`not a CSV export: ${(error as Error).message}`)
  }
}

/** The records of an export file, JSON or CSV, whatever the encoding PowerShell chose. */
export function exportRecords (bytes: Uint8Array): ExportRecord[] {
  const text = decodeText(bytes).replace(/^\uFEFF/, '')
  const first = text.trimStart()[0]
  if (first === undefined) throw new ReportInputError('the export is empty')
  return first === '{' || first === '[' ? jsonRecords(text) : csvRecords(text)
}

function text (value: unknown): string | null {
  if (typeof value === 'string') return value.trim() === '' ? null : value.trim()
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return null
}

// An exception's name as Exchange prints it: "Error MigrationPermanentExeption: ..." (sic) or
// "Microsoft.Exchange.Migration.MigrationTransientException: ...".
const EXCEPTION_NAME = /^(?:Error:?\s+)?(?:[A-Za-z_][A-Za-z0-9_]*\.)*([A-Za-z_][A-Za-z0-9_]*Ex(?:c)?eption)\b/

export function exceptionName (message: string): string | null {
  return EXCEPTION_NAME.exec(message.trim())?.[1] ?? null
}

interface ErrorDetail { message: string | null, name: string | null }

/** Error as a string (its ToString(), as Export-Csv and a calculated property write it) or as the
 * nested object ConvertTo-Json writes ({ Message, InnerException: { Message, ... }, ... }). */
function errorDetail (value: unknown): ErrorDetail {
  const plain = text(value)
  if (plain !== null) return { message: plain, name: exceptionName(plain) }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { message: null, name: null }
  const parts: string[] = []
  let name: string | null = null
  let current: unknown = value
  for (let depth = 0; depth < 8 && current !== null && current !== undefined; depth++) {
    const inner = text(current)
    if (inner !== null) { parts.push(inner); break }
    if (typeof current !== 'object' || Array.isArray(current)) break
    const record = lowerKeys(current as ExportRecord)
    const message = text(record.message)
    if (message !== null) parts.push(message)
    name ??= text(record.classname) ?? text(record.failuretype) ?? text(record.exceptiontype) ?? text(record.typename)
    current = record.innerexception
  }
  const message = parts.length === 0 ? null : parts.join(' --> ')
  const shortName = name === null ? null : name.slice(name.lastIndexOf('.') + 1)
  return { message, name: shortName ?? (message === null ? null : exceptionName(message)) }
}

function identityOf (record: ExportRecord): string | null {
  const identity = record.identity
  if (identity !== null && typeof identity === 'object' && !Array.isArray(identity)) {
    const inner = lowerKeys(identity as ExportRecord)
    return text(inner.mailboxemailaddress) ?? text(inner.emailaddress) ?? text(inner.id) ?? text(inner.name)
  }
  return text(identity)
}

function mailboxOf (record: ExportRecord, identity: string | null): string | null {
  // Identity is the address, or "address/MailboxGuid" for a user with several migrations.
  const candidates = [text(record.mailboxemailaddress), text(record.emailaddress), identity?.split('/')[0] ?? null]
  return candidates.find((candidate) => candidate !== null && isMailAddress(candidate))?.toLowerCase() ?? null
}

function batchOf (record: ExportRecord): string | null {
  const value = record.batchid
  const name = value !== null && typeof value === 'object' && !Array.isArray(value)
    ? text(lowerKeys(value as ExportRecord).name) ?? text(lowerKeys(value as ExportRecord).id)
    : text(value)
  if (name === null) return null
  // Batch names may hold spaces and other characters the service's ids do not.
  const id = name.replace(/[^A-Za-z0-9._:-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 128)
  return id === '' ? null : id
}

function migrationTypeOf (record: ExportRecord): 'imap' | 'exchange' | null {
  const kind = text(record.migrationtype)
  if (kind === null) return null
  if (/^imap$/i.test(kind)) return 'imap'
  return /^(?:Exchange|PublicFolder)/i.test(kind) ? 'exchange' : null
}

function countOf (value: unknown): number {
  const number = typeof value === 'number' ? value : Number(text(value)?.replace(/[,\s]/g, '') ?? 0)
  return Number.isFinite(number) && number > 0 ? Math.floor(number) : 0
}

function skippedSummary (record: ExportRecord, count: number): string {
  const kinds = new Map<string, number>()
  if (Array.isArray(record.skippeditems)) {
    for (const item of record.skippeditems as unknown[]) {
      const kind = item !== null && typeof item === 'object' ? text(lowerKeys(item as ExportRecord).kind) : null
      if (kind !== null) kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
    }
  }
  const byKind = [...kinds.entries()].map(([kind, n]) => `${kind} ${n}`).join(', ')
  const score = text(record.dataconsistencyscore)
  return `${count} item${count === 1 ? '' : 's'} skipped` + (byKind === '' ? '' : ` (${byKind})`) +
    (score === null ? '' : `; DataConsistencyScore ${score}`)
}

function statusIn (status: string | null, list: readonly string[]): boolean {
  return status !== null && list.some((value) => value.toLowerCase() === status.toLowerCase())
}

/** Maps an export's records to events, or throws ReportInputError naming every record it cannot read. */
export function exchangeEvents (records: readonly ExportRecord[], reading: ExchangeReading): ExchangeReport {
  const report: ExchangeReport = { events: [], users: records.length, failed: 0, synced: 0, itemsSkipped: 0, notReported: {} }
  const problems: string[] = []
  records.forEach((record, index) => {
    const identity = identityOf(record)
    const where = `record ${index + 1}${identity === null ? '' : ` (${identity})`}`
    const mailbox = mailboxOf(record, identity)
    const batchId = reading.batchId ?? batchOf(record)
    if (mailbox === null) problems.push(`${where}: no e-mail address in Identity, MailboxEmailAddress or EmailAddress`)
    if (batchId === null) problems.push(`${where}: no BatchId; give the batch with --batch`)
    const rawStatus = record.status ?? record.state
    if (rawStatus !== undefined && rawStatus !== null && typeof rawStatus !== 'string') {
      problems.push(`${where}: Status is ${JSON.stringify(rawStatus)}, not a name; export it as text (ConvertTo-Json -EnumsAsStrings, or select @{n='Status';e={"$($_.Status)"}})`)
      return
    }
    let times: { lastSuccess: Date | null, updated: Date | null }
    try {
      times = {
        lastSuccess: readExportDate(record.lastsuccessfulsynctime, reading),
        updated: readExportDate(record.lastupdatedtime ?? record.lastsubscriptionchecktime ?? record.subscriptionlastchecked, reading)
      }
    } catch (error) {
      if (!(error instanceof ExportDateError)) throw error
      problems.push(`${where}: ${error.message}`)
      return
    }
    if (mailbox === null || batchId === null) return
    const status = text(rawStatus)
    const detail = text(record.statusdetail)
    const stalled = detail !== null && STALLED_DETAIL.test(detail)
    const context = { engine: ENGINE, ...(migrationTypeOf(record) === null ? {} : { migrationType: migrationTypeOf(record)! }) }
    const recordIdentity = identity ?? mailbox
    const event = (kind: string, occurredAt: Date, ...more: Array<string | number>): Pick<ReportedEvent, 'id' | 'batchId' | 'mailbox' | 'occurredAt'> => ({
      id: deterministicEventId('exo', [batchId, recordIdentity, kind, occurredAt.toISOString(), ...more]),
      batchId,
      mailbox,
      occurredAt: occurredAt.toISOString()
    })
    let at: Date
    if (statusIn(status, FAILED_STATUSES) || stalled) {
      at = times.updated ?? reading.exportedAt
      const error = errorDetail(record.error)
      const summary = text(record.errorsummary)
      const message = error.message ?? summary ??
        `Status ${status ?? 'unknown'}${detail === null ? '' : `, StatusDetail ${detail}`}`
      const code = error.name ?? (summary === null ? null : exceptionName(summary)) ?? (stalled ? detail : null)
      report.events.push({
        // What the record said is part of its identity: the same state read again is the same
        // event; a new error at the same time is another one, never a conflicting retry.
        ...event('failed', at, code ?? '', message),
        outcome: 'failed',
        failure: { ...(code === null ? {} : { code }), message: boundedMessage(message) },
        context
      })
      report.failed += 1
    } else if (statusIn(status, SYNCED_STATUSES)) {
      at = times.lastSuccess ?? times.updated ?? reading.exportedAt
      report.events.push({ ...event('synced', at), outcome: 'synced' })
      report.synced += 1
    } else {
      at = times.updated ?? times.lastSuccess ?? reading.exportedAt
      const state = status ?? 'no Status'
      report.notReported[state] = (report.notReported[state] ?? 0) + 1
    }
    const skipped = countOf(record.skippeditemcount)
    if (skipped > 0) {
      report.events.push({
        ...event('items_skipped', at, skipped),
        outcome: 'failed',
        failure: { category: 'items_skipped', message: boundedMessage(skippedSummary(record, skipped)) },
        context
      })
      report.itemsSkipped += 1
    }
  })
  if (problems.length > 0) throw new ReportInputError(problems.join('\n'))
  return report
}
