import t from 'tap'
import {
  changePayload, digestPayload, generateWebhookSecret, MAX_ATTEMPTS, MAX_PAYLOAD_BYTES, nextAttemptAt, parseRetryAfter, RETRY_DELAYS_MS, subscriptionMatches
} from '../../src/domain/webhooks.js'
import { foldDigest, summarizeDigest } from '../../src/domain/digest.js'
import type { Change } from '../../src/domain/changes.js'

function change (seq: number, overrides: Partial<Change> = {}): Change {
  return {
    seq,
    tenantId: 'default',
    type: 'failure.opened',
    batchId: 'batch-1',
    mailbox: `user${seq}@contoso.com`,
    category: 'source_sign_in_failed',
    rule: 'imapsync.exit.161',
    status: 'open',
    occurredAt: Date.parse('2026-11-23T10:00:00Z'),
    recordedAt: Date.parse('2026-11-23T10:00:01Z'),
    failure: { firstSeenAt: 0, lastSeenAt: 0, occurrences: 1, reopenCount: 0, lastCode: '161', lastMessage: 'login failed', resolvedAt: null, context: {} },
    ...overrides
  }
}

t.test('a secret is whsec_ and the base64 of at least 24 random bytes', async (t) => {
  const secret = generateWebhookSecret()
  t.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/)
  t.ok(Buffer.from(secret.slice(6), 'base64').length >= 24)
  t.not(generateWebhookSecret(), secret)
})

t.test('the retry schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, with +-10 % jitter', async (t) => {
  t.same(RETRY_DELAYS_MS, [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000])
  t.equal(nextAttemptAt(1000, 1, 0.5), 1000 + 5000)
  t.equal(nextAttemptAt(0, 2, 0), 270_000)
  t.equal(nextAttemptAt(0, 2, 0.9999999), 330_000)
  t.equal(nextAttemptAt(0, MAX_ATTEMPTS, 0.5), null, 'after the eighth attempt none is left')
  t.equal(nextAttemptAt(0, 1, 0.5, 120_000), 120_000, 'a longer Retry-After wins')
  t.equal(nextAttemptAt(0, 3, 0.5, 1000), 1_800_000, 'a shorter one does not shorten the schedule')
  t.equal(nextAttemptAt(0, 1, 0.5, 10 * 86_400_000), 86_400_000, 'capped at a day')
})

t.test('Retry-After is read as seconds or as an HTTP date', async (t) => {
  t.equal(parseRetryAfter('120', 0), 120_000)
  t.equal(parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', Date.parse('2026-10-21T07:27:00Z')), 60_000)
  t.equal(parseRetryAfter('soon', 0), null)
  t.equal(parseRetryAfter(undefined, 0), null)
})

t.test('filters: empty lists match everything, otherwise each must match', async (t) => {
  const all = { eventTypes: [], batchIds: [], categories: [] }
  t.ok(subscriptionMatches(all, change(1)))
  t.notOk(subscriptionMatches({ ...all, eventTypes: ['failure.stalled'] }, change(1)))
  t.notOk(subscriptionMatches({ ...all, batchIds: ['batch-2'] }, change(1)))
  t.ok(subscriptionMatches({ ...all, categories: ['source_sign_in_failed'], batchIds: ['batch-1'] }, change(1)))
})

t.test('a change body over 20 KB has its engine message shortened, marked as such', async (t) => {
  const long = change(1, { failure: { ...change(1).failure, lastMessage: 'é'.repeat(8192) + '€'.repeat(4000) } })
  const body = changePayload(long)
  t.ok(Buffer.byteLength(body) <= MAX_PAYLOAD_BYTES, `${Buffer.byteLength(body)} bytes`)
  const parsed = JSON.parse(body)
  t.equal(parsed.data.failure.lastMessageTruncated, true)
  t.match(parsed.data.failure.lastMessage, /…$/)
  t.notOk('lastMessageTruncated' in JSON.parse(changePayload(change(2))).data.failure)
})

t.test('a digest lists the newest changes and fewer when the body would pass 20 KB', async (t) => {
  const changes = Array.from({ length: 250 }, (_, index) => change(index + 1, { mailbox: `${'x'.repeat(300)}${index}@contoso.com` }))
  const summary = summarizeDigest('batch-1', changes)
  const body = JSON.parse(digestPayload(summary, 1, 250, 0))
  t.ok(body.data.changes.length < 100 && body.data.changes.length > 0)
  t.equal(body.data.total, 250)
  t.equal(body.data.more, 250 - body.data.changes.length)
  t.equal(body.data.changes[body.data.changes.length - 1].seq, 250, 'the newest are kept')
})

t.test('foldDigest over chunks gives what summarizeDigest gives over all', async (t) => {
  const changes = Array.from({ length: 350 }, (_, index) => change(index + 1, { type: index % 3 === 0 ? 'failure.resolved' : 'failure.opened', category: index % 2 === 0 ? 'throttled' : 'source_sign_in_failed' }))
  let folded = summarizeDigest('batch-1', [])
  for (let start = 0; start < changes.length; start += 100) folded = foldDigest(folded, changes.slice(start, start + 100))
  t.same(folded, summarizeDigest('batch-1', changes))
  t.same(foldDigest(summarizeDigest('b', []), [change(1)], 0).changes, [])
})
