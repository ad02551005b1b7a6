import { readFileSync } from 'node:fs'
import t from 'tap'
import { classifyFailure } from '../../src/domain/classifier.js'
import { isCategoryId } from '../../src/domain/types.js'

// The shared corpus lives beside the repository: real engine output with the expected category.
const CORPUS = new URL('../../../shared/corpus/signals.jsonl', import.meta.url)

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
