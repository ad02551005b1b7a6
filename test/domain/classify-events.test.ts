import t from 'tap'
import fc from 'fast-check'
import { classifyEvent, classifyEvents, type EventInput } from '../../src/domain/index.js'

// classifyEvents matches a repeated failure text against the rule table once per request; the
// answers must be exactly classifyEvent's, event by event.

const MESSAGES = [
  'Host1 failure: Error login on [imap.contoso.com] with user [u] auth [LOGIN]: 2 NO [AUTHENTICATIONFAILED] Authentication failed.',
  'Host2 failure: Error login on [outlook.office365.com]: NO [OVERQUOTA] mailbox is full',
  'Err 429 Too Many Requests',
  'something nobody recognises'
]

const input = fc.record({
  message: fc.nat({ max: MESSAGES.length - 1 }),
  code: fc.constantFrom(undefined, '161', '429'),
  category: fc.constantFrom(undefined, 'throttled' as const),
  server: fc.constantFrom(undefined, 'imap.contoso.com', 'outlook.office365.com'),
  migrationType: fc.constantFrom(undefined, 'imap' as const, 'exchange' as const),
  failed: fc.boolean()
}).map((s): EventInput => ({
  id: 'evt',
  batchId: 'b',
  mailbox: 'a@contoso.com',
  occurredAt: '2026-11-24T12:00:00Z',
  outcome: s.failed ? 'failed' : 'synced',
  ...(s.failed ? { failure: { message: MESSAGES[s.message], ...(s.code === undefined ? {} : { code: s.code }), ...(s.category === undefined ? {} : { category: s.category }) } } : {}),
  context: { ...(s.server === undefined ? {} : { server: s.server }), ...(s.migrationType === undefined ? {} : { migrationType: s.migrationType }) }
}))

t.test('classifying a request at once gives what classifying each event gives', async (t) => {
  fc.assert(fc.property(fc.array(input, { maxLength: 30 }), (inputs) => {
    const events = inputs.map((event, index) => ({ ...event, id: `evt-${index}` }))
    t.same(classifyEvents(events), events.map(classifyEvent))
  }), { numRuns: 200 })
})
