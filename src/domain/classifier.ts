// Turns the raw signals of a failed sync into a category, by reading the rule table.
import { CATEGORIES } from './categories.js'
import { CLASSIFIER_RULES } from './classifier-rules.js'
import type { ClassifierRule, Host } from './classifier-rules.js'
import { isCategoryId } from './types.js'
import type { CategoryId, EventContext, Side } from './types.js'

export { CLASSIFIER_RULES, STRENGTH } from './classifier-rules.js'
export type { ClassifierRule, CodeMatch, Host, ResponseCodeMatch, RuleKind, RuleSample, WordingMatch } from './classifier-rules.js'

export interface ClassificationInput {
  category?: CategoryId
  code?: string | null
  message: string
  context?: EventContext
}

export interface Classification {
  category: CategoryId
  /** The id of the rule that decided: a table rule, `explicit` or `fallback`. */
  rule: string
  side: Side
}

export const EXPLICIT_RULE = 'explicit'
export const FALLBACK_RULE = 'fallback'

/** Messages are at most 8 KiB; anything past that is ignored so classification stays linear. */
export const MESSAGE_LIMIT = 8192

/** What the rules look at, read once per classification. */
interface Signals {
  code: string | null
  engine: string | null
  message: string
  responseCodes: ReadonlySet<string>
  host: Host | null
}

// Hostnames such as host1.example.com must not count as imapsync's Host1.
const HOST_MENTION = /\b(?:host|user)([12])\b(?![.-]\w)/i
const RESPONSE_CODE = /\[([A-Za-z][A-Za-z0-9-]{0,39})[\] ]/g
const TYPOGRAPHIC_APOSTROPHE = /[\u2018\u2019\u02BC]/g
const WHITESPACE_RUN = /\s+/g

function normaliseCode (code: string | null | undefined): string | null {
  if (code === undefined || code === null) return null
  let value = code.trim()
  // Engines sometimes send the exception's full .NET name.
  const dot = value.lastIndexOf('.')
  if (dot >= 0 && /^[A-Za-z]/.test(value)) value = value.slice(dot + 1)
  return value === '' ? null : value.toLowerCase()
}

function readSignals (input: ClassificationInput): Signals {
  const message = input.message
    .slice(0, MESSAGE_LIMIT)
    .replace(TYPOGRAPHIC_APOSTROPHE, "'")
    .replace(WHITESPACE_RUN, ' ')
  const responseCodes = new Set<string>()
  for (const found of message.matchAll(RESPONSE_CODE)) responseCodes.add(found[1].toUpperCase())
  const host = HOST_MENTION.exec(message)?.[1]
  const engine = input.context?.engine?.trim().toLowerCase()
  return {
    code: normaliseCode(input.code),
    engine: engine === undefined || engine === '' ? null : engine,
    message,
    responseCodes,
    host: host === '1' ? 1 : host === '2' ? 2 : null
  }
}

type Predicate = (signals: Signals) => boolean

function compile (rule: ClassifierRule): Predicate {
  const host = rule.match.host
  const condition = compileCondition(rule)
  if (host === undefined) return condition
  return (signals) => signals.host === host && condition(signals)
}

function compileCondition (rule: ClassifierRule): Predicate {
  switch (rule.kind) {
    case 'code': {
      const codes = new Set(rule.match.codes.map((code) => code.toLowerCase()))
      const engines = rule.match.engines?.map((engine) => engine.toLowerCase())
      return (signals) =>
        signals.code !== null &&
        codes.has(signals.code) &&
        (engines === undefined || signals.engine === null || engines.includes(signals.engine))
    }
    case 'response-code': {
      const codes = rule.match.responseCodes
      return (signals) => codes.some((code) => signals.responseCodes.has(code))
    }
    case 'wording': {
      const pattern = rule.match.pattern
      return (signals) => pattern.test(signals.message)
    }
  }
}

// Strongest first; Array.prototype.sort is stable, so equal strengths keep table order.
const ORDERED = [...CLASSIFIER_RULES]
  .sort((a, b) => b.strength - a.strength)
  .map((rule) => ({ rule, matches: compile(rule) }))

/**
 * Classifies a failure, strongest signal first: an explicit category, then the first rule
 * of the table by strength (see STRENGTH), then `unclassified`. Pure and deterministic.
 */
export function classifyFailure (input: ClassificationInput): Classification {
  if (input.category !== undefined && isCategoryId(input.category)) {
    return { category: input.category, rule: EXPLICIT_RULE, side: CATEGORIES[input.category].side }
  }
  const signals = readSignals(input)
  const decided = ORDERED.find(({ matches }) => matches(signals))?.rule
  if (decided === undefined) return { category: 'unclassified', rule: FALLBACK_RULE, side: 'unknown' }
  return { category: decided.category, rule: decided.id, side: decided.side }
}
