import { sql, type SQL } from 'drizzle-orm'

// One chunk of the retention purge (RETENTION_RESOLVED), shared by both dialects as
// stall-sweep.ts is for the sweep: the statements are written once here; a dialect runs them
// inside one transaction and supplies the locking.
//
// What a chunk deletes, and why the rest stays correct:
// - a failure resolved before the cutoff (open ones have no resolved_at and are never read);
// - its events: the failed events of its mailbox and category. The failure was resolved and
//   not reopened since, so every failed event of that category belongs to it;
// - the synced events of its mailbox that back nothing any more: older than the cutoff, older
//   than the mailbox's last sync (which stays, it is lastSyncedAt) and older than the first
//   failed event of every other failure the mailbox still has (those events decide that
//   failure's reopen count and resolution, so a replay of the stored history gives the same
//   failure). Bounded by the cutoff, what a purge forgets is history from before it: a late
//   event from after the cutoff is replayed against the whole history since the cutoff and
//   gives the same failure as a store that never purged. One from before the cutoff is folded
//   into what is left: open or resolved comes out the same (the last sync stays), its reopen
//   count may miss a resolution whose syncs were purged.
// Open failures, their events, the mailbox rows and the batch counters (which count open
// failures only) are not touched, so reports and summaries read the same after a purge.
// The newest event of the store is never deleted: the highest event seq is the report's
// snapshot clock (currentSeq), and it must not go back, or rows written after the newest
// event (a stall the sweep opened) would count as changed after every snapshot and drop out
// of the report. It goes with the first purge after a newer event arrived.

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

const belowNewest = sql`seq < (select max(n.seq) from events n)`

/** Byte order (the "C" collation of the mailbox columns), the order every writer locks mailboxes in. */
function compareKeys (a: FailureKey, b: FailureKey): number {
  for (const field of ['tenantId', 'batchId', 'mailbox', 'category'] as const) {
    if (a[field] !== b[field]) return Buffer.compare(Buffer.from(a[field]), Buffer.from(b[field]))
  }
  return 0
}

/**
 * Deletes failures resolved before `resolvedBefore`, longest resolved first
 * (failures_resolved_idx), each with all of its failed events in the same transaction: a
 * write between chunks must find a failure whole or gone, or a replay would rebuild it from
 * part of its events. Then the synced events of its mailbox that back nothing any more, at
 * most `limit` (any left over are safe to keep; the mailbox's next purged failure takes them).
 * A chunk stops once it deleted `limit` rows, so its work is bounded by twice `limit` plus one
 * failure's events (its occurrences), whatever the size of the batches.
 */
export async function purgeChunk (tx: PurgingTx, resolvedBefore: number, limit: number): Promise<PurgeChunkResult> {
  const candidates = await tx.all<FailureKey>(sql`select tenant_id as "tenantId", batch_id as "batchId", mailbox, category
    from failures where resolved_at < ${resolvedBefore} and status = 'resolved' order by resolved_at limit ${limit}`)
  const result: PurgeChunkResult = { failures: 0, events: 0, more: candidates.length === limit }
  if (candidates.length === 0) return result
  await tx.holdMailboxes([...candidates].sort(compareKeys))
  let budget = limit
  for (const key of candidates) {
    if (budget <= 0) break
    // Read again under the mailbox's lock: a write may have reopened it since it was listed.
    // A failure that has the store's newest event waits for a newer one (see belowNewest).
    const still = await tx.all<{ one: number }>(sql`select 1 as one from failures
      where ${isFailure(key)} and status = 'resolved' and resolved_at < ${resolvedBefore}
        and not exists (select 1 from events n where n.seq = (select max(x.seq) from events x)
          and ${isMailboxOf(key, 'n')} and n.outcome = 'failed' and n.category = ${key.category})`)
    if (still.length === 0) continue
    const failed = await tx.run(sql`delete from events
      where ${isMailboxOf(key, 'events')} and outcome = 'failed' and category = ${key.category}`)
    result.failures += await tx.run(sql`delete from failures where ${isFailure(key)}`)
    result.events += failed
    budget -= failed + 1
    // At most `limit` synced events of the mailbox, whatever the chunk has left: once the
    // failure is gone nothing brings the purge back to them.
    const synced = await tx.run(sql`delete from events where seq in (select e.seq from events e
      where ${isMailboxOf(key, 'e')} and e.outcome = 'synced' and ${belowNewest}
        and e.occurred_at < ${resolvedBefore}
        and e.occurred_at < (select m.last_synced_at from mailboxes m where ${isMailboxOf(key, 'm')})
        and not exists (select 1 from failures f where ${isMailboxOf(key, 'f')} and f.first_seen_at <= e.occurred_at)
      limit ${limit})`)
    result.events += synced
    budget -= synced
  }
  if (budget <= 0) result.more = true
  // A chunk that deleted nothing (every candidate waits for the newest event) ends the run.
  if (result.failures + result.events === 0) result.more = false
  return result
}
