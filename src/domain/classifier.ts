// Turns the raw signals of a failed sync into a category, by reading the rule table.
import { CATEGORIES } from './categories.js'
import { CLASSIFIER_RULES, NAME_IN_MESSAGE_DISCOUNT } from './classifier-rules.js'
import type { ClassifierRule, Host } from './classifier-rules.js'
import { isCategoryId } from './types.js'
import type { CategoryId, EventContext, Side } from './types.js'

export { CLASSIFIER_RULES, NAME_IN_MESSAGE_DISCOUNT, STRENGTH } from './classifier-rules.js'
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
  /** The event's code, trimmed, namespace dropped, lower case. */
  code: string | null
  engine: string | null
  message: string
  /** RFC 5530 codes in brackets in the message, and the event's code when it is one; upper case. */
  responseCodes: ReadonlySet<string>
  /** Names of the rule table (exception names, EWS codes, StatusDetail values, ERR_ names) found in the message; lower case. */
  names: ReadonlySet<string>
  /** The first side marker of the message: Host1/user1/source is 1, Host2/user2/destination/target is 2. */
  host: Host | null
}

// Hostnames such as host1.example.com must not count as imapsync's Host1.
const SIDE_MARKER = /\b(?:(?:host|user)([12])(?![.-]\w)|(source)|(destination|target))\b/i
const RESPONSE_CODE = /\[([A-Za-z][A-Za-z0-9-]{0,39})[\] ]/g
const CODE_AS_RESPONSE_CODE = /^\[?([A-Za-z][A-Za-z0-9-]{0,39})\]?$/
// Candidate names: identifiers of 4 to 80 characters (dots split a .NET namespace into parts).
const NAME_TOKEN = /[A-Za-z][A-Za-z0-9_]{3,79}/g
const TYPOGRAPHIC_APOSTROPHE = /[\u2018\u2019\u02BC]/g
// Runs of two or more, or a lone tab or line break: a lone space stays, so most messages are not copied.
const WHITESPACE_RUN = /\s{2,}|(?! )\s/g
const STARTS_WITH_LETTER = /^[A-Za-z]/

const lower = (values: readonly string[] | undefined): string[] => (values ?? []).map((value) => value.toLowerCase())

// Every name and name prefix of the table, so the message scan keeps only tokens some rule asks for.
const KNOWN_NAMES = new Set(CLASSIFIER_RULES.flatMap((rule) => rule.kind === 'code' ? lower(rule.match.names) : []))
const KNOWN_PREFIXES = [...new Set(CLASSIFIER_RULES.flatMap((rule) => rule.kind === 'code' ? lower(rule.match.prefixes) : []))]

function isKnownName (name: string): boolean {
  return KNOWN_NAMES.has(name) || KNOWN_PREFIXES.some((prefix) => name.startsWith(prefix))
}

function normaliseCode (code: string | null | undefined): string | null {
  if (code === undefined || code === null) return null
  let value = code.trim()
  // Engines sometimes send the exception's full .NET name.
  const dot = value.lastIndexOf('.')
  if (dot >= 0 && STARTS_WITH_LETTER.test(value)) value = value.slice(dot + 1)
  return value === '' ? null : value.toLowerCase()
}

function readSignals (input: ClassificationInput): Signals {
  const message = input.message
    .slice(0, MESSAGE_LIMIT)
    .replace(TYPOGRAPHIC_APOSTROPHE, "'")
    .replace(WHITESPACE_RUN, ' ')
  const code = normaliseCode(input.code)
  const responseCodes = new Set<string>()
  for (const found of message.matchAll(RESPONSE_CODE)) responseCodes.add(found[1].toUpperCase())
  const bare = code === null ? null : CODE_AS_RESPONSE_CODE.exec(code)
  if (bare !== null) responseCodes.add(bare[1].toUpperCase())
  const names = new Set<string>()
  for (const found of message.matchAll(NAME_TOKEN)) {
    const name = found[0].toLowerCase()
    if (isKnownName(name)) names.add(name)
  }
  const marker = SIDE_MARKER.exec(message)
  const engine = input.context?.engine?.trim().toLowerCase()
  return {
    code,
    engine: engine === undefined || engine === '' ? null : engine,
    message,
    responseCodes,
    names,
    host: marker === null ? null : marker[1] === '1' || marker[2] !== undefined ? 1 : 2
  }
}

type Predicate = (signals: Signals) => boolean

interface Entry {
  rule: ClassifierRule
  strength: number
  matches: Predicate
  /** Keys that make the entry worth trying: codes, names or response codes (lower case); none for wording. */
  keys: readonly string[]
  /** A code rule's name prefixes, tried against every code or name found. */
  prefixes: readonly string[]
  where: 'code' | 'message' | 'response-code' | 'wording'
  /** Position in evaluation order: strongest first, then table order. */
  order: number
}

function withHost (host: Host | undefined, condition: Predicate): Predicate {
  if (host === undefined) return condition
  return (signals) => signals.host === host && condition(signals)
}

function nameMatcher (names: ReadonlySet<string>, prefixes: readonly string[]): (name: string) => boolean {
  return (name) => names.has(name) || prefixes.some((prefix) => name.startsWith(prefix))
}

type Compiled = Omit<Entry, 'order'>

