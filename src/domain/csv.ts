import type { Guide, GuideStep } from './types.js'

// CSV as RFC 4180 describes it, safe to open in a spreadsheet.

// A cell starting with one of these is a formula to Excel and LibreOffice; a leading quote
// makes it text (OWASP's advice against CSV injection).
const FORMULA_START = /^[=+\-@\t\r]/

/** Excel reads a CSV as UTF-8 only after this mark; without it Ünïcødé and 日本語 come out garbled. */
export const UTF8_BOM = '\uFEFF'

/**
 * One RFC 4180 cell. With `guard` (the default) a text that a spreadsheet would run as a
 * formula gets a leading quote; without, the text is written as it is, for columns whose
 * values are validated to be harmless (e-mail addresses a migration tool imports).
 */
export function csvCell (value: string | number | boolean | null, guard = true): string {
  if (value === null) return ''
  let text = String(value)
  if (guard && typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

export function csvRow (values: ReadonlyArray<string | number | boolean | null>, guard = true): string {
  return values.map((value) => csvCell(value, guard)).join(',') + '\r\n'
}

function numberedSteps (steps: readonly GuideStep[], prefix: string): string[] {
  return steps.flatMap((step, index) => {
    const number = `${prefix}${index + 1}.`
    return [`${number} ${step.text}`, ...numberedSteps(step.steps, number)]
  })
}

/** A guide as one cell's text: its steps numbered (1., 1.1., 1.1.1.) one per line, then the tip. */
export function guideText (guide: Guide): string {
  const lines = numberedSteps(guide.steps, '')
  if (guide.tip !== null) lines.push(`Tip: ${guide.tip}`)
  return lines.join('\n')
}
