import { bigint, bigserial, boolean, customType, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core'
import { sql } from 'drizzle-orm'

// The PostgreSQL twin of schema.sqlite.ts: same tables, columns and indexes. Times are epoch
// milliseconds (UTC) as bigint, read back as JS numbers (safe far beyond any real date).
// Text that reports are ordered or paged by uses the "C" collation, so PostgreSQL compares it
// byte by byte like SQLite and like the code-unit order of report-order.ts, whatever the
// database's default collation is.

function epochMs (name: string) {
  return bigint(name, { mode: 'number' })
}
// drizzle's pg-core has no column collation yet: a custom type carries it into the DDL.
const orderedText = customType<{ data: string, driverData: string }>({ dataType: () => 'text COLLATE "C"' })

export const batches = pgTable('batches', {
  tenantId: text('tenant_id').notNull(),
  // The batch list is ordered and paged by batch id (after creation time).
  batchId: orderedText('batch_id').notNull(),
  firstEventAt: epochMs('first_event_at').notNull(),
  lastEventAt: epochMs('last_event_at').notNull(),
  createdAt: epochMs('created_at').notNull()
}, (t) => [
  primaryKey({ columns: [t.tenantId, t.batchId] }),
  // The batch list's order: newest batch (first received) first, then batch id.
  index('batches_created_idx').on(t.tenantId, t.createdAt, t.batchId)
])

export const mailboxes = pgTable('mailboxes', {
  tenantId: text('tenant_id').notNull(),
  batchId: text('batch_id').notNull(),
  mailbox: orderedText('mailbox').notNull(),
  firstEventAt: epochMs('first_event_at').notNull(),
  lastEventAt: epochMs('last_event_at').notNull(),
  lastSyncedAt: epochMs('last_synced_at'),
  lastFailedAt: epochMs('last_failed_at'),
  eventCount: integer('event_count').notNull(),
  // The earliest heldUpSince of the mailbox's open blocking failures; null when none is open.
  heldUpSince: epochMs('held_up_since')
}, (t) => [
  primaryKey({ columns: [t.tenantId, t.batchId, t.mailbox] }),
  // The batch's oldest blocking failure: the first entry of this index.
  index('mailboxes_held_up_idx').on(t.tenantId, t.batchId, t.heldUpSince, t.mailbox)
])

export const events = pgTable('events', {
  // Arrival order; also the snapshot clock that keeps report cursors stable.
  seq: bigserial('seq', { mode: 'number' }).primaryKey(),
  tenantId: text('tenant_id').notNull(),
  eventId: text('event_id').notNull(),
  batchId: text('batch_id').notNull(),
  mailbox: orderedText('mailbox').notNull(),
  occurredAt: epochMs('occurred_at').notNull(),
  outcome: text('outcome', { enum: ['failed', 'synced'] }).notNull(),
  category: orderedText('category'),
  rule: text('rule'),
  code: text('code'),
  message: text('message'),
  context: text('context').notNull(),
  contentHash: text('content_hash').notNull(),
  receivedAt: epochMs('received_at').notNull()
}, (t) => [
  uniqueIndex('events_tenant_event_uq').on(t.tenantId, t.eventId),
  index('events_mailbox_idx').on(t.tenantId, t.batchId, t.mailbox, t.occurredAt)
])

export const failures = pgTable('failures', {
  tenantId: text('tenant_id').notNull(),
  batchId: text('batch_id').notNull(),
  mailbox: orderedText('mailbox').notNull(),
  category: orderedText('category').notNull(),
  status: text('status', { enum: ['open', 'resolved'] }).notNull(),
  firstSeenAt: epochMs('first_seen_at').notNull(),
  lastSeenAt: epochMs('last_seen_at').notNull(),
  occurrences: integer('occurrences').notNull(),
  reopenCount: integer('reopen_count').notNull(),
  lastCode: text('last_code'),
  lastMessage: text('last_message').notNull(),
  rule: text('rule').notNull(),
  resolvedAt: epochMs('resolved_at'),
  context: text('context').notNull(),
  // seq of the last event that changed this row (see events.seq).
  seq: bigint('seq', { mode: 'number' }).notNull()
}, (t) => [
  primaryKey({ columns: [t.tenantId, t.batchId, t.mailbox, t.category] }),
  // lastSeenAt descending (NULLS FIRST, as ORDER BY ... DESC has it), as the report orders: the mixed order then needs no sort step.
  index('failures_report_status_idx').on(t.tenantId, t.batchId, t.status, t.lastSeenAt.desc().nullsFirst(), t.mailbox, t.category),
  index('failures_report_all_idx').on(t.tenantId, t.batchId, t.lastSeenAt.desc().nullsFirst(), t.mailbox, t.category),
  index('failures_seq_idx').on(t.tenantId, t.batchId, t.seq),
  // The retention purge takes the longest-resolved failures first; open ones (null) stay out of it.
  index('failures_resolved_idx').on(t.resolvedAt).where(sql`resolved_at is not null`)
])

export const apiKeys = pgTable('api_keys', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  name: text('name'),
  // The key's first characters, in clear: finds the candidate rows and names the key in lists.
  prefix: text('prefix').notNull(),
  // SHA-256 (hex) of the whole key; the key itself is never stored.
  keyHash: text('key_hash').notNull(),
  // Comma-separated scopes, as in SQLite.
  scopes: text('scopes').notNull(),
  createdAt: epochMs('created_at').notNull(),
  revokedAt: epochMs('revoked_at')
}, (t) => [
  uniqueIndex('api_keys_hash_uq').on(t.keyHash),
  index('api_keys_prefix_idx').on(t.prefix),
  index('api_keys_tenant_idx').on(t.tenantId, t.createdAt)
])

