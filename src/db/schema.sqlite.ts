import { sql } from 'drizzle-orm'
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

// Times are epoch milliseconds (UTC) in both dialects, so comparisons and cursors are plain numbers.

export const batches = sqliteTable('batches', {
  tenantId: text('tenant_id').notNull(),
  batchId: text('batch_id').notNull(),
  firstEventAt: integer('first_event_at').notNull(),
  lastEventAt: integer('last_event_at').notNull(),
  createdAt: integer('created_at').notNull()
}, (t) => [
  primaryKey({ columns: [t.tenantId, t.batchId] }),
  // The batch list's order: newest batch (first received) first, then batch id.
  index('batches_created_idx').on(t.tenantId, t.createdAt, t.batchId)
])

export const mailboxes = sqliteTable('mailboxes', {
  tenantId: text('tenant_id').notNull(),
  batchId: text('batch_id').notNull(),
  mailbox: text('mailbox').notNull(),
  firstEventAt: integer('first_event_at').notNull(),
  lastEventAt: integer('last_event_at').notNull(),
  lastSyncedAt: integer('last_synced_at'),
  lastFailedAt: integer('last_failed_at'),
  eventCount: integer('event_count').notNull(),
  // The earliest heldUpSince of the mailbox's open blocking failures; null when none is open.
  heldUpSince: integer('held_up_since')
}, (t) => [
  primaryKey({ columns: [t.tenantId, t.batchId, t.mailbox] }),
  // The stall sweep reads only the mailboxes whose last sync is old enough.
  index('mailboxes_last_synced_idx').on(t.tenantId, t.batchId, t.lastSyncedAt, t.firstEventAt),
  // The batch's oldest blocking failure: the first entry of this index.
  index('mailboxes_held_up_idx').on(t.tenantId, t.batchId, t.heldUpSince, t.mailbox)
])

export const events = sqliteTable('events', {
  // Arrival order; also the snapshot clock that keeps report cursors stable.
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  tenantId: text('tenant_id').notNull(),
  eventId: text('event_id').notNull(),
  batchId: text('batch_id').notNull(),
  mailbox: text('mailbox').notNull(),
  occurredAt: integer('occurred_at').notNull(),
  outcome: text('outcome', { enum: ['failed', 'synced'] }).notNull(),
  category: text('category'),
  rule: text('rule'),
  code: text('code'),
  message: text('message'),
  context: text('context').notNull(),
  contentHash: text('content_hash').notNull(),
  receivedAt: integer('received_at').notNull()
}, (t) => [
  uniqueIndex('events_tenant_event_uq').on(t.tenantId, t.eventId),
  index('events_mailbox_idx').on(t.tenantId, t.batchId, t.mailbox, t.occurredAt)
])

export const failures = sqliteTable('failures', {
  tenantId: text('tenant_id').notNull(),
  batchId: text('batch_id').notNull(),
  mailbox: text('mailbox').notNull(),
  category: text('category').notNull(),
  status: text('status', { enum: ['open', 'resolved'] }).notNull(),
  firstSeenAt: integer('first_seen_at').notNull(),
  lastSeenAt: integer('last_seen_at').notNull(),
  occurrences: integer('occurrences').notNull(),
  reopenCount: integer('reopen_count').notNull(),
  lastCode: text('last_code'),
  lastMessage: text('last_message').notNull(),
  rule: text('rule').notNull(),
  resolvedAt: integer('resolved_at'),
  context: text('context').notNull(),
  // seq of the last event that changed this row (see events.seq).
  seq: integer('seq').notNull()
}, (t) => [
  primaryKey({ columns: [t.tenantId, t.batchId, t.mailbox, t.category] }),
  // lastSeenAt descending, as the report orders: the mixed order then needs no sort step.
  index('failures_report_status_idx').on(t.tenantId, t.batchId, t.status, sql`last_seen_at desc`, t.mailbox, t.category),
  index('failures_report_all_idx').on(t.tenantId, t.batchId, sql`last_seen_at desc`, t.mailbox, t.category),
  index('failures_seq_idx').on(t.tenantId, t.batchId, t.seq)
])

export const apiKeys = sqliteTable('api_keys', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  name: text('name'),
  // The key's first characters, in clear: finds the candidate rows and names the key in lists.
  prefix: text('prefix').notNull(),
  // SHA-256 (hex) of the whole key; the key itself is never stored.
  keyHash: text('key_hash').notNull(),
  // Comma-separated scopes: portable across dialects without array or JSON types.
  scopes: text('scopes').notNull(),
  createdAt: integer('created_at').notNull(),
  revokedAt: integer('revoked_at')
}, (t) => [
  uniqueIndex('api_keys_hash_uq').on(t.keyHash),
  index('api_keys_prefix_idx').on(t.prefix),
  index('api_keys_tenant_idx').on(t.tenantId, t.createdAt)
])

// The change feed: one row per lifecycle change, numbered per tenant (change_counters holds the
// last number given). `failure` is the failure as it stood after the change, as JSON.
export const changes = sqliteTable('changes', {
  tenantId: text('tenant_id').notNull(),
  seq: integer('seq').notNull(),
  type: text('type').notNull(),
  batchId: text('batch_id').notNull(),
  mailbox: text('mailbox').notNull(),
  category: text('category').notNull(),
  rule: text('rule').notNull(),
  status: text('status', { enum: ['open', 'resolved'] }).notNull(),
  occurredAt: integer('occurred_at').notNull(),
  recordedAt: integer('recorded_at').notNull(),
  failure: text('failure').notNull()
}, (t) => [
  primaryKey({ columns: [t.tenantId, t.seq] }),
  index('changes_batch_idx').on(t.tenantId, t.batchId, t.seq),
  // The retention purge deletes the oldest first.
  index('changes_recorded_idx').on(t.recordedAt)
])

export const changeCounters = sqliteTable('change_counters', {
  tenantId: text('tenant_id').primaryKey(),
  lastSeq: integer('last_seq').notNull()
})

// A batch's summary counts, kept by the writes that change them (src/domain/counts.ts): one row
// per counter (mailboxesSeen, mailboxesBlocked, open:<category>, ...).
export const batchCounters = sqliteTable('batch_counters', {
  tenantId: text('tenant_id').notNull(),
  batchId: text('batch_id').notNull(),
  name: text('name').notNull(),
  value: integer('value').notNull()
}, (t) => [
  primaryKey({ columns: [t.tenantId, t.batchId, t.name] })
])
