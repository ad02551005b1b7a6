import t from 'tap'
import { CATEGORIES, CATEGORY_LIST, categoryInfo } from '../../src/domain/categories.js'
import { CATEGORY_IDS } from '../../src/domain/types.js'

t.test('every category id has info that carries its own id and non-empty texts', async (t) => {
  for (const id of CATEGORY_IDS) {
    const info = categoryInfo(id)
    t.equal(info.id, id, id)
    t.ok(info.title.length > 0, `${id} has a title`)
    t.ok(info.summary.length > 0, `${id} has a summary`)
    t.ok(info.retryAdvice.length > 0, `${id} has retry advice`)
  }
})

t.test('the category list follows CATEGORY_IDS order', async (t) => {
  t.same(CATEGORY_LIST.map((info) => info.id), [...CATEGORY_IDS])
})

t.test('side, blocking and retryable match the product table', async (t) => {
  const table = Object.fromEntries(CATEGORY_LIST.map((info) => [info.id, [info.side, info.blocking, info.retryable]]))
  t.same(table, {
    source_sign_in_failed: ['source', true, false],
    source_unreachable: ['source', true, true],
    cloud_mailbox_full: ['cloud', true, false],
    sync_stalled: ['source', true, true],
    source_tls_failed: ['source', true, false],
    throttled: ['either', true, true],
    server_busy: ['either', true, true],
    cloud_sign_in_failed: ['cloud', true, false],
    cloud_unreachable: ['cloud', true, true],
    cloud_mailbox_missing: ['cloud', true, false],
    items_skipped: ['either', false, false],
    unclassified: ['unknown', true, null]
  })
})

t.test('only items_skipped is non-blocking', async (t) => {
  t.same(CATEGORY_LIST.filter((info) => !info.blocking).map((info) => info.id), ['items_skipped'])
})

t.test('every blocking category says new mail stops reaching the cloud mailbox', async (t) => {
  for (const info of CATEGORY_LIST.filter((info) => info.blocking)) {
    t.match(info.summary, 'New mail stops reaching the cloud mailbox until this is fixed.', info.id)
  }
})

t.test('sync_stalled advises starting a new migration batch', async (t) => {
  t.equal(CATEGORIES.sync_stalled.retryAdvice, 'Yes: once the on-premises server checks pass, start a new migration batch for the mailboxes that stopped synchronizing.')
})

t.test('the seed\'s first four categories have the dashboard titles', async (t) => {
  t.same(CATEGORY_LIST.slice(0, 4).map((info) => info.title), [
    "Couldn't sign in to the on-premises mailbox",
    "Couldn't connect to the on-premises server",
    'The cloud mailbox is full',
    'The mailbox is no longer being synchronized'
  ])
})

t.test('category info cannot be changed at run time', async (t) => {
  t.ok(Object.isFrozen(CATEGORIES))
  t.ok(Object.isFrozen(CATEGORY_LIST))
  t.ok(CATEGORY_LIST.every((info) => Object.isFrozen(info)))
})