// The change feed: one row per lifecycle change, numbered per tenant (change_counters holds the
// last number given; a writer updates it last, just before it commits, so numbers commit in
// order). `failure` is the failure as it stood after the change, as JSON text.
export const changes = pgTable('changes', {
  tenantId: text('tenant_id').notNull(),
  seq: bigint('seq', { mode: 'number' }).notNull(),
  type: text('type').notNull(),
  batchId: text('batch_id').notNull(),
  mailbox: text('mailbox').notNull(),
  category: text('category').notNull(),
  rule: text('rule').notNull(),
  status: text('status', { enum: ['open', 'resolved'] }).notNull(),
  occurredAt: epochMs('occurred_at').notNull(),
  recordedAt: epochMs('recorded_at').notNull(),
  failure: text('failure').notNull()
}, (t) => [
  primaryKey({ columns: [t.tenantId, t.seq] }),
  index('changes_batch_idx').on(t.tenantId, t.batchId, t.seq),
  // The retention purge deletes the oldest first.
  index('changes_recorded_idx').on(t.recordedAt)
])

export const changeCounters = pgTable('change_counters', {
  tenantId: text('tenant_id').primaryKey(),
  lastSeq: bigint('last_seq', { mode: 'number' }).notNull()
})

// E-mail digests (issue #13). A subscription follows its tenant's change feed with a cursor of
// its own; per batch, a digest row says what is pending and when the last mail went out. Lists
// (recipients, filters) are JSON arrays as text, portable across dialects.
export const emailSubscriptions = pgTable('email_subscriptions', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  description: text('description'),
  recipients: text('recipients').notNull(),
  // Addresses that unsubscribed through a mail's link: skipped until an admin lists them again.
  unsubscribed: text('unsubscribed').notNull(),
  batchIds: text('batch_ids').notNull(),
  categories: text('categories').notNull(),
  minimumSeverity: text('minimum_severity').notNull(),
  enabled: boolean('enabled').notNull(),
  // Signs this subscription's unsubscribe links (HMAC key, base64url).
  linkSecret: text('link_secret').notNull(),
  // Last feed seq folded into the digests.
  feedCursor: bigint('feed_cursor', { mode: 'number' }).notNull(),
  createdAt: epochMs('created_at').notNull(),
  updatedAt: epochMs('updated_at').notNull()
}, (t) => [
  index('email_subscriptions_tenant_idx').on(t.tenantId, t.createdAt)
])

export const emailDigests = pgTable('email_digests', {
  subscriptionId: text('subscription_id').notNull(),
  batchId: text('batch_id').notNull(),
  // Changes of the batch with a seq above this are not mailed yet.
  sentThrough: bigint('sent_through', { mode: 'number' }).notNull(),
  firstPendingAt: epochMs('first_pending_at'),
  lastSentAt: epochMs('last_sent_at'),
  // Failures mailed and not yet recovered (rows of email_reported).
  openCount: integer('open_count').notNull(),
  // Everything reported has recovered since the last mail: a "resolved" mail is due.
  resolvedPending: boolean('resolved_pending').notNull()
}, (t) => [
  primaryKey({ columns: [t.subscriptionId, t.batchId] })
])

// The failures a digest mailed that are still open: the daily reminder lists them, and the
// "resolved" mail goes out once none is left. `failure` is the change's failure as JSON.
export const emailReported = pgTable('email_reported', {
  subscriptionId: text('subscription_id').notNull(),
  batchId: text('batch_id').notNull(),
  mailbox: text('mailbox').notNull(),
  category: text('category').notNull(),
  failure: text('failure').notNull(),
  reportedAt: epochMs('reported_at').notNull()
}, (t) => [
  primaryKey({ columns: [t.subscriptionId, t.batchId, t.mailbox, t.category] })
])

// The outbox: one row per mail (its content as a model, rendered per recipient at send time)...
export const emailMessages = pgTable('email_messages', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  subscriptionId: text('subscription_id').notNull(),
  batchId: text('batch_id').notNull(),
  kind: text('kind').notNull(),
  model: text('model').notNull(),
  createdAt: epochMs('created_at').notNull()
}, (t) => [
  index('email_messages_subscription_idx').on(t.subscriptionId)
])

