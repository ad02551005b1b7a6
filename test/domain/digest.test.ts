import t from 'tap'
import { digestDueAt, summarizeDigest } from '../../src/domain/digest.js'
import type { Change, ChangeType } from '../../src/domain/changes.js'
import type { CategoryId } from '../../src/domain/types.js'

const timing = { groupWaitMs: 30_000, groupIntervalMs: 300_000 }

function change (seq: number, type: ChangeType = 'failure.opened', category: CategoryId = 'source_sign_in_failed'): Change {
  return {
    seq,
    tenantId: 'default',
    type,
    batchId: 'b',
    mailbox: `u${seq}@contoso.com`,
    category,
    rule: 'r',
    status: type === 'failure.resolved' ? 'resolved' : 'open',
    occurredAt: seq,
    recordedAt: seq,
    failure: { firstSeenAt: seq, lastSeenAt: seq, occurrences: 1, reopenCount: 0, lastCode: null, lastMessage: 'm', resolvedAt: null, context: {} }
  }
}

t.test('nothing pending is never due', async (t) => {
  t.equal(digestDueAt({ firstPendingAt: null, lastSentAt: null }, timing), null)
  t.equal(digestDueAt({ firstPendingAt: null, lastSentAt: 1000 }, timing), null)
})

t.test('the first message of a quiet group waits groupWait', async (t) => {
  t.equal(digestDueAt({ firstPendingAt: 1000, lastSentAt: null }, timing), 31_000)
})

t.test('a message soon after the last one waits for groupInterval', async (t) => {
  t.equal(digestDueAt({ firstPendingAt: 40_000, lastSentAt: 31_000 }, timing), 331_000)
})

t.test('a change long after the last message is a quiet group again: groupWait only', async (t) => {
  t.equal(digestDueAt({ firstPendingAt: 1_000_000, lastSentAt: 31_000 }, timing), 1_030_000)
})

t.test('groupWait still applies when the interval has almost passed', async (t) => {
  // lastSent + interval = 331,000, first pending + wait = 330,000 + 30,000.
  t.equal(digestDueAt({ firstPendingAt: 330_000, lastSentAt: 31_000 }, timing), 360_000)
})

t.test('a digest counts every change and lists the newest max, oldest first', async (t) => {
  const changes = [
    ...Array.from({ length: 150 }, (_, i) => change(i + 1)),
    ...Array.from({ length: 50 }, (_, i) => change(i + 151, 'failure.resolved', 'throttled'))
  ].reverse()
  const digest = summarizeDigest('b', changes)
  t.equal(digest.total, 200)
  t.equal(digest.changes.length, 100)
  t.equal(digest.more, 100)
  t.same(digest.changes.map((c) => c.seq), Array.from({ length: 100 }, (_, i) => i + 101))
  t.same(digest.byCategory, { source_sign_in_failed: 150, throttled: 50 })
  t.same(digest.byType, { 'failure.opened': 150, 'failure.resolved': 50 })
  t.equal(digest.batchId, 'b')
})

t.test('a small digest lists everything and has no more', async (t) => {
  const digest = summarizeDigest('b', [change(2), change(1, 'failure.stalled', 'sync_stalled')], 10)
  t.same(digest.changes.map((c) => c.seq), [1, 2])
  t.equal(digest.more, 0)
  t.same(digest.byType, { 'failure.opened': 1, 'failure.stalled': 1 })
})

t.test('max 0 lists nothing and counts everything', async (t) => {
  t.match(summarizeDigest('b', [change(1)], 0), { total: 1, changes: [], more: 1 })
})
