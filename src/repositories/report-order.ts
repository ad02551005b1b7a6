import type { FailureRecord, ReportPosition } from './types.js'

// The report order (lastSeenAt descending, then mailbox, then category) in code, for merging
// pages; SQL applies the same order with binary string collation.

function compareText (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export function comparePositions (a: ReportPosition, b: ReportPosition): number {
  return b.lastSeenAt - a.lastSeenAt || compareText(a.mailbox, b.mailbox) || compareText(a.category, b.category)
}

export function positionOf (failure: FailureRecord): ReportPosition {
  return { lastSeenAt: failure.lastSeenAt, mailbox: failure.mailbox, category: failure.category }
}

export interface PositionedFailure {
  failure: FailureRecord
  position: ReportPosition
}

/**
 * Merges the unchanged rows (already in order, up to limit + 1 of them) with the rows changed
 * since the snapshot (placed at their snapshot position) into one page.
 */
export function mergePage (
  unchanged: FailureRecord[], moved: PositionedFailure[], after: ReportPosition | null, limit: number,
  boundary: ReportPosition | null = null
): { items: FailureRecord[], next: ReportPosition | null } {
  // `boundary`: the last position a bounded scan read (see reportScan). Nothing past it is known
  // yet, so the page stops there, and the next one starts after it even when this one is short.
  const candidates: PositionedFailure[] = [
    ...unchanged.map((failure) => ({ failure, position: positionOf(failure) })),
    ...moved.filter((entry) => after === null || comparePositions(entry.position, after) > 0)
  ].filter((entry) => boundary === null || comparePositions(entry.position, boundary) <= 0)
    .sort((a, b) => comparePositions(a.position, b.position))
  const page = candidates.slice(0, limit)
  const more = candidates.length > limit
  return {
    items: page.map((entry) => entry.failure),
    next: more ? page[page.length - 1].position : boundary
  }
}
