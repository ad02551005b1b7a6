import { and, asc, desc, eq, inArray, isNotNull, sql } from 'drizzle-orm'
import { changeCounters, changes, webhookAttempts, webhookDeliveries, webhookDigestGroups, webhookSubscriptions } from '../db/schema.sqlite.js'
import { openSqlite, type SqliteDb } from '../db/sqlite.js'
import type { DeliveryAttempt, WebhookDelivery, WebhookSubscription } from '../domain/webhooks.js'
import {
  CLAIM_LEASE, claimedDeliveries, deliveryValues, enabledAfter, logEntries, pageOfDeliveries, pendingGroupsAfter, pendingGroupsAfterValues, purgeCondition, subscriptionChangeValues, subscriptionValues, toDelivery, toSubscription,
  type AttemptOutcome, type ClaimedDelivery, type DeliveryLogEntry, type DeliveryPage, type DeliveryPosition, type DigestGroup, type FeedStep,
  type SubscriptionChanges, type WebhookRepository
} from './webhooks.js'

// better-sqlite3 runs every statement synchronously: each method's transaction is one
// synchronous call, so nothing else on the shared connection runs inside it.

export class SqliteWebhookRepository implements WebhookRepository {
  // The dispatcher runs these on every run, a few dozen times a second under load: prepared
  // once, since building and preparing them per call cost more than running them.
  private readonly enabledSubscriptions
  private readonly pendingGroups
  private readonly claim

  constructor (private readonly db: SqliteDb) {
    this.enabledSubscriptions = db.select().from(webhookSubscriptions).where(enabledAfter(webhookSubscriptions))
      .orderBy(asc(webhookSubscriptions.id)).limit(sql.placeholder('limit')).prepare()
    this.pendingGroups = db.select({ group: webhookDigestGroups }).from(webhookDigestGroups)
      .innerJoin(webhookSubscriptions, eq(webhookSubscriptions.id, webhookDigestGroups.subscriptionId))
      .where(pendingGroupsAfter(webhookDigestGroups, webhookSubscriptions))
      .orderBy(asc(webhookDigestGroups.subscriptionId), asc(webhookDigestGroups.batchId)).limit(sql.placeholder('limit')).prepare()
    this.claim = db.update(webhookDeliveries).set(CLAIM_LEASE).where(claimedDeliveries(webhookDeliveries, sql.placeholder('now'), sql.placeholder('limit'))).returning().prepare()
  }

  static open (path: string): SqliteWebhookRepository {
    return new SqliteWebhookRepository(openSqlite(path).db)
  }

  async insertSubscription (subscription: WebhookSubscription): Promise<void> {
    this.db.insert(webhookSubscriptions).values(subscriptionValues(subscription)).run()
  }

  async countSubscriptions (tenantId: string): Promise<number> {
    return this.db.select({ n: sql<number>`count(*)` }).from(webhookSubscriptions).where(eq(webhookSubscriptions.tenantId, tenantId)).get()?.n ?? 0
  }

