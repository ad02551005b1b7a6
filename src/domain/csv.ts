// CSV as RFC 4180 describes it, safe to open in a spreadsheet.

// A cell starting with one of these is a formula to Excel and LibreOffice; a leading quote
// makes it text (OWASP's advice against CSV injection).
const FORMULA_START = /^[=+\-@\t\r]/

export function csvCell (value: string | number | boolean | null): string {
  if (value === null) return ''
  let text = String(value)
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

export function csvRow (values: ReadonlyArray<string | number | boolean | null>): string {
  return values.map(csvCell).join(',') + '\r\n'
}
