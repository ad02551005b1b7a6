import t from 'tap'
import { TEST_DATABASE_URL, freshRepository } from './helpers/app.js'

// Says loudly, once per run, which store the suite ran on.
if (TEST_DATABASE_URL === undefined) {
  const notice = 'PostgreSQL tests SKIPPED: the suite ran on SQLite only. Set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test) or run `npm run test:pg`.'
  process.stderr.write(`\n${'!'.repeat(notice.length)}\n${notice}\n${'!'.repeat(notice.length)}\n\n`)
  t.comment(notice)
  t.test('the suite runs on PostgreSQL', { skip: notice }, async () => {})
} else {
  t.test('the suite runs on PostgreSQL', async (t) => {
    const repository = await freshRepository()
    t.teardown(async () => { await repository.close() })
    t.equal(repository.dialect, 'postgres')
    t.same(await repository.readiness(), { reachable: true, migrated: true })
  })
}
