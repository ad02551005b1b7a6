import { sql, type SQL } from 'drizzle-orm'

// One chunk of the retention purge (RETENTION_RESOLVED), shared by both dialects as
// stall-sweep.ts is for the sweep: the statements are written once here; a dialect runs them
// inside one transaction and supplies the locking.
//
// What a chunk deletes, and why the rest stays correct:
// - a failure resolved before the cutoff (open ones have no resolved_at and are never read);
// - its events: the failed events of its mailbox and category. The failure was resolved and
//   not reopened since, so every failed event of that category belongs to it;
// - the synced events of its mailbox that back nothing any more: older than the mailbox's last
//   sync (which stays, it is lastSyncedAt) and older than the first failed event of every
//   other failure the mailbox still has (those events decide that failure's reopen count and
//   resolution, so a replay of the stored history gives the same failure).
// Open failures, their events, the mailbox rows and the batch counters (which count open
// failures only) are not touched, so reports and summaries read the same after a purge.

export interface FailureKey {
  tenantId: string
  batchId: string
  mailbox: string
  category: string
}

export interface PurgingTx {
  /** Rows of a select. */
  all: <T>(query: SQL) => Promise<T[]>
  /** Rows a delete removed. */
  run: (query: SQL) => Promise<number>
  /** Holds these failures' mailboxes against concurrent writers until the transaction ends. */
  holdMailboxes: (keys: FailureKey[]) => Promise<void>
}

export interface PurgeChunkResult {
  failures: number
  events: number
  /** True when the chunk stopped at its limit: there may be more to purge. */
  more: boolean
}

function isFailure (key: FailureKey): SQL {
  return sql`tenant_id = ${key.tenantId} and batch_id = ${key.batchId} and mailbox = ${key.mailbox} and category = ${key.category}`
}

function isMailboxOf (key: FailureKey, alias: string): SQL {
  const prefix = sql.raw(alias)
  return sql`${prefix}.tenant_id = ${key.tenantId} and ${prefix}.batch_id = ${key.batchId} and ${prefix}.mailbox = ${key.mailbox}`
}

/** Byte order (the "C" collation of the mailbox columns), the order every writer locks mailboxes in. */
function compareKeys (a: FailureKey, b: FailureKey): number {
  for (const field of ['tenantId', 'batchId', 'mailbox', 'category'] as const) {
    if (a[field] !== b[field]) return Buffer.compare(Buffer.from(a[field]), Buffer.from(b[field]))
  }
  return 0
}

/**
 * Deletes at most `limit` rows (failures and events together) of failures resolved before
 * `resolvedBefore`, longest resolved first (failures_resolved_idx): the work of one chunk is
 * bounded whatever the size of the batches. A failure with more events than a chunk takes is
 * finished by the next chunks: its row goes last, so it stays the next chunk's first candidate.
 */
export async function purgeChunk (tx: PurgingTx, resolvedBefore: number, limit: number): Promise<PurgeChunkResult> {
  const candidates = await tx.all<FailureKey>(sql`select tenant_id as "tenantId", batch_id as "batchId", mailbox, category
    from failures where resolved_at < ${resolvedBefore} and status = 'resolved' order by resolved_at limit ${limit}`)
  const result: PurgeChunkResult = { failures: 0, events: 0, more: candidates.length === limit }
  if (candidates.length === 0) return result
  const keys = [...candidates].sort(compareKeys)
  await tx.holdMailboxes(keys)
  let budget = limit
  for (const key of candidates) {
    // Read again under the mailbox's lock: a write may have reopened it since it was listed.
    const still = await tx.all<{ one: number }>(sql`select 1 as one from failures
      where ${isFailure(key)} and status = 'resolved' and resolved_at < ${resolvedBefore}`)
    if (still.length === 0) continue
    const failed = await tx.run(sql`delete from events where seq in (select seq from events
      where ${isMailboxOf(key, 'events')} and outcome = 'failed' and category = ${key.category} limit ${budget})`)
    result.events += failed
    budget -= failed
    if (budget <= 0) break
    const synced = await tx.run(sql`delete from events where seq in (select e.seq from events e
      where ${isMailboxOf(key, 'e')} and e.outcome = 'synced'
        and e.occurred_at < (select m.last_synced_at from mailboxes m where ${isMailboxOf(key, 'm')})
        and not exists (select 1 from failures f where ${isMailboxOf(key, 'f')} and f.category <> ${key.category}
          and f.first_seen_at <= e.occurred_at)
      limit ${budget})`)
    result.events += synced
    budget -= synced
    if (budget <= 0) break
    result.failures += await tx.run(sql`delete from failures where ${isFailure(key)} and status = 'resolved' and resolved_at < ${resolvedBefore}`)
    budget -= 1
    if (budget <= 0) break
  }
  if (budget <= 0) result.more = true
  return result
}
