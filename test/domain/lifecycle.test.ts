import fc from 'fast-check'
import t from 'tap'
import {
  advanceMailbox, applyEvent, diffMailbox, replayEvents,
  type LifecycleEvent, type MailboxState
} from '../../src/domain/lifecycle.js'

function event (seq: number, occurredAt: number, outcome: 'failed' | 'synced', category: LifecycleEvent['category'] = 'throttled'): LifecycleEvent {
  return {
    seq,
    occurredAt,
    outcome,
    category: outcome === 'failed' ? category : null,
    rule: outcome === 'failed' ? 'explicit' : null,
    code: null,
    message: outcome === 'failed' ? `failure ${seq}` : null,
    context: {}
  }
}

t.test('a first failure opens a failure with one occurrence', async (t) => {
  const state = applyEvent(null, event(1, 100, 'failed'))
  t.match(state.failures, [{ category: 'throttled', status: 'open', occurrences: 1, reopenCount: 0, firstSeenAt: 100, lastSeenAt: 100 }])
  t.equal(state.lastFailedAt, 100)
  t.equal(state.lastSyncedAt, null)
})

t.test('a sync resolves open failures and a later failure reopens them', async (t) => {
  const resolved = replayEvents([event(1, 100, 'failed'), event(2, 200, 'synced')]) as MailboxState
  t.match(resolved.failures, [{ status: 'resolved', resolvedAt: 200 }])
  const reopened = applyEvent(resolved, event(3, 300, 'failed'))
  t.match(reopened.failures, [{ status: 'open', resolvedAt: null, reopenCount: 1, occurrences: 2 }])
})

t.test('diffMailbox reports opened, resolved and reopened changes', async (t) => {
  const opened = applyEvent(null, event(1, 100, 'failed'))
  t.same(diffMailbox(null, opened).changes, [{ kind: 'opened', category: 'throttled', at: 100 }])
  const resolved = applyEvent(opened, event(2, 200, 'synced'))
  t.same(diffMailbox(opened, resolved).changes, [{ kind: 'resolved', category: 'throttled', at: 200 }])
  const reopened = applyEvent(resolved, event(3, 300, 'failed'))
  t.same(diffMailbox(resolved, reopened).changes, [{ kind: 'reopened', category: 'throttled', at: 300 }])
  const recurred = applyEvent(reopened, event(4, 400, 'failed'))
  t.same(diffMailbox(reopened, recurred), { changed: recurred.failures, changes: [] })
})

t.test('advanceMailbox replays the history when an event is older than the state', async (t) => {
  const history = [event(1, 100, 'failed'), event(2, 300, 'synced'), event(3, 200, 'failed')]
  const state = replayEvents(history.slice(0, 2))
  let replayed = false
  const after = await advanceMailbox(state, [history[2]], async () => { replayed = true; return history })
  t.ok(replayed)
  t.match(after.failures, [{ status: 'resolved', occurrences: 2, reopenCount: 0, lastSeenAt: 200, resolvedAt: 300 }])
})

t.test('any arrival order folds to the same state as occurredAt order', async (t) => {
  const arbitraryHistory = fc.array(fc.record({
    at: fc.integer({ min: 0, max: 50 }),
    outcome: fc.constantFrom<'failed' | 'synced'>('failed', 'synced'),
    category: fc.constantFrom<LifecycleEvent['category']>('throttled', 'server_busy', 'source_unreachable')
  }), { minLength: 1, maxLength: 12 })
  await fc.assert(fc.asyncProperty(arbitraryHistory, fc.infiniteStream(fc.nat()), async (raw, randoms) => {
    // Deliver in a shuffled order, one event at a time, as a store would: seq is arrival order.
    const shuffled = [...raw].sort(() => (randoms.next().value % 3) - 1)
      .map((r, i) => event(i + 1, r.at, r.outcome, r.category))
    const expected = replayEvents(shuffled)
    let state: MailboxState | null = null
    const seen: LifecycleEvent[] = []
    for (const next of shuffled) {
      seen.push(next)
      state = await advanceMailbox(state, [next], async () => [...seen])
    }
    const strip = (s: MailboxState | null): unknown => s === null ? null : { ...s, failures: s.failures.map(({ seq: _seq, ...f }) => f) }
    return JSON.stringify(strip(state)) === JSON.stringify(strip(expected))
  }), { numRuns: 300 })
  t.pass('folds agree')
})
