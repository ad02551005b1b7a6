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
  index('failures_seq_idx').on(t.tenantId, t.batchId, t.seq),
  // The retention purge takes the longest-resolved failures first; open ones (null) stay out of it.
  index('failures_resolved_idx').on(t.resolvedAt).where(sql`resolved_at is not null`)
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

// E-mail digests (issue #13). A subscription follows its tenant's change feed with a cursor of
// its own; per batch, a digest row says what is pending and when the last mail went out. Lists
// (recipients, filters) are JSON arrays as text, portable across dialects.
export const emailSubscriptions = sqliteTable('email_subscriptions', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  description: text('description'),
  recipients: text('recipients').notNull(),
  // Addresses that unsubscribed through a mail's link: skipped until an admin lists them again.
  unsubscribed: text('unsubscribed').notNull(),
  batchIds: text('batch_ids').notNull(),
  categories: text('categories').notNull(),
  minimumSeverity: text('minimum_severity').notNull(),
  enabled: integer('enabled', { mode: 'boolean' }).notNull(),
  // Signs this subscription's unsubscribe links (HMAC key, base64url).
  linkSecret: text('link_secret').notNull(),
  // Last feed seq folded into the digests.
  feedCursor: integer('feed_cursor').notNull(),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull()
}, (t) => [
  index('email_subscriptions_tenant_idx').on(t.tenantId, t.createdAt)
])

export const emailDigests = sqliteTable('email_digests', {
  subscriptionId: text('subscription_id').notNull(),
  batchId: text('batch_id').notNull(),
  // Changes of the batch with a seq above this are not mailed yet.
  sentThrough: integer('sent_through').notNull(),
  firstPendingAt: integer('first_pending_at'),
  lastSentAt: integer('last_sent_at'),
  // Failures mailed and not yet recovered (rows of email_reported).
  openCount: integer('open_count').notNull(),
  // Everything reported has recovered since the last mail: a "resolved" mail is due.
  resolvedPending: integer('resolved_pending', { mode: 'boolean' }).notNull()
}, (t) => [
  primaryKey({ columns: [t.subscriptionId, t.batchId] })
])

// The failures a digest mailed that are still open: the daily reminder lists them, and the
// "resolved" mail goes out once none is left. `failure` is the change's failure as JSON.
export const emailReported = sqliteTable('email_reported', {
  subscriptionId: text('subscription_id').notNull(),
  batchId: text('batch_id').notNull(),
  mailbox: text('mailbox').notNull(),
  category: text('category').notNull(),
  failure: text('failure').notNull(),
  reportedAt: integer('reported_at').notNull()
}, (t) => [
  primaryKey({ columns: [t.subscriptionId, t.batchId, t.mailbox, t.category] })
])

// The outbox: one row per mail (its content as a model, rendered per recipient at send time)...
export const emailMessages = sqliteTable('email_messages', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  subscriptionId: text('subscription_id').notNull(),
  batchId: text('batch_id').notNull(),
  kind: text('kind').notNull(),
  model: text('model').notNull(),
  createdAt: integer('created_at').notNull()
}, (t) => [
  index('email_messages_subscription_idx').on(t.subscriptionId)
])