// ...and one per recipient, claimed with a lease. message_id is fixed when the row is written,
// before any attempt, so a resend after a crash carries the same Message-ID.
export const emailDeliveries = pgTable('email_deliveries', {
  id: text('id').primaryKey(),
  messageRowId: text('message_row_id').notNull(),
  subscriptionId: text('subscription_id').notNull(),
  recipient: text('recipient').notNull(),
  messageId: text('message_id').notNull(),
  status: text('status').notNull(),
  attempts: integer('attempts').notNull(),
  nextAttemptAt: epochMs('next_attempt_at').notNull(),
  leaseUntil: epochMs('lease_until'),
  lastAttemptAt: epochMs('last_attempt_at'),
  lastCode: integer('last_code'),
  lastError: text('last_error'),
  sentAt: epochMs('sent_at'),
  createdAt: epochMs('created_at').notNull()
}, (t) => [
  index('email_deliveries_due_idx').on(t.status, t.nextAttemptAt),
  index('email_deliveries_subscription_idx').on(t.subscriptionId, t.createdAt)
])
// Secrets the service generates for itself (see schema.sqlite.ts).
export const serviceSecrets = pgTable('service_secrets', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
  createdAt: epochMs('created_at').notNull()
})
// A batch's summary counts, kept by the writes that change them (src/domain/counts.ts): one row
// per counter (mailboxesSeen, mailboxesBlocked, open:<category>, ...).
export const batchCounters = pgTable('batch_counters', {
  tenantId: text('tenant_id').notNull(),
  batchId: text('batch_id').notNull(),
  name: text('name').notNull(),
  value: bigint('value', { mode: 'number' }).notNull()
}, (t) => [
  primaryKey({ columns: [t.tenantId, t.batchId, t.name] })
])
// Webhooks: see schema.sqlite.ts.
export const webhookSubscriptions = pgTable('webhook_subscriptions', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  url: text('url').notNull(),
  description: text('description'),
  eventTypes: text('event_types').notNull(),
  batchIds: text('batch_ids').notNull(),
  categories: text('categories').notNull(),
  mode: text('mode', { enum: ['each', 'digest'] }).notNull(),
  groupWaitMs: epochMs('group_wait_ms').notNull(),
  groupIntervalMs: epochMs('group_interval_ms').notNull(),
  secret: text('secret').notNull(),
  previousSecret: text('previous_secret'),
  previousSecretExpiresAt: epochMs('previous_secret_expires_at'),
  enabled: boolean('enabled').notNull(),
  disabledReason: text('disabled_reason'),
  disabledAt: epochMs('disabled_at'),
  failingSince: epochMs('failing_since'),
  cursor: bigint('cursor', { mode: 'number' }).notNull(),
  createdAt: epochMs('created_at').notNull(),
  updatedAt: epochMs('updated_at').notNull()
}, (t) => [
  index('webhook_subscriptions_tenant_idx').on(t.tenantId, t.createdAt)
])

export const webhookDeliveries = pgTable('webhook_deliveries', {
  id: text('id').primaryKey(),
  subscriptionId: text('subscription_id').notNull(),
  tenantId: text('tenant_id').notNull(),
  type: text('type').notNull(),
  payload: text('payload').notNull(),
  orderingKey: text('ordering_key'),
  position: bigint('position', { mode: 'number' }).notNull(),
  status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
  attempts: integer('attempts').notNull(),
  nextAttemptAt: epochMs('next_attempt_at'),
  leaseToken: text('lease_token'),
  leaseUntil: epochMs('lease_until'),
  createdAt: epochMs('created_at').notNull()
}, (t) => [
  index('webhook_deliveries_due_idx').on(t.status, t.nextAttemptAt),
  index('webhook_deliveries_order_idx').on(t.subscriptionId, t.orderingKey, t.position),
  index('webhook_deliveries_log_idx').on(t.subscriptionId, t.createdAt, t.id)
])

export const webhookAttempts = pgTable('webhook_attempts', {
  deliveryId: text('delivery_id').notNull(),
  number: integer('number').notNull(),
  attemptedAt: epochMs('attempted_at').notNull(),
  statusCode: integer('status_code'),
  durationMs: integer('duration_ms').notNull(),
  error: text('error'),
  nextAttemptAt: epochMs('next_attempt_at')
}, (t) => [
  primaryKey({ columns: [t.deliveryId, t.number] })
])

export const webhookDigestGroups = pgTable('webhook_digest_groups', {
  subscriptionId: text('subscription_id').notNull(),
  batchId: text('batch_id').notNull(),
  fromSeq: bigint('from_seq', { mode: 'number' }),
  toSeq: bigint('to_seq', { mode: 'number' }),
  firstPendingAt: epochMs('first_pending_at'),
  lastSentAt: epochMs('last_sent_at')
}, (t) => [
  primaryKey({ columns: [t.subscriptionId, t.batchId] })
])
