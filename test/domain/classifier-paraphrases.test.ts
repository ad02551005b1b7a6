import fc from 'fast-check'
import t from 'tap'
import { CLASSIFIER_RULES, classifyFailure } from '../../src/domain/classifier.js'
import { CATEGORY_IDS } from '../../src/domain/types.js'
import { readSignals } from '../helpers/signals.js'
import type { Signal } from '../helpers/signals.js'

// Lines of our own for every category, written in other hosts, users and word orders than the
// corpus (test/fixtures/paraphrases.jsonl): the bar that says the rules generalise.
const PARAPHRASES = readSignals('paraphrases.jsonl')
const CORPUS = [...readSignals('signals.jsonl'), ...readSignals('signals-real.jsonl')]

function classify (signal: Signal, message = signal.message): string {
  return classifyFailure({ code: signal.code, message, context: { engine: signal.engine } }).category
}

PARAPHRASES.forEach((signal, index) => {
  t.test(`paraphrase ${index + 1} is ${signal.expect}: ${signal.message.slice(0, 60)}`, async (t) => {
    const result = classifyFailure({ code: signal.code, message: signal.message, context: { engine: signal.engine } })
    t.equal(result.category, signal.expect, `decided by rule ${result.rule}`)
  })
})

t.test('every category the rules can give has at least three paraphrases', async (t) => {
  // sync_stalled is only ever given by the service's stall detection, never by a rule.
  for (const category of CATEGORY_IDS.filter((id) => id !== 'sync_stalled')) {
    const count = PARAPHRASES.filter((signal) => signal.expect === category).length
    t.ok(count >= 3, `${category}: ${count}`)
  }
})

t.test('paraphrases are neither corpus lines nor rule samples', async (t) => {
  const taken = new Set([...CORPUS.map((signal) => signal.message), ...CLASSIFIER_RULES.flatMap((rule) => rule.samples.map((sample) => sample.message))])
  for (const signal of PARAPHRASES) t.notOk(taken.has(signal.message), signal.message)
})

// Swapping what varies between tenants (host names, addresses, user names, numbers, GUIDs)
// must never change the category: the rules read codes and wording, not particulars.
const SYLLABLES = ['ka', 'zo', 'mi', 'ru', 'pe', 'lu', 'va', 'ne', 'bo', 'fi']
const word = fc.array(fc.constantFrom(...SYLLABLES), { minLength: 2, maxLength: 4 }).map((parts) => parts.join(''))
const hostName = fc.tuple(word, word, fc.constantFrom('com', 'net', 'org', 'lan', 'example')).map((parts) => parts.join('.'))
const particulars = fc.record({
  hosts: fc.array(hostName, { minLength: 1, maxLength: 4 }),
  users: fc.array(word, { minLength: 1, maxLength: 4 }),
  emails: fc.array(fc.tuple(word, hostName).map(([user, host]) => `${user}@${host}`), { minLength: 1, maxLength: 4 }),
  numbers: fc.array(fc.nat({ max: 999999 }).map(String), { minLength: 1, maxLength: 8 }),
  ips: fc.array(fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((octets) => octets.join('.')), { minLength: 1, maxLength: 3 }),
  guids: fc.array(fc.uuid(), { minLength: 1, maxLength: 3 })
})
type Particulars = typeof particulars extends fc.Arbitrary<infer T> ? T : never

const GUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi
const EMAIL = /\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,5}\b/g
const BRACKETED_USER = /(\buser \[)[^\]\s@]{1,64}(\])/g
const HOST = /\b(?:[a-z0-9-]{1,63}\.){1,5}(?:com|net|org|local|lan|example)\b/gi
const IPV4 = /\b\d{1,3}(?:\.\d{1,3}){3}\b/g
// Product names keep their numbers (Office 365); a number glued to a word (Host1, 120s) is no particular.
const NUMBER = /(?<![\w.%-])(?<!(?:Office|Microsoft) )\d{1,12}(?![\w%.-])/g

function swap (message: string, p: Particulars): string {
  const next = (values: readonly string[]): () => string => {
    let i = 0
    return () => values[i++ % values.length]
  }
  const guid = next(p.guids)
  const email = next(p.emails)
  const user = next(p.users)
  const host = next(p.hosts)
  const ip = next(p.ips)
  const number = next(p.numbers)
  return message
    .replace(GUID, guid)
    .replace(EMAIL, email)
    .replace(BRACKETED_USER, (_, open: string, close: string) => `${open}${user()}${close}`)
    .replace(HOST, host)
    .replace(IPV4, ip)
    .replace(NUMBER, number)
}

t.test('the swap changes the particulars of real lines', async (t) => {
  const sample = { hosts: ['kazo.mi.net'], users: ['rupe'], emails: ['luva@nebo.org'], numbers: ['7'], ips: ['1.2.3.4'], guids: ['00000000-0000-4000-8000-000000000000'] }
  t.equal(
    swap('Host2 failure: Error login on [outlook.office365.com] with user [alice@contoso.com] auth [LOGIN]: 2 NO LOGIN failed.', sample),
    'Host2 failure: Error login on [kazo.mi.net] with user [luva@kazo.mi.net] auth [LOGIN]: 7 NO LOGIN failed.'
  )
  t.equal(swap('Host1 failure: can not open imap connection on host1 [10.0.0.25] with user [bob]: timeout waiting 120s', sample),
    'Host1 failure: can not open imap connection on host1 [1.2.3.4] with user [rupe]: timeout waiting 120s')
  t.equal(swap("Cannot find a recipient that has mailbox GUID '0f6c4a2e-91b7-4d3c-a5e8-2b9d1c7f6e40' on Office 365", sample),
    "Cannot find a recipient that has mailbox GUID '00000000-0000-4000-8000-000000000000' on Office 365")
})

t.test('swapping hosts, users, numbers and GUIDs never changes the category', async (t) => {
  let lines = 0
  for (const signal of [...CORPUS, ...PARAPHRASES]) {
    const category = classify(signal)
    fc.assert(
      fc.property(particulars, (p) => classify(signal, swap(signal.message, p)) === category),
      { numRuns: 15 }
    )
    lines++
  }
  t.ok(lines > 130, `${lines} lines, each swapped 15 times`)
})
