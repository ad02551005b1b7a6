import { createHash } from 'node:crypto'
import type { CategoryId, EventContext } from './types.js'
import type { Outcome } from './lifecycle.js'
import { classifyFailure, type Classification, type ClassificationInput } from './classifier.js'
import { formatDuration } from './stall.js'

/** An event as an engine posts it (already validated against the schema). */
export interface EventInput {
  id: string
  batchId: string
  mailbox: string
  occurredAt: string
  outcome: Outcome
  failure?: { category?: CategoryId, code?: string, message: string }
  context?: EventContext
}

/** The canonical form we store and compare: the same report always normalises the same way. */
export interface NormalizedEvent {
  id: string
  batchId: string
  mailbox: string
  occurredAt: number
  outcome: Outcome
  failure: { category: CategoryId | null, code: string | null, message: string } | null
  context: EventContext
}

export function normalizeEvent (input: EventInput): NormalizedEvent {
  const context: EventContext = {}
  for (const key of ['engine', 'migrationType', 'server', 'credentialMode'] as const) {
    const value = input.context?.[key]
    if (value !== undefined) (context as Record<string, string>)[key] = value
  }
  return {
    id: input.id,
    batchId: input.batchId,
    mailbox: input.mailbox.toLowerCase(),
    occurredAt: Date.parse(input.occurredAt),
    outcome: input.outcome,
    failure: input.failure === undefined
      ? null
      : { category: input.failure.category ?? null, code: input.failure.code ?? null, message: input.failure.message },
    context
  }
}

/** Fingerprint of what an event says; a retry with the same id must carry the same one. */
export function eventContentHash (event: NormalizedEvent): string {
  const canonical = JSON.stringify([
    event.id, event.batchId, event.mailbox, event.occurredAt, event.outcome,
    event.failure === null ? null : [event.failure.category, event.failure.code, event.failure.message],
    [event.context.engine ?? null, event.context.migrationType ?? null, event.context.server ?? null, event.context.credentialMode ?? null]
  ])
  return createHash('sha256').update(canonical).digest('base64url')
}

/** An event ready to store: normalised, classified and fingerprinted. */
export interface ClassifiedEvent extends NormalizedEvent {
  category: CategoryId | null
  rule: string | null
  contentHash: string
}

/** A rule the schema cannot express, broken by one event; pointer is relative to the event. */
export interface EventProblem {
  pointer: string
  detail: string
}

/** How far ahead of the server clock an occurredAt may be: clocks drift, but not by years. */
export interface ClockBound {
  now: number
  maxSkewMs: number
}

/**
 * Checks what JSON Schema cannot: failure present exactly when failed, a representable time
 * not further ahead of the server clock than `clock` allows.
 */
export function eventProblems (input: EventInput, clock?: ClockBound): EventProblem[] {
  const problems: EventProblem[] = []
  if (input.outcome === 'failed' && input.failure === undefined) {
    problems.push({ pointer: '/failure', detail: 'is required when outcome is failed' })
  }
  if (input.outcome === 'synced' && input.failure !== undefined) {
    problems.push({ pointer: '/failure', detail: 'must be absent when outcome is synced' })
  }
  const occurredAt = Date.parse(input.occurredAt)
  if (!Number.isFinite(occurredAt)) {
    problems.push({ pointer: '/occurredAt', detail: 'is not a representable RFC 3339 time' })
  } else if (clock !== undefined && occurredAt > clock.now + clock.maxSkewMs) {
    problems.push({
      pointer: '/occurredAt',
      detail: `is more than ${formatDuration(clock.maxSkewMs)} (MAX_CLOCK_SKEW) ahead of the server clock (${new Date(clock.now).toISOString()})`
    })
  }
  return problems
}

/** Normalises, classifies and fingerprints a valid event (see eventProblems). */
export function classifyEvent (input: EventInput): ClassifiedEvent {
  return classifyNormalized(normalizeEvent(input), classifyFailure)
}

/**
 * classifyEvent for the events of one request: a failure text met again without a category
 * (the same code, message and context, as engines repeat them across mailboxes) is matched
 * against the rule table once.
 */
export function classifyEvents (inputs: readonly EventInput[]): ClassifiedEvent[] {
  const known = new Map<string, Classification>()
  const classify = (failure: ClassificationInput): Classification => {
    // An explicit category is taken as it is: nothing to save there.
    if (failure.category !== undefined) return classifyFailure(failure)
    const { context } = failure
    const key = JSON.stringify([failure.code ?? null, failure.message,
      context?.engine ?? null, context?.migrationType ?? null, context?.server ?? null, context?.credentialMode ?? null])
    const cached = known.get(key)
    if (cached !== undefined) return cached
    const classification = classifyFailure(failure)
    known.set(key, classification)
    return classification
  }
  return inputs.map((input) => classifyNormalized(normalizeEvent(input), classify))
}

function classifyNormalized (event: NormalizedEvent, classify: (failure: ClassificationInput) => Classification): ClassifiedEvent {
  const classification = event.failure === null
    ? null
    : classify({
      category: event.failure.category ?? undefined,
      code: event.failure.code,
      message: event.failure.message,
      context: event.context
    })
  return {
    ...event,
    category: classification?.category ?? null,
    rule: classification?.rule ?? null,
    contentHash: eventContentHash(event)
  }
}
