import { readFileSync } from 'node:fs'
import t from 'tap'
import { CLASSIFIER_RULES, classifyFailure } from '../../src/domain/classifier.js'
import { isCategoryId } from '../../src/domain/types.js'

// Real engine output with the expected category, copied from the product's shared corpus
// (shared/corpus/signals.jsonl) so a clone tests on its own.
const CORPUS = new URL('../fixtures/signals.jsonl', import.meta.url)

interface Signal {
  engine: string
  code: string | null
  message: string
  expect: string
}

const lines = readFileSync(CORPUS, 'utf8').split('\n')

t.ok(lines.filter((line) => line.trim() !== '').length >= 43, 'the corpus has every signal')

lines.forEach((line, index) => {
  if (line.trim() === '') return
  const signal = JSON.parse(line) as Signal
  t.test(`corpus line ${index + 1} (${signal.engine}) is ${signal.expect}`, async (t) => {
    t.ok(isCategoryId(signal.expect), 'the expected category is a known one')
    const result = classifyFailure({ code: signal.code, message: signal.message, context: { engine: signal.engine } })
    t.equal(result.category, signal.expect, `decided by rule ${result.rule}`)
  })
})

t.test('rule samples are phrased apart from the corpus, so the rules are shown to generalise', async (t) => {
  const corpus = new Set(lines.filter((line) => line.trim() !== '').map((line) => (JSON.parse(line) as Signal).message))
  for (const rule of CLASSIFIER_RULES) {
    for (const sample of rule.samples) t.notOk(corpus.has(sample.message), `${rule.id}: ${sample.message}`)
  }
})
