import { and, eq, gt, isNotNull, sql, type AnyColumn, type Placeholder, type SQL } from 'drizzle-orm'
import type { CategoryId } from '../domain/types.js'
import type { ChangeType } from '../domain/changes.js'
import type { DeliveryAttempt, DeliveryStatus, WebhookDelivery, WebhookSubscription } from '../domain/webhooks.js'

// The webhook store: subscriptions, the delivery outbox, attempts and digest groups. One
// interface, one implementation per dialect (webhooks.sqlite.ts, webhooks.postgres.ts).

/** What PATCH may change, and what the dispatcher sets when it disables a subscription. */
export type SubscriptionChanges = Partial<Pick<WebhookSubscription,
  'url' | 'description' | 'eventTypes' | 'batchIds' | 'categories' | 'mode' | 'groupWaitMs' | 'groupIntervalMs' |
  'secret' | 'previousSecret' | 'previousSecretExpiresAt' | 'enabled' | 'disabledReason' | 'disabledAt' | 'failingSince' | 'cursor'>>

/** The digest groups of a subscription: a batch's changes waiting for the next digest message. */
export interface DigestGroup {
  subscriptionId: string
  batchId: string
  fromSeq: number | null
  toSeq: number | null
  firstPendingAt: number | null
  lastSentAt: number | null
}

/** What one pass over a subscription's feed produced, applied only if its cursor is still `fromCursor`. */
export interface FeedStep {
  subscriptionId: string
  fromCursor: number
  toCursor: number
  deliveries: WebhookDelivery[]
  /** Changes folded into digest groups: the range and the first change's time, per batch. */
  groups: Array<{ batchId: string, fromSeq: number, toSeq: number, firstPendingAt: number }>
}

export interface ClaimedDelivery {
  delivery: WebhookDelivery
  subscription: WebhookSubscription
  leaseToken: string
}

export interface AttemptOutcome {
  deliveryId: string
  leaseToken: string
  attempt: DeliveryAttempt
  status: DeliveryStatus
  /** True when the endpoint answered 2xx (the subscription is no longer failing). */
  succeeded: boolean
  /** Set when the subscription is to be disabled with this reason. */
  disable: string | null
}

/** Position in the delivery log: newest first (createdAt, then position, then id, all descending). */
export interface DeliveryPosition {
  createdAt: number
  position: number
  id: string
}

export interface DeliveryLogEntry {
  delivery: WebhookDelivery
  attempts: DeliveryAttempt[]
}

export interface DeliveryPage {
  items: DeliveryLogEntry[]
  next: DeliveryPosition | null
}

export interface WebhookRepository {
  insertSubscription (subscription: WebhookSubscription): Promise<void>
  countSubscriptions (tenantId: string): Promise<number>
  /** The tenant's subscriptions, oldest first. */
  listSubscriptions (tenantId: string): Promise<WebhookSubscription[]>
  findSubscription (tenantId: string, id: string): Promise<WebhookSubscription | null>
  /** Changes the tenant's subscription; null when there is no such subscription. */
  updateSubscription (tenantId: string, id: string, changes: SubscriptionChanges, now: number): Promise<WebhookSubscription | null>
  /** Removes the subscription; its deliveries go with the next purge. */
  deleteSubscription (tenantId: string, id: string): Promise<boolean>
  /** Enabled subscriptions of every tenant after `after` (by id): the dispatcher's walk. */
  listEnabledSubscriptions (after: string | null, limit: number): Promise<WebhookSubscription[]>
  /** Applies a feed step in one transaction; false (nothing written) when the cursor moved meanwhile. */
  applyFeedStep (step: FeedStep, now: number): Promise<boolean>
  /** Digest groups with pending changes of enabled subscriptions, after `after`. */
  listPendingGroups (after: { subscriptionId: string, batchId: string } | null, limit: number): Promise<DigestGroup[]>
  /** Queues the group's digest (null: nothing to send) and empties the group, if it still holds exactly `group`'s range. */
  flushGroup (group: DigestGroup, delivery: WebhookDelivery | null, now: number): Promise<boolean>
  insertDelivery (delivery: WebhookDelivery): Promise<void>
  /**
   * Leases up to `limit` due deliveries of enabled subscriptions until `leaseUntil`, skipping
   * those another instance holds and those whose ordering key has an earlier pending message.
   */
  claimDue (now: number, leaseUntil: number, limit: number, leaseToken: string): Promise<ClaimedDelivery[]>
  /** Records an attempt; false (nothing written) when the lease was lost to another claim. */
  completeAttempt (outcome: AttemptOutcome): Promise<boolean>
  /** Ends every lease (SQLite at start: one process owns the file, so no lease is live). */
  releaseLeases (): Promise<number>
  /** A subscription's deliveries, newest first, with their attempts. */
  listDeliveries (subscriptionId: string, after: DeliveryPosition | null, limit: number): Promise<DeliveryPage>
  findDelivery (subscriptionId: string, deliveryId: string): Promise<DeliveryLogEntry | null>
  /** Makes the delivery due again now (pending, its attempt count reset); false when absent. */
  retryDelivery (subscriptionId: string, deliveryId: string, now: number): Promise<boolean>
  /** The seq just before the tenant's first change recorded at or after `since` (its latest seq when none). */
  seqBefore (tenantId: string, since: number): Promise<number>
  /** Deletes up to `limit` finished deliveries created before `before`, and those of deleted subscriptions. */
  purgeDeliveries (before: number, limit: number): Promise<number>
  close (): Promise<void>
}

