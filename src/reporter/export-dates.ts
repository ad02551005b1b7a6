// Dates as PowerShell writes them: ConvertTo-Json in Windows PowerShell 5.1 ("\/Date(ms)\/", sometimes
// wrapped in { value, DisplayHint, DateTime }), in PowerShell 7 (ISO 8601), and Export-Csv (the
// session culture's short date and long time, with no zone).
import { DateTime, FixedOffsetZone, IANAZone } from 'luxon'

export class ExportDateError extends Error {
  override name = 'ExportDateError'
}

export interface DateReading {
  /** A .NET custom date format (as `(Get-Culture).DateTimeFormat` shows) or a luxon one. */
  dateFormat?: string
  /** Zone of dates written without one: an IANA name, `UTC`, `UTC+2`, `UTC-05:30`; default the local zone. */
  timeZone?: string
}

// Culture forms read without --date-format: en-US (PowerShell's default), the dotted day-first
// cultures (de, at, ch, ru, ...) and the sortable one (sv-SE and others).
const KNOWN_FORMATS = ['M/d/yyyy h:mm:ss a', 'd.M.yyyy H:mm:ss', 'yyyy-MM-dd H:mm:ss']
const MICROSOFT_JSON_DATE = /^\/Date\((-?[0-9]{1,15})(?:[+-][0-9]{4})?\)\/$/

/** Checks a --time-zone value; returns the zone name luxon takes. */
export function exportTimeZone (value: string | undefined): string {
  if (value === undefined || value === '' || value === 'local') return 'local'
  if (FixedOffsetZone.parseSpecifier(value) !== null || IANAZone.isValidZone(value)) return value
  throw new ExportDateError(`--time-zone "${value}" is not a time zone (use an IANA name such as Europe/Vienna, or UTC, UTC+2, UTC-05:30)`)
}

const DOTNET_TOKENS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^dddd/, 'EEEE'], [/^ddd/, 'EEE'], [/^tt?/, 'a'], [/^f{1,7}/, ''], [/^F{1,7}/, ''],
  [/^zzz/, 'ZZ'], [/^zz?/, 'Z'], [/^K/, 'ZZ']
]

/** Turns a .NET custom format ("dd/MM/yyyy HH:mm:ss", "M/d/yyyy h:mm:ss tt") into luxon's tokens. */
export function luxonFormat (dotnet: string): string {
  let out = ''
  let rest = dotnet
  while (rest.length > 0) {
    const quoted = /^'[^']*'|^"[^"]*"/.exec(rest)
    if (quoted !== null) {
      out += `'${quoted[0].slice(1, -1)}'`
      rest = rest.slice(quoted[0].length)
      continue
    }
    const token = DOTNET_TOKENS.find(([pattern]) => pattern.test(rest))
    if (token !== undefined) {
      const length = token[0].exec(rest)![0].length
      // Fractions of a second: luxon's S reads milliseconds whatever their number of digits.
      out += token[1] === '' ? 'S' : token[1]
      rest = rest.slice(length)
      continue
    }
    out += rest[0]
    rest = rest.slice(1)
  }
  return out
}

/** A date field of an export as a time, null when empty; throws on a form it cannot read. */
export function readExportDate (value: unknown, reading: DateReading): Date | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'object' && !Array.isArray(value)) {
    // Windows PowerShell 5.1 writes a DateTime that carries extra properties as { value, DisplayHint, DateTime }.
    const wrapped = value as Record<string, unknown>
    return readExportDate(wrapped.value ?? wrapped.Value ?? wrapped.DateTime, reading)
  }
  if (typeof value !== 'string') throw new ExportDateError(`${JSON.stringify(value)} is not a date`)
  const text = value.trim()
  if (text === '') return null
  const microsoft = MICROSOFT_JSON_DATE.exec(text)
  if (microsoft !== null) return new Date(Number(microsoft[1]))
  const zone = exportTimeZone(reading.timeZone)
  const candidates = [
    DateTime.fromISO(text, { zone }),
    ...(reading.dateFormat !== undefined
      ? [DateTime.fromFormat(text, luxonFormat(reading.dateFormat), { zone, locale: 'en-US' })]
      : KNOWN_FORMATS.map((format) => DateTime.fromFormat(text, format, { zone, locale: 'en-US' })))
  ]
  const parsed = candidates.find((candidate) => candidate.isValid)
  if (parsed === undefined) {
    throw new ExportDateError(`"${text}" is not ${reading.dateFormat === undefined
      ? 'a date form this reader knows; give the export\'s form with --date-format (for example "dd/MM/yyyy HH:mm:ss")'
      : `a date of the form "${reading.dateFormat}"`}`)
  }
  return parsed.toJSDate()
}
