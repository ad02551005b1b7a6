import fc from 'fast-check'
import t from 'tap'
import { CLASSIFIER_RULES, MESSAGE_LIMIT, classifyFailure, classifyFailureByScan } from '../../src/domain/classifier.js'
import { CATEGORY_IDS, isCategoryId } from '../../src/domain/types.js'

const RULE_IDS = new Set(CLASSIFIER_RULES.map((rule) => rule.id))
const KNOWN_CODES = CLASSIFIER_RULES.flatMap((rule) => rule.kind === 'code' ? [...(rule.match.codes ?? []), ...(rule.match.names ?? [])] : [])
const PATTERNS = CLASSIFIER_RULES.flatMap((rule) => rule.kind === 'wording' ? [{ id: rule.id, pattern: rule.match.pattern }] : [])

/**
 * Structural check that a pattern cannot backtrack catastrophically or quadratically without bound:
 * no unbounded quantifier (* + {n,}), no bounded one wider than 200, no quantified group other than
 * an optional one (a group matches at most once, so nothing nests), no backreference.
 */
function regexHazards (source: string): string[] {
  const hazards: string[] = []
  let i = 0

  const readQuantifier = (): string | null => {
    // A trailing ? only makes the quantifier lazy; it does not change what it can repeat.
    const found = /^([*+?]|\{\d{1,5}(?:,\d{0,5})?\})\??/.exec(source.slice(i))
    if (found === null) return null
    i += found[0].length
    return found[1]
  }
  const checkAtomQuantifier = (): void => {
    const quantifier = readQuantifier()
    if (quantifier === null || quantifier === '?') return
    if (quantifier === '*' || quantifier === '+' || /,\}$/.test(quantifier)) {
      hazards.push(`unbounded quantifier ${quantifier} at ${i}`)
      return
    }
    const max = Number(/(\d+)\}$/.exec(quantifier)?.[1])
    if (max > 200) hazards.push(`quantifier ${quantifier} wider than 200 at ${i}`)
  }

  while (i < source.length) {
    const c = source[i]
    if (c === '\\') {
      const next = source[i + 1] ?? ''
      if (/[1-9k]/.test(next)) hazards.push(`backreference at ${i}`)
      i += 2
      checkAtomQuantifier()
    } else if (c === '[') {
      i++
      if (source[i] === '^') i++
      if (source[i] === ']') i++
      while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1
      i++
      checkAtomQuantifier()
    } else if (c === '(') {
      i++
      if (source[i] === '?') {
        const prefix = /^\?(?::|=|!|<=|<!|<[A-Za-z]\w{0,30}>)/.exec(source.slice(i))
        i += prefix === null ? 1 : prefix[0].length
      }
    } else if (c === ')') {
      i++
      const quantifier = readQuantifier()
      if (quantifier !== null && quantifier !== '?' && quantifier !== '{0,1}') {
        hazards.push(`quantified group ${quantifier} at ${i}`)
      }
    } else if (c === '|' || c === '^' || c === '$') {
      i++
    } else {
      i++
      checkAtomQuantifier()
    }
  }
  return hazards
}

t.test('the structural regex check catches the dangerous shapes', async (t) => {
  t.not(regexHazards('(a+)+').length, 0, '(a+)+')
  t.not(regexHazards('(?:ab|a)*c').length, 0, 'starred alternation')
  t.not(regexHazards('.*x').length, 0, 'unbounded dot')
  t.not(regexHazards('(?:\\w{1,5}){2,3}').length, 0, 'quantified group with inner quantifier')
  t.not(regexHazards('a{1,}').length, 0, 'open-ended bound')
  t.not(regexHazards('a.{0,5000}b').length, 0, 'very wide bound')
  t.not(regexHazards('(a)\\1').length, 0, 'backreference')
  t.same(regexHazards('\\bfoo(?:bar|baz)?\\b.{0,40}[a-z+*]{1,3}qux'), [], 'bounded and non-nested passes')
})

t.test('every wording pattern is bounded and non-nested', async (t) => {
  for (const { id, pattern } of PATTERNS) {
    t.same(regexHazards(pattern.source), [], id)
  }
})

t.test('every wording pattern is case-insensitive and stateless', async (t) => {
  for (const { id, pattern } of PATTERNS) {
    t.ok(pattern.flags.includes('i'), `${id} has the i flag`)
    t.notOk(pattern.global || pattern.sticky, `${id} has neither g nor y, so test() keeps no lastIndex`)
  }
})

