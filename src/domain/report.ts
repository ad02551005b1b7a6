import { createHash } from 'node:crypto'
import { categoryInfo } from './categories.js'
import { troubleshootingGuide } from './guides.js'
import type { FailureState } from './lifecycle.js'
import type { CategoryId, Guide, Side } from './types.js'

// What a dashboard sees of one failure, and the opaque cursor that pages through them.

export interface ReportableFailure extends FailureState {
  mailbox: string
}

export interface ReportItem {
  mailbox: string
  category: CategoryId
  title: string
  status: FailureState['status']
  blocking: boolean
  side: Side
  firstSeenAt: string
  lastSeenAt: string
  occurrences: number
  reopenCount: number
  lastCode: string | null
  lastMessage: string
  rule: string
  resolvedAt: string | null
  troubleshooting: Guide
}

export function isoTime (ms: number): string {
  return new Date(ms).toISOString()
}

export function toReportItem (failure: ReportableFailure): ReportItem {
  const info = categoryInfo(failure.category)
  return {
    mailbox: failure.mailbox,
    category: failure.category,
    title: info.title,
    status: failure.status,
    blocking: info.blocking,
    side: info.side,
    firstSeenAt: isoTime(failure.firstSeenAt),
    lastSeenAt: isoTime(failure.lastSeenAt),
    occurrences: failure.occurrences,
    reopenCount: failure.reopenCount,
    lastCode: failure.lastCode,
    lastMessage: failure.lastMessage,
    rule: failure.rule,
    resolvedAt: failure.resolvedAt === null ? null : isoTime(failure.resolvedAt),
    troubleshooting: troubleshootingGuide(failure.category, failure.context)
  }
}

export interface CursorState {
  lastSeenAt: number
  mailbox: string
  category: string
  snapshotSeq: number
  /** Fingerprint of the filters the walk started with; a cursor only continues that walk. */
  filter: string
}

export class InvalidCursorError extends Error {
  override name = 'InvalidCursorError'
}

export function filterFingerprint (filter: {
  status: string, categories: readonly string[], mailbox: string | null, since: number | null, until: number | null
}): string {
  const canonical = JSON.stringify([filter.status, [...filter.categories].sort(), filter.mailbox, filter.since, filter.until])
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16)
}

export function encodeCursor (state: CursorState): string {
  return Buffer.from(JSON.stringify([1, state.lastSeenAt, state.mailbox, state.category, state.snapshotSeq, state.filter])).toString('base64url')
}

export function decodeCursor (cursor: string): CursorState {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw new InvalidCursorError('cursor is not one this service issued')
  }
  if (!Array.isArray(parsed) || parsed.length !== 6 || parsed[0] !== 1) throw new InvalidCursorError('cursor is not one this service issued')
  const [, lastSeenAt, mailbox, category, snapshotSeq, filter] = parsed as unknown[]
  if (!Number.isSafeInteger(lastSeenAt) || !Number.isSafeInteger(snapshotSeq) || (snapshotSeq as number) < 0 ||
    typeof mailbox !== 'string' || typeof category !== 'string' || typeof filter !== 'string') {
    throw new InvalidCursorError('cursor is not one this service issued')
  }
  return { lastSeenAt: lastSeenAt as number, mailbox, category, snapshotSeq: snapshotSeq as number, filter }
}

/**
 * Cursors of the other paged lists: a kind tag and a position of strings and integers, checked
 * against the shape the list expects.
 */
export function encodePosition (kind: string, position: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify([kind, ...position])).toString('base64url')
}

export function decodePosition (kind: string, cursor: string, shape: ReadonlyArray<'string' | 'integer'>): Array<string | number> {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw new InvalidCursorError('cursor is not one this service issued')
  }
  if (!Array.isArray(parsed) || parsed[0] !== kind || parsed.length !== shape.length + 1) {
    throw new InvalidCursorError('cursor is not one this list issued')
  }
  const values = parsed.slice(1) as unknown[]
  const valid = shape.every((type, index) => type === 'string' ? typeof values[index] === 'string' : Number.isSafeInteger(values[index]))
  if (!valid) throw new InvalidCursorError('cursor is not one this list issued')
  return values as Array<string | number>
}
