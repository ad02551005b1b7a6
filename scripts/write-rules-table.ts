// Writes the classifier's rule table into README.md between the rules markers: `npm run rules`.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLASSIFIER_RULES, NAME_IN_MESSAGE_DISCOUNT } from '../src/domain/classifier-rules.js'
import type { ClassifierRule } from '../src/domain/classifier-rules.js'

export const RULES_START = '<!-- rules:start -->'
export const RULES_END = '<!-- rules:end -->'

const HOST_NOTE = { 1: 'message names Host1/user1/source first', 2: 'message names Host2/user2/destination/target first' } as const

function code (text: string): string {
  return `\`${text}\``
}

function describeMatch (rule: ClassifierRule): string {
  const parts: string[] = []
  switch (rule.kind) {
    case 'code':
      if (rule.match.codes !== undefined) {
        const engines = rule.match.engines === undefined ? '' : ` (engine ${rule.match.engines.join(', ')} or unnamed)`
        parts.push(`code ${rule.match.codes.map(code).join(', ')}${engines}`)
      }
      if (rule.match.names !== undefined) parts.push(`name ${rule.match.names.map(code).join(', ')} in the code or the message`)
      if (rule.match.prefixes !== undefined) parts.push(`any name starting ${rule.match.prefixes.map(code).join(', ')}`)
      break
    case 'response-code':
      parts.push(`response code ${rule.match.responseCodes.map((name) => code(`[${name}]`)).join(', ')}`)
      break
    case 'wording':
      parts.push(code(String(rule.match.pattern)))
      break
  }
  if (rule.match.host !== undefined) parts.push(HOST_NOTE[rule.match.host])
  return parts.join('; ')
}

// A code rule's names count less when found in the message instead of the code field.
function strengthOf (rule: ClassifierRule): string {
  const inMessage = rule.kind === 'code' && (rule.match.names !== undefined || rule.match.prefixes !== undefined)
  return inMessage ? `${rule.strength} (${rule.strength - NAME_IN_MESSAGE_DISCOUNT} in the message)` : String(rule.strength)
}

// Pipes would end a table cell, even inside a code span.
function cell (text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s+/g, ' ')
}

/** One row a rule, in evaluation order (strongest first, then table order). */
export function rulesTableMarkdown (): string {
  const ordered = [...CLASSIFIER_RULES].sort((a, b) => b.strength - a.strength)
  const rows = ordered.map((rule) =>
    `| ${[code(rule.id), rule.kind, describeMatch(rule), code(rule.category), (rule.alsoPossible ?? []).map(code).join(', '), rule.side, strengthOf(rule), rule.rationale].map(cell).join(' | ')} |`)
  return [
    '| id | kind | matches | category | also possible | side | strength | rationale |',
    '|---|---|---|---|---|---|---:|---|',
    ...rows
  ].join('\n')
}

/** The text between the markers, or null when README.md lacks them. */
export function rulesBlockOf (readme: string): string | null {
  const start = readme.indexOf(RULES_START)
  const end = readme.indexOf(RULES_END)
  if (start < 0 || end < start) return null
  return readme.slice(start + RULES_START.length, end)
}

export function withRulesTable (readme: string, table: string): string {
  const block = rulesBlockOf(readme)
  if (block === null) throw new Error(`README.md needs the markers ${RULES_START} and ${RULES_END}`)
  const start = readme.indexOf(RULES_START) + RULES_START.length
  return `${readme.slice(0, start)}\n${table}\n${readme.slice(start + block.length)}`
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const target = join(process.cwd(), 'README.md')
  writeFileSync(target, withRulesTable(readFileSync(target, 'utf8'), rulesTableMarkdown()))
  process.stdout.write(`wrote the rule table (${CLASSIFIER_RULES.length} rules) into ${target}\n`)
}
