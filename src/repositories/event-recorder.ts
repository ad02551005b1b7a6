import {
  advanceMailbox, CounterDeltas, diffMailbox, type CounterDelta,
  type FailureState, type LifecycleEvent, type MailboxState
} from '../domain/index.js'
import { draftFromLifecycle, type Change, type ChangeDraft } from '../domain/changes.js'
import { EventConflictError, type ClassifiedEvent, type RecordOutcome, type RecordResult } from './types.js'

// The write path shared by every dialect. A dialect supplies the statements (RecordingTx),
// runs this inside one transaction and guarantees that no other writer changes the same
// mailboxes meanwhile; the logic itself never depends on the store.

export interface MailboxKey {
  batchId: string
  mailbox: string
}

export interface MailboxWrite extends MailboxKey {
  state: MailboxState
  changed: FailureState[]
}

export interface StoredEventFingerprint {
  contentHash: string
  batchId: string
  mailbox: string
  category: ClassifiedEvent['category']
  rule: string | null
}

export interface RecordingTx {
  /** Inserts the events whose id is new; returns each event's seq, or null when its id existed. */
  insertEvents (tenantId: string, events: ClassifiedEvent[], receivedAt: number): Promise<Array<number | null>>
  findEvents (tenantId: string, eventIds: string[]): Promise<Map<string, StoredEventFingerprint>>
  /** Current state of these mailboxes; the dialect locks them against concurrent writers. */
  loadMailboxes (tenantId: string, keys: MailboxKey[]): Promise<Map<string, MailboxState>>
  loadHistory (tenantId: string, key: MailboxKey): Promise<LifecycleEvent[]>
  saveMailboxes (tenantId: string, writes: MailboxWrite[]): Promise<void>
  /** See SharedWrite: the write's last statements. */
  finishWrite (tenantId: string, write: SharedWrite): Promise<Change[]>
}

export interface BatchTouch {
  batchId: string
  firstEventAt: number
  lastEventAt: number
}

/**
 * What a write changes on rows that every writer of a batch (its batches row, its counters) or of
 * the tenant (its change counter) shares, in this lock order. Written last, so that a dialect
 * whose writers run side by side (PostgreSQL) holds those row locks only for the end of the
 * transaction: one statement there, then the commit.
 */
export interface SharedWrite {
  /** Batches whose first and last event times may move; a new batch is created at recordedAt. */
  batches: BatchTouch[]
  /** Added to the batches' counters. */
  deltas: CounterDelta[]
  /** Numbered with the tenant's next change seqs and stored; the numbered changes are returned. */
  drafts: ChangeDraft[]
  recordedAt: number
}

export function mailboxKey (key: MailboxKey): string {
  return `${key.batchId}\u0000${key.mailbox}`
}

function toLifecycleEvent (event: ClassifiedEvent, seq: number): LifecycleEvent {
  return {
    seq,
    occurredAt: event.occurredAt,
    outcome: event.outcome,
    category: event.category,
    rule: event.rule,
    code: event.failure?.code ?? null,
    message: event.failure?.message ?? null,
    context: event.context
  }
}

export async function recordEvents (
  tx: RecordingTx, tenantId: string, events: ClassifiedEvent[], receivedAt: number
): Promise<RecordResult> {
  const seqs = await tx.insertEvents(tenantId, events, receivedAt)
  const repeatedIds = events.filter((_, index) => seqs[index] === null).map((event) => event.id)
  const stored = repeatedIds.length > 0 ? await tx.findEvents(tenantId, repeatedIds) : new Map<string, StoredEventFingerprint>()

  const arrived = new Map<string, { key: MailboxKey, events: LifecycleEvent[], maxSeq: number }>()
  const keys = new Map<string, MailboxKey>()
  events.forEach((event, index) => {
    const key = { batchId: event.batchId, mailbox: event.mailbox }
    const id = mailboxKey(key)
    keys.set(id, key)
    const seq = seqs[index]
    if (seq === null) {
      if (stored.get(event.id)?.contentHash !== event.contentHash) throw new EventConflictError(index, event.id)
      return
    }
    const group = arrived.get(id) ?? { key, events: [], maxSeq: 0 }
    group.events.push(toLifecycleEvent(event, seq))
    group.maxSeq = Math.max(group.maxSeq, seq)
    arrived.set(id, group)
  })

  const states = await tx.loadMailboxes(tenantId, [...keys.values()])
  const writes: MailboxWrite[] = []
  const drafts: ChangeDraft[] = []
  const counters = new CounterDeltas()
  for (const [id, group] of arrived) {
    const before = states.get(id) ?? null
    const after = await advanceMailbox(before, group.events, async () => await tx.loadHistory(tenantId, group.key))
    const diff = diffMailbox(before, after)
    // A replay can leave an older seq on a failure it changed; the snapshot clock must move on.
    const changed = diff.changed.map((failure) => ({ ...failure, seq: Math.max(failure.seq, group.maxSeq) }))
    const stamped = new Map(changed.map((failure) => [failure.category, failure]))
    const state = { ...after, failures: after.failures.map((failure) => stamped.get(failure.category) ?? failure) }
    states.set(id, state)
    counters.add(group.key.batchId, before?.failures ?? null, state.failures)
    writes.push({ ...group.key, state, changed })
    for (const change of diff.changes) {
      const failure = state.failures.find((candidate) => candidate.category === change.category)
      if (failure !== undefined) drafts.push(draftFromLifecycle(change, group.key, failure))
    }
  }
  await tx.saveMailboxes(tenantId, writes)

  const batches = new Map<string, BatchTouch>()
  for (const event of events) {
    const batch = batches.get(event.batchId)
    batches.set(event.batchId, {
      batchId: event.batchId,
      firstEventAt: Math.min(batch?.firstEventAt ?? event.occurredAt, event.occurredAt),
      lastEventAt: Math.max(batch?.lastEventAt ?? event.occurredAt, event.occurredAt)
    })
  }
  // Batches in key order: concurrent writers lock their rows in the same order.
  const touched = [...batches.values()].sort((a, b) => a.batchId < b.batchId ? -1 : a.batchId > b.batchId ? 1 : 0)
  const changes = await tx.finishWrite(tenantId, { batches: touched, deltas: counters.rows(), drafts, recordedAt: receivedAt })

  const outcomes = events.map((event, index): RecordOutcome => {
    const duplicate = seqs[index] === null
    const category = duplicate ? (stored.get(event.id)?.category ?? null) : event.category
    const rule = duplicate ? (stored.get(event.id)?.rule ?? null) : event.rule
    const state = states.get(mailboxKey(event))
    const failure = event.outcome === 'failed'
      ? state?.failures.find((candidate) => candidate.category === (category ?? 'unclassified'))
      : undefined
    return { id: event.id, duplicate, category, rule, failureStatus: failure?.status ?? null }
  })
  return { outcomes, changes }
}
