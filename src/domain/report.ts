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

const DAY_MS = 86_400_000
/** "YYYY-MM-DDT" of each day met so far (a report repeats few days; bounded all the same). */
const dayPrefixes = new Map<number, string>()

function pad2 (value: number): string {
  return value < 10 ? `0${value}` : `${value}`
}

function pad3 (value: number): string {
  return value < 10 ? `00${value}` : value < 100 ? `0${value}` : `${value}`
}

/**
 * Exactly what `new Date(ms).toISOString()` gives, about six times faster: a report page
 * formats three times per item, and the date part of a day is worked out once.
 */
export function isoTime (ms: number): string {
  const day = Math.floor(ms / DAY_MS)
  let prefix = dayPrefixes.get(day)
  if (prefix === undefined) {
    const iso = new Date(day * DAY_MS).toISOString()
    prefix = iso.slice(0, iso.indexOf('T') + 1)
    if (dayPrefixes.size >= 10_000) dayPrefixes.clear()
    dayPrefixes.set(day, prefix)
  }
  const inDay = ms - day * DAY_MS
  const hours = Math.floor(inDay / 3_600_000)
  const minutes = Math.floor(inDay / 60_000) % 60
  const seconds = Math.floor(inDay / 1000) % 60
  return `${prefix}${pad2(hours)}:${pad2(minutes)}:${pad2(seconds)}.${pad3(inDay % 1000)}Z`
}

/**
 * Since when an open blocking failure has held new mail up: the later of its first sighting
 * and the mailbox's last sync (a failure reopened after a sync holds mail up from that sync
 * on). Null for a resolved or non-blocking failure.
 */
export function heldUpSince (failure: Pick<FailureState, 'category' | 'status' | 'firstSeenAt'>, lastSyncedAt: number | null): number | null {
  if (failure.status !== 'open' || !categoryInfo(failure.category).blocking) return null
  return lastSyncedAt !== null && lastSyncedAt > failure.firstSeenAt ? lastSyncedAt : failure.firstSeenAt
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

/** The JSON of each remembered (frozen, shared) guide: a page repeats a handful of them. */
const guideJson = new WeakMap<Guide, string>()

function jsonOfGuide (guide: Guide): string {
  let json = guideJson.get(guide)
  if (json === undefined) {
    json = JSON.stringify(guide)
    guideJson.set(guide, json)
  }
  return json
}

/**
 * The JSON of a list of report items. The guides are most of a page's bytes and repeat from
 * item to item, so each is serialized once and reused; everything else goes through
 * JSON.stringify. The result parses to exactly the items (the report test compares).
 */
export function reportItemsJson (items: readonly ReportItem[]): string {
  let json = '['
  for (let index = 0; index < items.length; index++) {
    const { troubleshooting, ...rest } = items[index]
    if (index > 0) json += ','
    json += `${JSON.stringify(rest).slice(0, -1)},"troubleshooting":${jsonOfGuide(troubleshooting)}}`
  }
  return json + ']'
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

function tagOf (values: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(values)).digest('base64url').slice(0, 16)
}

/**
 * Fingerprint of what a walk lists: the list it belongs to (`scope`: tenant, batch) and its
 * filters. A cursor carries it and only continues a walk with the same one.
 */
export function filterFingerprint (filter: {
  status: string, categories: readonly string[], mailbox: string | null, mailboxContains?: string | null, since: number | null, until: number | null
}, scope: readonly string[] = []): string {
  const parts = [scope, filter.status, [...new Set(filter.categories)].sort(), filter.mailbox, filter.since, filter.until]
  // Appended only when present, so the cursors of a walk without a search stay what they were.
  const search = filter.mailboxContains ?? null
  return tagOf(search === null ? parts : [...parts, search])
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
 * Cursors of the other paged lists: a kind tag, the fingerprint of the list's scope (tenant,
 * batch, mailbox: a cursor only continues the list it came from) and a position of strings
 * and integers, checked against the shape the list expects.
 */
export function encodePosition (kind: string, scope: readonly string[], position: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify([kind, tagOf([kind, ...scope]), ...position])).toString('base64url')
}

export function decodePosition (kind: string, scope: readonly string[], cursor: string, shape: ReadonlyArray<'string' | 'integer'>): Array<string | number> {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw new InvalidCursorError('cursor is not one this service issued')
  }
  if (!Array.isArray(parsed) || parsed[0] !== kind || parsed.length !== shape.length + 2) {
    throw new InvalidCursorError('cursor is not one this list issued')
  }
  if (parsed[1] !== tagOf([kind, ...scope])) {
    throw new InvalidCursorError('cursor belongs to another list (another batch, mailbox or tenant); start again without cursor')
  }
  const values = parsed.slice(2) as unknown[]
  const valid = shape.every((type, index) => type === 'string' ? typeof values[index] === 'string' : Number.isSafeInteger(values[index]))
  if (!valid) throw new InvalidCursorError('cursor is not one this list issued')
  return values as Array<string | number>
}
