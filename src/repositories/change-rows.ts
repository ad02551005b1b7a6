import { eq, gt, inArray, sql, type AnyColumn, type SQL } from 'drizzle-orm'
import type { Change, ChangeQuery, ChangeType } from '../domain/changes.js'
import type { CategoryId } from '../domain/index.js'

// The change feed's rows and queries as both dialects store and run them.

/** A changes row as both dialects read it. */
export interface StoredChangeRow {
  tenantId: string
  seq: number
  type: string
  batchId: string
  mailbox: string
  category: string
  rule: string
  status: 'open' | 'resolved'
  occurredAt: number
  recordedAt: number
  failure: string
}

export function toChange (row: StoredChangeRow): Change {
  return {
    seq: row.seq,
    tenantId: row.tenantId,
    type: row.type as ChangeType,
    batchId: row.batchId,
    mailbox: row.mailbox,
    category: row.category as CategoryId,
    rule: row.rule,
    status: row.status,
    occurredAt: row.occurredAt,
    recordedAt: row.recordedAt,
    failure: JSON.parse(row.failure) as Change['failure']
  }
}

export function changeValues (change: Change): StoredChangeRow {
  return {
    tenantId: change.tenantId,
    seq: change.seq,
    type: change.type,
    batchId: change.batchId,
    mailbox: change.mailbox,
    category: change.category,
    rule: change.rule,
    status: change.status,
    occurredAt: change.occurredAt,
    recordedAt: change.recordedAt,
    failure: JSON.stringify(change.failure)
  }
}

export interface ChangeColumns {
  tenantId: AnyColumn
  seq: AnyColumn
  batchId: AnyColumn
  type: AnyColumn
}

/** The tenant's changes after `query.after` that match its filters. */
export function changeConditions (columns: ChangeColumns, tenantId: string, query: ChangeQuery): SQL[] {
  const conditions: SQL[] = [eq(columns.tenantId, tenantId), gt(columns.seq, query.after)]
  if (query.batchId != null) conditions.push(eq(columns.batchId, query.batchId))
  if (query.types !== undefined && query.types.length > 0) conditions.push(inArray(columns.type, query.types))
  return conditions
}

/** A tenant's key for the sweep's walk over every batch. */
export interface BatchKey {
  tenantId: string
  batchId: string
}

/** Batches after `after` in (tenant, batch) order: the sweep's walk over every tenant. */
export function batchesAfter (after: BatchKey | null): SQL {
  return after === null ? sql`true` : sql`(tenant_id, batch_id) > (${after.tenantId}, ${after.batchId})`
}

/** One mailbox as the stall sweep reads it. */
export interface SweepMailboxRow {
  mailbox: string
  lastSyncedAt: number | null
  firstEventAt: number
}

/** True when the mailbox's last sync (or, never synced, its first event) is before the cutoff. */
export function isStale (row: SweepMailboxRow, cutoff: number): boolean {
  return (row.lastSyncedAt ?? row.firstEventAt) < cutoff
}

/** The onChangesAppended listeners of one store. */
export class AppendedListeners {
  private readonly listeners = new Set<(tenantId: string) => void>()

  get size (): number {
    return this.listeners.size
  }

  add (listener: (tenantId: string) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  emit (tenantIds: Iterable<string>): void {
    for (const tenantId of new Set(tenantIds)) {
      for (const listener of [...this.listeners]) {
        // A listener's failure is its own: it must not undo a committed write's answer.
        try { listener(tenantId) } catch { /* ignored */ }
      }
    }
  }
}
