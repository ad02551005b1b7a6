import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { RULES_END, RULES_START, rulesBlockOf, rulesTableMarkdown, withRulesTable } from '../scripts/write-rules-table.js'
import { CLASSIFIER_RULES } from '../src/domain/classifier-rules.js'

const README = new URL('../README.md', import.meta.url)

t.test('README.md documents the current rule table', async (t) => {
  t.ok(existsSync(README), 'README.md exists')
  const block = existsSync(README) ? rulesBlockOf(readFileSync(README, 'utf8')) : null
  t.not(block, null, `README.md has the ${RULES_START} and ${RULES_END} markers`)
  t.equal(block?.trim(), rulesTableMarkdown(), 'the README rule table is out of date: run `npm run rules`')
})

t.test('the rule table has a header, a separator and one row a rule', async (t) => {
  const rows = rulesTableMarkdown().split('\n')
  t.equal(rows.length, CLASSIFIER_RULES.length + 2)
  for (const rule of CLASSIFIER_RULES) t.ok(rows.some((row) => row.startsWith(`| \`${rule.id}\` |`)), rule.id)
  const columns = rows.map((row) => row.split(/(?<!\\)\|/).length)
  t.same(new Set(columns).size, 1, 'every row has the same number of cells')
})

t.test('rewriting the block keeps the rest of the README and is idempotent', async (t) => {
  const readme = `# Title\n\nBefore.\n\n${RULES_START}\nold table\n${RULES_END}\n\nAfter.\n`
  const once = withRulesTable(readme, rulesTableMarkdown())
  t.equal(once, `# Title\n\nBefore.\n\n${RULES_START}\n${rulesTableMarkdown()}\n${RULES_END}\n\nAfter.\n`)
  t.equal(withRulesTable(once, rulesTableMarkdown()), once)
  t.throws(() => withRulesTable('# No markers\n', 'x'), /markers/)
})
