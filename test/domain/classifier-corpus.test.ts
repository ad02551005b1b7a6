import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { CLASSIFIER_RULES, classifyFailure } from '../../src/domain/classifier.js'
import { isCategoryId } from '../../src/domain/types.js'
import { readSignals as signalsOf } from '../helpers/signals.js'

// Real engine output with the expected category, copied from the product's shared corpus
// (shared/corpus/signals.jsonl and signals-real.jsonl) so a clone tests on its own.
const FILES = [
  { name: 'signals.jsonl', atLeast: 43 },
  { name: 'signals-real.jsonl', atLeast: 39 }
] as const

for (const { name, atLeast } of FILES) {
  const signals = signalsOf(name)
  t.ok(signals.length >= atLeast, `${name} has every signal (${signals.length})`)

  signals.forEach((signal, index) => {
    t.test(`${name} line ${index + 1} (${signal.engine}) is ${signal.expect}`, async (t) => {
      const right = [signal.expect, ...(signal.alsoRight ?? [])]
      t.ok(right.every(isCategoryId), 'the expected categories are known ones')
      const result = classifyFailure({ code: signal.code, message: signal.message, context: { engine: signal.engine } })
      t.ok(right.includes(result.category), `${result.category} by rule ${result.rule}, expected ${right.join(' or ')}`)
    })
  })
}

t.test('the fixtures are the shared corpus, when it sits beside the repository', async (t) => {
  for (const { name } of FILES) {
    const shared = new URL(`../../../shared/corpus/${name}`, import.meta.url)
    if (!existsSync(shared)) {
      t.comment(`${name}: no shared corpus beside this clone`)
      continue
    }
    t.equal(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'), readFileSync(shared, 'utf8'), `${name} is up to date`)
  }
})

t.test('rule samples are phrased apart from the corpus, so the rules are shown to generalise', async (t) => {
  const corpus = new Set(FILES.flatMap(({ name }) => signalsOf(name).map((signal) => signal.message)))
  for (const rule of CLASSIFIER_RULES) {
    for (const sample of rule.samples) t.notOk(corpus.has(sample.message), `${rule.id}: ${sample.message}`)
  }
})