  async listSubscriptions (tenantId: string): Promise<WebhookSubscription[]> {
    return this.db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.tenantId, tenantId))
      .orderBy(asc(webhookSubscriptions.createdAt), asc(webhookSubscriptions.id)).all().map(toSubscription)
  }

  async findSubscription (tenantId: string, id: string): Promise<WebhookSubscription | null> {
    const row = this.db.select().from(webhookSubscriptions)
      .where(and(eq(webhookSubscriptions.tenantId, tenantId), eq(webhookSubscriptions.id, id))).get()
    return row === undefined ? null : toSubscription(row)
  }

  async updateSubscription (tenantId: string, id: string, changes: SubscriptionChanges, now: number): Promise<WebhookSubscription | null> {
    const row = this.db.update(webhookSubscriptions).set(subscriptionChangeValues(changes, now))
      .where(and(eq(webhookSubscriptions.tenantId, tenantId), eq(webhookSubscriptions.id, id))).returning().get()
    return row === undefined ? null : toSubscription(row)
  }

  async deleteSubscription (tenantId: string, id: string): Promise<boolean> {
    return this.db.transaction((tx) => {
      const deleted = tx.delete(webhookSubscriptions).where(and(eq(webhookSubscriptions.tenantId, tenantId), eq(webhookSubscriptions.id, id))).run().changes > 0
      if (deleted) tx.delete(webhookDigestGroups).where(eq(webhookDigestGroups.subscriptionId, id)).run()
      return deleted
    })
  }

  async listEnabledSubscriptions (after: string | null, limit: number): Promise<WebhookSubscription[]> {
    return this.enabledSubscriptions.all({ after: after ?? '', limit }).map(toSubscription)
  }

  async applyFeedStep (step: FeedStep, now: number): Promise<boolean> {
    return this.db.transaction((tx) => {
      const moved = tx.update(webhookSubscriptions).set({ cursor: step.toCursor })
        .where(and(eq(webhookSubscriptions.id, step.subscriptionId), eq(webhookSubscriptions.cursor, step.fromCursor))).run().changes
      if (moved === 0) return false
      for (const delivery of step.deliveries) tx.insert(webhookDeliveries).values(deliveryValues(delivery)).run()
      for (const group of step.groups) {
        tx.insert(webhookDigestGroups).values({ subscriptionId: step.subscriptionId, ...group, lastSentAt: null }).onConflictDoUpdate({
          target: [webhookDigestGroups.subscriptionId, webhookDigestGroups.batchId],
          set: {
            // A replay may fold in changes older than those pending: the range only grows.
            fromSeq: sql`min(coalesce(${webhookDigestGroups.fromSeq}, excluded.from_seq), excluded.from_seq)`,
            toSeq: sql`max(coalesce(${webhookDigestGroups.toSeq}, excluded.to_seq), excluded.to_seq)`,
            firstPendingAt: sql`coalesce(${webhookDigestGroups.firstPendingAt}, excluded.first_pending_at)`
          }
        }).run()
      }
      return true
    }, { behavior: 'immediate' })
  }

  async listPendingGroups (after: { subscriptionId: string, batchId: string } | null, limit: number): Promise<DigestGroup[]> {
    return this.pendingGroups.all({ ...pendingGroupsAfterValues(after), limit }).map((row) => row.group)
  }

  async flushGroup (group: DigestGroup, delivery: WebhookDelivery | null, now: number): Promise<boolean> {
    return this.db.transaction((tx) => {
      const emptied = tx.update(webhookDigestGroups).set({ fromSeq: null, toSeq: null, firstPendingAt: null, lastSentAt: now })
        .where(and(eq(webhookDigestGroups.subscriptionId, group.subscriptionId), eq(webhookDigestGroups.batchId, group.batchId),
          eq(webhookDigestGroups.fromSeq, group.fromSeq ?? -1), eq(webhookDigestGroups.toSeq, group.toSeq ?? -1))).run().changes
      if (emptied === 0) return false
      if (delivery !== null) tx.insert(webhookDeliveries).values(deliveryValues(delivery)).run()
      return true
    }, { behavior: 'immediate' })
  }

  async insertDelivery (delivery: WebhookDelivery): Promise<void> {
    this.db.insert(webhookDeliveries).values(deliveryValues(delivery)).run()
  }

  async claimDue (now: number, leaseUntil: number, limit: number, leaseToken: string): Promise<ClaimedDelivery[]> {
    return this.withSubscriptions(this.claim.all({ now, leaseUntil, limit, leaseToken }).map(toDelivery), leaseToken)
  }

  private withSubscriptions (deliveries: WebhookDelivery[], leaseToken: string): ClaimedDelivery[] {
    if (deliveries.length === 0) return []
    const subscriptions = new Map(this.db.select().from(webhookSubscriptions)
      .where(inArray(webhookSubscriptions.id, [...new Set(deliveries.map((d) => d.subscriptionId))])).all()
      .map((row) => [row.id, toSubscription(row)]))
    return deliveries.flatMap((delivery) => {
      const subscription = subscriptions.get(delivery.subscriptionId)
      return subscription === undefined ? [] : [{ delivery, subscription, leaseToken }]
    })
  }

  async completeAttempt (outcome: AttemptOutcome): Promise<boolean> {
    const { attempt } = outcome
    return this.db.transaction((tx) => {
      const row = tx.update(webhookDeliveries).set({
        status: outcome.status, attempts: sql`${webhookDeliveries.attempts} + 1`, nextAttemptAt: attempt.nextAttemptAt, leaseToken: null, leaseUntil: null
      }).where(and(eq(webhookDeliveries.id, outcome.deliveryId), eq(webhookDeliveries.leaseToken, outcome.leaseToken)))
        .returning({ attempts: webhookDeliveries.attempts, subscriptionId: webhookDeliveries.subscriptionId }).get()
      if (row === undefined) return false
      tx.insert(webhookAttempts).values({ ...attempt, number: row.attempts }).onConflictDoNothing().run()
      tx.update(webhookSubscriptions).set(outcome.succeeded
        ? { failingSince: null }
        : {
            failingSince: sql`coalesce(${webhookSubscriptions.failingSince}, ${attempt.attemptedAt})`,
            ...(outcome.disable === null ? {} : { enabled: false, disabledReason: outcome.disable, disabledAt: attempt.attemptedAt })
          })
        .where(eq(webhookSubscriptions.id, row.subscriptionId)).run()
      return true
    }, { behavior: 'immediate' })
  }

  async releaseLeases (): Promise<number> {
    return this.db.update(webhookDeliveries).set({ leaseToken: null, leaseUntil: null }).where(isNotNull(webhookDeliveries.leaseToken)).run().changes
  }

  async listDeliveries (subscriptionId: string, after: DeliveryPosition | null, limit: number): Promise<DeliveryPage> {
    const rows = this.db.select().from(webhookDeliveries).where(and(eq(webhookDeliveries.subscriptionId, subscriptionId),
      after === null ? undefined : sql`(${webhookDeliveries.createdAt}, ${webhookDeliveries.position}, ${webhookDeliveries.id}) < (${after.createdAt}, ${after.position}, ${after.id})`))
      .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.position), desc(webhookDeliveries.id)).limit(limit + 1).all().map(toDelivery)
    return pageOfDeliveries(rows, this.attemptsOf(rows.slice(0, limit).map((row) => row.id)), limit)
  }

  private attemptsOf (deliveryIds: string[]): DeliveryAttempt[] {
    if (deliveryIds.length === 0) return []
    return this.db.select().from(webhookAttempts).where(inArray(webhookAttempts.deliveryId, deliveryIds))
      .orderBy(asc(webhookAttempts.deliveryId), asc(webhookAttempts.number)).all().map(({ number: _number, ...attempt }) => attempt)
  }

  async findDelivery (subscriptionId: string, deliveryId: string): Promise<DeliveryLogEntry | null> {
    const row = this.db.select().from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.subscriptionId, subscriptionId), eq(webhookDeliveries.id, deliveryId))).get()
    return row === undefined ? null : logEntries([toDelivery(row)], this.attemptsOf([deliveryId]))[0]
  }

  async retryDelivery (subscriptionId: string, deliveryId: string, now: number): Promise<boolean> {
    return this.db.update(webhookDeliveries).set({ status: 'pending', nextAttemptAt: now, leaseToken: null, leaseUntil: null, attempts: 0 })
      .where(and(eq(webhookDeliveries.subscriptionId, subscriptionId), eq(webhookDeliveries.id, deliveryId))).run().changes > 0
  }

  async seqBefore (tenantId: string, since: number): Promise<number> {
    const first = this.db.select({ seq: sql<number | null>`min(${changes.seq})` }).from(changes)
      .where(and(eq(changes.tenantId, tenantId), sql`${changes.recordedAt} >= ${since}`)).get()?.seq ?? null
    if (first !== null) return first - 1
    return this.db.select({ lastSeq: changeCounters.lastSeq }).from(changeCounters).where(eq(changeCounters.tenantId, tenantId)).get()?.lastSeq ?? 0
  }

  async purgeDeliveries (before: number, limit: number): Promise<number> {
    return this.db.transaction((tx) => {
      const ids = tx.all<{ id: string }>(sql`select id from webhook_deliveries where ${purgeCondition(before)} limit ${limit}`).map((row) => row.id)
      if (ids.length === 0) return 0
      tx.delete(webhookAttempts).where(inArray(webhookAttempts.deliveryId, ids)).run()
      tx.delete(webhookDeliveries).where(inArray(webhookDeliveries.id, ids)).run()
      return ids.length
    }, { behavior: 'immediate' })
  }

  async close (): Promise<void> {
    if (this.db.$client.open) this.db.$client.close()
  }
}