// Literal runs of the rule phrases: repeated, they are the inputs most likely to make a pattern backtrack.
const FRAGMENTS = [...new Set(PATTERNS.flatMap(({ pattern }) => pattern.source.match(/[A-Za-z][A-Za-z' _-]{1,40}/g) ?? []))]
const EXTRA_FRAGMENTS = ['ErrorServerBusy ', 'SslStreamFailureException ', 'StalledDueToTarget_Processor ', 'ERR_OVERQUOTA ', '[OVERQUOTA] ', 'target ', 'connection to the server ', 'Host2 ', 'user1 ', '[', '[A', '[AUTHENTICATIONFAILED', ' ', 'temporary failure ', 'timed', 'x']

t.test('adversarial 8 KiB inputs built from the rule phrases classify fine', async (t) => {
  let classified = 0
  for (const fragment of [...FRAGMENTS, ...EXTRA_FRAGMENTS]) {
    const message = fragment.repeat(Math.ceil(MESSAGE_LIMIT / fragment.length)).slice(0, MESSAGE_LIMIT)
    const result = classifyFailure({ message })
    if (!isCategoryId(result.category)) t.fail(`invalid category for ${fragment}`)
    classified++
  }
  t.ok(classified > 100, `${classified} adversarial messages classified`)
})

const anyCode = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.constantFrom(...KNOWN_CODES),
  fc.string({ maxLength: 64 }),
  fc.integer({ min: 0, max: 999 }).map(String)
)
const anyEngine = fc.option(fc.oneof(fc.constantFrom('imapsync', 'exchange', 'ews', 'graph', 'imap', 'other'), fc.string({ maxLength: 20 })), { nil: undefined })
const anyCategory = fc.option(fc.constantFrom(...CATEGORY_IDS), { nil: undefined })
// Any code point, lone surrogates included (cheaper to build than fast-check's 'binary' unit).
const codePoint = fc.integer({ min: 0, max: 0x10ffff }).map((point) => String.fromCodePoint(point))
const phraseMessage = fc
  .array(fc.oneof(fc.constantFrom(...FRAGMENTS, ...EXTRA_FRAGMENTS), fc.string({ maxLength: 12 })), { maxLength: 600 })
  .map((parts) => parts.join(' '))

const anyMessage = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: MESSAGE_LIMIT, size: 'max' }),
  fc.string({ unit: codePoint, maxLength: MESSAGE_LIMIT, size: 'max' }),
  phraseMessage
)

t.test('any input classifies without throwing, to a known category, the same way twice', async (t) => {
  fc.assert(
    fc.property(anyCategory, anyCode, anyMessage, anyEngine, (category, code, message, engine) => {
      const input = { category, code, message, context: { engine } }
      const first = classifyFailure(input)
      const second = classifyFailure(input)
      if (!isCategoryId(first.category)) return false
      if (!(first.rule === 'explicit' || first.rule === 'fallback' || RULE_IDS.has(first.rule))) return false
      if (category !== undefined && (first.category !== category || first.rule !== 'explicit')) return false
      return JSON.stringify(first) === JSON.stringify(second)
    }),
    { numRuns: 150 }
  )
  t.pass('property holds')
})

t.test('the indexed lookup agrees with trying every rule in order, on any input', async (t) => {
  fc.assert(
    fc.property(anyCode, anyMessage, anyEngine, (code, message, engine) => {
      const input = { code, message, context: { engine } }
      return JSON.stringify(classifyFailure(input)) === JSON.stringify(classifyFailureByScan(input))
    }),
    { numRuns: 200 }
  )
  t.pass('property holds')
})

t.test('only the first 8 KiB of a message count', async (t) => {
  fc.assert(
    fc.property(phraseMessage, fc.string({ maxLength: 200 }), (message, tail) => {
      const head = message.padEnd(MESSAGE_LIMIT, '.').slice(0, MESSAGE_LIMIT)
      return classifyFailure({ message: head }).rule === classifyFailure({ message: head + tail }).rule
    }),
    { numRuns: 50 }
  )
  t.pass('property holds')
})

t.test('an explicit category always wins', async (t) => {
  fc.assert(
    fc.property(fc.constantFrom(...CATEGORY_IDS), anyCode, phraseMessage, (category, code, message) => {
      const result = classifyFailure({ category, code, message })
      return result.category === category && result.rule === 'explicit'
    }),
    { numRuns: 100 }
  )
  t.pass('property holds')
})