// ...and one per recipient, claimed with a lease. message_id is fixed when the row is written,
// before any attempt, so a resend after a crash carries the same Message-ID.
export const emailDeliveries = sqliteTable('email_deliveries', {
  id: text('id').primaryKey(),
  messageRowId: text('message_row_id').notNull(),
  subscriptionId: text('subscription_id').notNull(),
  recipient: text('recipient').notNull(),
  messageId: text('message_id').notNull(),
  status: text('status').notNull(),
  attempts: integer('attempts').notNull(),
  nextAttemptAt: integer('next_attempt_at').notNull(),
  leaseUntil: integer('lease_until'),
  lastAttemptAt: integer('last_attempt_at'),
  lastCode: integer('last_code'),
  lastError: text('last_error'),
  sentAt: integer('sent_at'),
  createdAt: integer('created_at').notNull()
}, (t) => [
  index('email_deliveries_due_idx').on(t.status, t.nextAttemptAt),
  index('email_deliveries_subscription_idx').on(t.subscriptionId, t.createdAt)
])
// Secrets the service generates for itself when the operator gives none (the session key when
// SESSION_SECRET is unset): the first instance stores one, every other instance reads it.
export const serviceSecrets = sqliteTable('service_secrets', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
  createdAt: integer('created_at').notNull()
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
// Webhook subscriptions of a tenant. Filters are JSON arrays (empty: everything). The secret
// is kept in clear: every delivery is signed with it.
export const webhookSubscriptions = sqliteTable('webhook_subscriptions', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  url: text('url').notNull(),
  description: text('description'),
  eventTypes: text('event_types').notNull(),
  batchIds: text('batch_ids').notNull(),
  categories: text('categories').notNull(),
  mode: text('mode', { enum: ['each', 'digest'] }).notNull(),
  groupWaitMs: integer('group_wait_ms').notNull(),
  groupIntervalMs: integer('group_interval_ms').notNull(),
  secret: text('secret').notNull(),
  previousSecret: text('previous_secret'),
  previousSecretExpiresAt: integer('previous_secret_expires_at'),
  enabled: integer('enabled', { mode: 'boolean' }).notNull(),
  disabledReason: text('disabled_reason'),
  disabledAt: integer('disabled_at'),
  failingSince: integer('failing_since'),
  // Last change seq of the tenant's feed turned into deliveries.
  cursor: integer('cursor').notNull(),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull()
}, (t) => [
  index('webhook_subscriptions_tenant_idx').on(t.tenantId, t.createdAt)
])

// The webhook outbox: one row per message to one subscription, attempted until delivered or
// out of attempts; a claimed row carries a lease (lease_token, lease_until).
export const webhookDeliveries = sqliteTable('webhook_deliveries', {
  id: text('id').primaryKey(),
  subscriptionId: text('subscription_id').notNull(),
  tenantId: text('tenant_id').notNull(),
  type: text('type').notNull(),
  payload: text('payload').notNull(),
  orderingKey: text('ordering_key'),
  position: integer('position').notNull(),
  status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
  attempts: integer('attempts').notNull(),
  nextAttemptAt: integer('next_attempt_at'),
  leaseToken: text('lease_token'),
  leaseUntil: integer('lease_until'),
  createdAt: integer('created_at').notNull()
}, (t) => [
  index('webhook_deliveries_due_idx').on(t.status, t.nextAttemptAt),
  index('webhook_deliveries_order_idx').on(t.subscriptionId, t.orderingKey, t.position),
  index('webhook_deliveries_log_idx').on(t.subscriptionId, t.createdAt, t.id)
])

export const webhookAttempts = sqliteTable('webhook_attempts', {
  deliveryId: text('delivery_id').notNull(),
  number: integer('number').notNull(),
  attemptedAt: integer('attempted_at').notNull(),
  statusCode: integer('status_code'),
  durationMs: integer('duration_ms').notNull(),
  error: text('error'),
  nextAttemptAt: integer('next_attempt_at')
}, (t) => [
  primaryKey({ columns: [t.deliveryId, t.number] })
])

// Digest mode: the changes of a batch waiting for the subscription's next digest message.
export const webhookDigestGroups = sqliteTable('webhook_digest_groups', {
  subscriptionId: text('subscription_id').notNull(),
  batchId: text('batch_id').notNull(),
  fromSeq: integer('from_seq'),
  toSeq: integer('to_seq'),
  firstPendingAt: integer('first_pending_at'),
  lastSentAt: integer('last_sent_at')
}, (t) => [
  primaryKey({ columns: [t.subscriptionId, t.batchId] })
])