/** A webhook_subscriptions row as both dialects read it: the lists are JSON text. */
export type SubscriptionRow = Omit<WebhookSubscription, 'eventTypes' | 'batchIds' | 'categories'> & {
  eventTypes: string
  batchIds: string
  categories: string
}

export function toSubscription (row: SubscriptionRow): WebhookSubscription {
  return {
    ...row,
    eventTypes: JSON.parse(row.eventTypes) as ChangeType[],
    batchIds: JSON.parse(row.batchIds) as string[],
    categories: JSON.parse(row.categories) as CategoryId[]
  }
}

export function subscriptionValues (subscription: WebhookSubscription): SubscriptionRow {
  return {
    ...subscription,
    eventTypes: JSON.stringify(subscription.eventTypes),
    batchIds: JSON.stringify(subscription.batchIds),
    categories: JSON.stringify(subscription.categories)
  }
}

export function subscriptionChangeValues (changes: SubscriptionChanges, now: number): Partial<SubscriptionRow> {
  const { eventTypes, batchIds, categories, ...rest } = changes
  return {
    ...rest,
    ...(eventTypes === undefined ? {} : { eventTypes: JSON.stringify(eventTypes) }),
    ...(batchIds === undefined ? {} : { batchIds: JSON.stringify(batchIds) }),
    ...(categories === undefined ? {} : { categories: JSON.stringify(categories) }),
    updatedAt: now
  }
}

export interface DeliveryRow extends WebhookDelivery {
  leaseToken: string | null
  leaseUntil: number | null
}

export function toDelivery (row: DeliveryRow): WebhookDelivery {
  const { leaseToken: _token, leaseUntil: _until, ...delivery } = row
  return delivery
}

export function deliveryValues (delivery: WebhookDelivery): DeliveryRow {
  return { ...delivery, leaseToken: null, leaseUntil: null }
}

// The dispatcher's queries run on every run: each store prepares them once from these
// conditions, whose values are placeholders.

/** Enabled subscriptions whose id comes after the placeholder `after` ('' to start: ids are never empty). */
export function enabledAfter (subscriptions: { enabled: AnyColumn, id: AnyColumn }): SQL {
  return and(eq(subscriptions.enabled, true), gt(subscriptions.id, sql.placeholder('after'))) as SQL
}

/** Digest groups with pending changes, of enabled subscriptions, after the placeholders afterSubscription and afterBatch. */
export function pendingGroupsAfter (groups: { subscriptionId: AnyColumn, batchId: AnyColumn, fromSeq: AnyColumn }, subscriptions: { enabled: AnyColumn }): SQL {
  return and(isNotNull(groups.fromSeq), eq(subscriptions.enabled, true),
    sql`(${groups.subscriptionId}, ${groups.batchId}) > (${sql.placeholder('afterSubscription')}, ${sql.placeholder('afterBatch')})`) as SQL
}

export function pendingGroupsAfterValues (after: { subscriptionId: string, batchId: string } | null): { afterSubscription: string, afterBatch: string } {
  return { afterSubscription: after?.subscriptionId ?? '', afterBatch: after?.batchId ?? '' }
}

/** What a claim sets: the placeholders leaseToken and leaseUntil. */
export const CLAIM_LEASE = { leaseToken: sql`${sql.placeholder('leaseToken')}`, leaseUntil: sql`${sql.placeholder('leaseUntil')}` }

/** The deliveries a claim takes: the first `limit` due at `now` (values or placeholders), locked with `lock` (PostgreSQL). */
export function claimedDeliveries (deliveries: { id: AnyColumn }, now: number | Placeholder, limit: number | Placeholder, lock: SQL = sql``): SQL {
  return sql`${deliveries.id} in (select m.id from webhook_deliveries m where ${dueCondition(now)}
    order by m.next_attempt_at, m.position limit ${limit}${lock})`
}

/** A claim's candidates: due, not leased, of an enabled subscription, first of their ordering key. */
export function dueCondition (now: number | Placeholder): SQL {
  return sql`m.status = 'pending' and m.next_attempt_at <= ${now} and (m.lease_until is null or m.lease_until < ${now})
    and exists (select 1 from webhook_subscriptions s where s.id = m.subscription_id and s.enabled)
    and (m.ordering_key is null or not exists (select 1 from webhook_deliveries o where o.subscription_id = m.subscription_id
      and o.ordering_key = m.ordering_key and o.status = 'pending' and o.position < m.position))`
}

/** Deliveries the purge may delete: finished and old, or of a deleted subscription. */
export function purgeCondition (before: number): SQL {
  return sql`(status <> 'pending' and created_at < ${before})
    or not exists (select 1 from webhook_subscriptions s where s.id = webhook_deliveries.subscription_id)`
}

/** Attempts of these deliveries grouped by delivery, in attempt order. */
export function logEntries (deliveries: WebhookDelivery[], attempts: DeliveryAttempt[]): DeliveryLogEntry[] {
  const byDelivery = new Map<string, DeliveryAttempt[]>()
  for (const attempt of attempts) {
    const list = byDelivery.get(attempt.deliveryId) ?? []
    list.push(attempt)
    byDelivery.set(attempt.deliveryId, list)
  }
  return deliveries.map((delivery) => ({ delivery, attempts: byDelivery.get(delivery.id) ?? [] }))
}

export function pageOfDeliveries (rows: WebhookDelivery[], attempts: DeliveryAttempt[], limit: number): DeliveryPage {
  const items = logEntries(rows.slice(0, limit), attempts)
  const last = rows.length > limit ? rows[limit - 1] : null
  return { items, next: last === null ? null : { createdAt: last.createdAt, position: last.position, id: last.id } }
}
