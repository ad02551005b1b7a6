import t from 'tap'
import {
  etagMatches, formatDuration, keepDetectedFailures, mailboxCounts, mailboxSyncState, STALL_RULE, etagOf,
  type FailureState, type MailboxState
} from '../../src/domain/index.js'

const stall: FailureState = {
  category: 'sync_stalled',
  status: 'open',
  firstSeenAt: 1000,
  lastSeenAt: 5000,
  occurrences: 1,
  reopenCount: 0,
  lastCode: null,
  lastMessage: 'stalled',
  rule: STALL_RULE,
  resolvedAt: null,
  context: {},
  seq: 3
}

function mailbox (lastSyncedAt: number | null, failures: FailureState[] = []): MailboxState {
  return { firstEventAt: 0, lastEventAt: 9000, lastSyncedAt, lastFailedAt: null, eventCount: 2, failures }
}

t.test('a mailbox state is stalled, failing or syncing from its open failures', async (t) => {
  t.equal(mailboxSyncState([]), 'syncing')
  t.equal(mailboxSyncState([{ category: 'items_skipped', status: 'open' }]), 'syncing')
  t.equal(mailboxSyncState([{ category: 'throttled', status: 'resolved' }]), 'syncing')
  t.equal(mailboxSyncState([{ category: 'throttled', status: 'open' }]), 'failing')
  t.equal(mailboxSyncState([{ category: 'throttled', status: 'open' }, { category: 'sync_stalled', status: 'open' }]), 'stalled')
})

t.test('mailbox counts per state add up to the mailboxes seen', async (t) => {
  t.same(mailboxCounts({ mailboxesSeen: 10, mailboxesWithOpenFailures: 5, mailboxesBlocked: 4, mailboxesStalled: 1, openFailures: 6, byCategory: {} }),
    { mailboxesSeen: 10, mailboxesSynced: 6, mailboxesFailing: 3, mailboxesStalled: 1 })
})

t.test('durations are spelled as STALL_AFTER takes them', async (t) => {
  t.same([formatDuration(93_600_000), formatDuration(5_400_000), formatDuration(172_800_000), formatDuration(1500)], ['26h', '90m', '2d', '1500ms'])
})

t.test('a replay keeps a detected stall and resolves it on a newer sync only', async (t) => {
  t.same(keepDetectedFailures(mailbox(1000, [stall]), mailbox(1000)).failures, [stall])
  t.same(keepDetectedFailures(mailbox(1000, [stall]), mailbox(2000)).failures, [{ ...stall, status: 'resolved', resolvedAt: 2000 }])
  t.same(keepDetectedFailures(null, mailbox(2000)).failures, [])
})

t.test('If-None-Match matches our tag, weakly compared, in a list or as *', async (t) => {
  const etag = etagOf('{"a":1}')
  t.equal(etag, etagOf('{"a":1}'))
  t.not(etag, etagOf('{"a":2}'))
  t.ok(etagMatches(`"other", W/${etag}`, etag))
  t.ok(etagMatches('*', etag))
  t.notOk(etagMatches('"other"', etag))
  t.notOk(etagMatches(undefined, etag))
})

t.test('the tag of a body given in parts, text or bytes, is the tag of the whole body', async (t) => {
  const whole = '{"batchId":"b-ü","items":[]}{"lastSeenAt":1}'
  t.equal(etagOf(Buffer.from('{"batchId":"b-ü","items":[]}'), '{"lastSeenAt":1}'), etagOf(whole))
  t.equal(etagOf('{"batchId":', '"b-ü",', Buffer.from('"items":[]}{"lastSeenAt":1}')), etagOf(Buffer.from(whole)))
  t.not(etagOf('{"a":', '1}', 'x'), etagOf('{"a":1}'))
})

t.test('a blocking failure folded in resolves a detected stall, and diffMailbox says so', async (t) => {
  const { applyEvent, diffMailbox, keepDetectedFailures: keep, blockedSince } = await import('../../src/domain/index.js')
  const before = mailbox(1000, [stall])
  const failed = { seq: 9, occurredAt: 8000, outcome: 'failed' as const, category: 'throttled' as const, rule: 'x', code: null, message: 'slow', context: {} }
  const after = applyEvent(before, failed)
  t.match(after.failures.find((failure) => failure.category === 'sync_stalled'), { status: 'resolved', resolvedAt: 8000, seq: 9 })
  t.same(diffMailbox(before, after).changes.map((change) => [change.kind, change.category, change.at]),
    [['resolved', 'sync_stalled', 8000], ['opened', 'throttled', 8000]])
  // Not for a non-blocking failure, nor for a failure of the stall category itself.
  t.match(applyEvent(before, { ...failed, category: 'items_skipped' }).failures, [{ category: 'sync_stalled', status: 'open' }])
  // A replay: the failure since the last sync explains the mailbox from its occurredAt on, never before the stall began.
  t.equal(blockedSince([{ ...failed, occurredAt: 500 }, { ...failed, seq: 1, occurredAt: 700, outcome: 'synced', category: null }]), null)
  t.equal(blockedSince([{ ...failed, occurredAt: 1500 }, { ...failed, seq: 1, occurredAt: 700, outcome: 'synced', category: null }]), 1500)
  t.match(keep(before, mailbox(1000), 500, 12).failures, [{ status: 'resolved', resolvedAt: 1000, seq: 12 }])
})
