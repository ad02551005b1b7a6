import { PgDialect } from 'drizzle-orm/pg-core'
import pg from 'pg'
import t from 'tap'
import { classifyEvent, type EventInput } from '../src/domain/index.js'
import type { BoundFilter } from '../src/repositories/stored-rows.js'
import { TEST_DATABASE_URL, createTestSchema, failedEvent } from './helpers/app.js'

// The report page's two queries on PostgreSQL must cost a page, not a batch, whether or not the
// planner has statistics (autovacuum may not have analysed a table loaded a minute ago): the
// rows changed since the snapshot are found by failures_seq_idx, and the rows in place are
// walked in report order on a report index and stopped at the page's limit, never sorted. At
// 10,000 and 100,000 mailboxes the planner without statistics did the opposite (16 to 168 ms).

const SKIP = TEST_DATABASE_URL === undefined ? 'PostgreSQL only (set TEST_DATABASE_URL)' : false

interface PlanNode { 'Node Type': string, 'Index Name'?: string, Plans?: PlanNode[] }

function nodes (plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)]
}

/** The failures scan of the query's plan (subplans of the select list left out), and whether any step sorts. */
function shape (plan: PlanNode): { index: string | undefined, sorts: boolean } {
  const all = nodes(plan)
  const scan = all.find((node) => node['Index Name']?.startsWith('failures_') === true || node['Node Type'] === 'Seq Scan')
  return { index: scan?.['Index Name'] ?? scan?.['Node Type'], sorts: all.some((node) => node['Node Type'].includes('Sort')) }
}

t.test('PostgreSQL: the report\'s queries seek their index for one page, with and without statistics', { skip: SKIP }, async (t) => {
  const url = TEST_DATABASE_URL as string
  const schema = await createTestSchema(url)
  const { PostgresFailureRepository } = await import('../src/repositories/postgres.js')
  const repository = await PostgresFailureRepository.open({ url, poolSize: 2, schema: schema.name })
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema.name}` })
  await client.connect()
  t.teardown(async () => {
    await client.end()
    await repository.close()
    await schema.drop()
  })
  // One open failure a mailbox, of five categories, as the bench's batch has them.
  const categories = ['source_sign_in_failed', 'source_unreachable', 'cloud_mailbox_full', 'throttled', 'items_skipped']
  const events = Array.from({ length: 10_000 }, (_, index) => classifyEvent(failedEvent({
    id: `evt-${index}`,
    batchId: 'bench-batch',
    mailbox: `user${index}@contoso.com`,
    occurredAt: new Date(Date.parse('2026-11-20T00:00:00Z') + index * 10).toISOString(),
    failure: { category: categories[index % categories.length], message: `failure ${index} of ${categories[index % categories.length]}` }
  }) as unknown as EventInput))
  for (let start = 0; start < events.length; start += 1000) await repository.recordEvents('default', events.slice(start, start + 1000), Date.now())
  const snapshotSeq = await repository.currentSeq()
  const queries = (repository as unknown as { queries: { reportQueries: (...args: unknown[]) => { unchanged: { toSQL: () => { sql: string, params: unknown[] } }, moved: { toSQL: () => { sql: string, params: unknown[] } } } } }).queries
  // As listFailures runs them: in a transaction that starts with REPORT_PLANNER.
  const { REPORT_PLANNER } = await import('../src/repositories/postgres.js')
  const setting = new PgDialect().sqlToQuery(REPORT_PLANNER).sql
  const explain = async (query: { toSQL: () => { sql: string, params: unknown[] } }): Promise<PlanNode> => {
    const { sql, params } = query.toSQL()
    await client.query('begin isolation level repeatable read read only')
    try {
      await client.query(setting)
      const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`explain (format json) ${sql}`, params)
      return rows[0]['QUERY PLAN'][0].Plan
    } finally {
      await client.query('rollback')
    }
  }
  const filters: Record<string, BoundFilter> = {
    open: { status: 'open', categories: [], mailbox: null, since: null, until: null },
    all: { status: 'all', categories: [], mailbox: null, since: null, until: null },
    'open since a time': { status: 'open', categories: [], mailbox: null, since: Date.parse('2026-11-19T00:00:00Z'), until: null }
  }
  for (const statistics of ['without statistics', 'after ANALYZE']) {
    if (statistics === 'after ANALYZE') await client.query('analyze failures')
    for (const [name, filter] of Object.entries(filters)) {
      const built = queries.reportQueries('default', 'bench-batch', filter, null, snapshotSeq, 51)
      const moved = shape(await explain(built.moved))
      t.equal(moved.index, 'failures_seq_idx', `${statistics}, ${name}: the rows changed since the snapshot come from the seq index (${moved.index})`)
      const unchanged = shape(await explain(built.unchanged))
      t.match(unchanged.index, /^failures_report_(status|all)_idx$/, `${statistics}, ${name}: the rows in place are walked on a report index (${unchanged.index})`)
      t.equal(unchanged.sorts, false, `${statistics}, ${name}: nothing is sorted`)
    }
  }
})