/** One entry a rule, and a second, weaker one for a code rule's names found in the message. */
function compile (rule: ClassifierRule): Compiled[] {
  switch (rule.kind) {
    case 'code': {
      const codes = lower(rule.match.codes)
      const names = lower(rule.match.names)
      const prefixes = lower(rule.match.prefixes)
      const engines = lower(rule.match.engines)
      const isCode = new Set(codes)
      const isName = nameMatcher(new Set(names), prefixes)
      const engineFits = (engine: string | null): boolean =>
        engines.length === 0 || engine === null || engines.some((word) => engine.includes(word))
      const inCode: Predicate = (signals) =>
        signals.code !== null && ((isCode.has(signals.code) && engineFits(signals.engine)) || isName(signals.code))
      const entries: Compiled[] = [{ rule, strength: rule.strength, matches: withHost(rule.match.host, inCode), keys: [...codes, ...names], prefixes, where: 'code' }]
      if (names.length > 0 || prefixes.length > 0) {
        const inMessage: Predicate = (signals) => {
          for (const name of signals.names) if (isName(name)) return true
          return false
        }
        entries.push({ rule, strength: rule.strength - NAME_IN_MESSAGE_DISCOUNT, matches: withHost(rule.match.host, inMessage), keys: names, prefixes, where: 'message' })
      }
      return entries
    }
    case 'response-code': {
      const codes = rule.match.responseCodes
      const matches = withHost(rule.match.host, (signals) => codes.some((code) => signals.responseCodes.has(code)))
      return [{ rule, strength: rule.strength, matches, keys: lower(codes), prefixes: [], where: 'response-code' }]
    }
    case 'wording': {
      const pattern = rule.match.pattern
      return [{ rule, strength: rule.strength, matches: withHost(rule.match.host, (signals) => pattern.test(signals.message)), keys: [], prefixes: [], where: 'wording' }]
    }
  }
}

// Strongest first; Array.prototype.sort is stable, so equal strengths keep table order.
const ORDERED: readonly Entry[] = CLASSIFIER_RULES
  .flatMap(compile)
  .sort((a, b) => b.strength - a.strength)
  .map((entry, order) => ({ ...entry, order }))

// Code, name and response-code entries are looked up by key, so a classification only tries the few
// a signal can match; wording entries are tried in order, and only while they could still win.
function indexOf (where: Entry['where']): ReadonlyMap<string, readonly Entry[]> {
  const index = new Map<string, Entry[]>()
  for (const entry of ORDERED) {
    if (entry.where !== where) continue
    for (const key of new Set(entry.keys)) index.set(key, [...(index.get(key) ?? []), entry])
  }
  return index
}
const BY_CODE = indexOf('code')
const BY_NAME = indexOf('message')
const BY_RESPONSE_CODE = indexOf('response-code')
const CODE_PREFIXED = ORDERED.filter((entry) => entry.where === 'code' && entry.prefixes.length > 0)
const NAME_PREFIXED = ORDERED.filter((entry) => entry.where === 'message' && entry.prefixes.length > 0)
const WORDING = ORDERED.filter((entry) => entry.where === 'wording')

/** The first entry in evaluation order whose predicate holds, or undefined. */
function decide (signals: Signals): Entry | undefined {
  let best: Entry | undefined
  const consider = (entry: Entry): void => {
    if ((best === undefined || entry.order < best.order) && entry.matches(signals)) best = entry
  }
  if (signals.code !== null) {
    BY_CODE.get(signals.code)?.forEach(consider)
    CODE_PREFIXED.forEach(consider)
  }
  for (const name of signals.names) BY_NAME.get(name)?.forEach(consider)
  if (signals.names.size > 0) NAME_PREFIXED.forEach(consider)
  for (const code of signals.responseCodes) BY_RESPONSE_CODE.get(code.toLowerCase())?.forEach(consider)
  for (const entry of WORDING) {
    if (best !== undefined && entry.order > best.order) break
    if (entry.matches(signals)) return entry
  }
  return best
}

/**
 * The reference semantics of the table, tried entry by entry in evaluation order: slower, kept so
 * tests can hold classifyFailure's indexed lookup to it.
 */
export function classifyFailureByScan (input: ClassificationInput): Classification {
  if (input.category !== undefined && isCategoryId(input.category)) return classifyFailure(input)
  const signals = readSignals(input)
  const decided = ORDERED.find((entry) => entry.matches(signals))?.rule
  if (decided === undefined) return { category: 'unclassified', rule: FALLBACK_RULE, side: 'unknown' }
  return { category: decided.category, rule: decided.id, side: decided.side }
}

/**
 * Classifies a failure, strongest signal first: an explicit category, then the first rule
 * of the table by strength (see STRENGTH), then `unclassified`. Pure and deterministic.
 */
export function classifyFailure (input: ClassificationInput): Classification {
  if (input.category !== undefined && isCategoryId(input.category)) {
    return { category: input.category, rule: EXPLICIT_RULE, side: CATEGORIES[input.category].side }
  }
  const decided = decide(readSignals(input))?.rule
  if (decided === undefined) return { category: 'unclassified', rule: FALLBACK_RULE, side: 'unknown' }
  return { category: decided.category, rule: decided.id, side: decided.side }
}
