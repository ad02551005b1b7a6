import { and, asc, desc, eq, inArray, isNotNull, sql } from 'drizzle-orm'
import { changeCounters, changes, webhookAttempts, webhookDeliveries, webhookDigestGroups, webhookSubscriptions } from '../db/schema.postgres.js'
import { openPostgres, type PostgresDb, type PostgresOptions } from '../db/postgres.js'
import type { DeliveryAttempt, WebhookDelivery, WebhookSubscription } from '../domain/webhooks.js'
import { guarded } from './postgres.js'
import {
  CLAIM_LEASE, claimedDeliveries, deliveryValues, enabledAfter, logEntries, pageOfDeliveries, pendingGroupsAfter, pendingGroupsAfterValues, purgeCondition, subscriptionChangeValues, subscriptionValues, toDelivery, toSubscription,
  type AttemptOutcome, type ClaimedDelivery, type DeliveryLogEntry, type DeliveryPage, type DeliveryPosition, type DigestGroup, type FeedStep,
  type SubscriptionChanges, type WebhookRepository
} from './webhooks.js'

/**
 * The query prepared without a name: drizzle's PostgreSQL builders ask for one, and a named
 * statement lives in one server session, which PgBouncer in transaction mode does not keep
 * (the prepared reads stay unnamed too).
 */
function unnamed<P> (query: { prepare: (name: string) => P }): P {
  return (query as { prepare: (name?: string) => P }).prepare()
}

export class PostgresWebhookRepository implements WebhookRepository {
  // The dispatcher runs these on every run: built once rather than per call.
  private readonly enabledSubscriptions
  private readonly pendingGroups
  private readonly claim

  private constructor (private readonly db: PostgresDb) {
    this.enabledSubscriptions = unnamed(db.select().from(webhookSubscriptions).where(enabledAfter(webhookSubscriptions))
      .orderBy(asc(webhookSubscriptions.id)).limit(sql.placeholder('limit')))
    this.pendingGroups = unnamed(db.select({ group: webhookDigestGroups }).from(webhookDigestGroups)
      .innerJoin(webhookSubscriptions, eq(webhookSubscriptions.id, webhookDigestGroups.subscriptionId))
      .where(pendingGroupsAfter(webhookDigestGroups, webhookSubscriptions))
      .orderBy(asc(webhookDigestGroups.subscriptionId), asc(webhookDigestGroups.batchId)).limit(sql.placeholder('limit')))
    // SKIP LOCKED: instances claiming at once each take other rows, so each attempt is made by one of them.
    this.claim = unnamed(db.update(webhookDeliveries).set(CLAIM_LEASE)
      .where(claimedDeliveries(webhookDeliveries, sql.placeholder('now'), sql.placeholder('limit'), sql` for update of m skip locked`)).returning())
  }

  static async open (options: PostgresOptions & { url: string }): Promise<PostgresWebhookRepository> {
    return new PostgresWebhookRepository((await openPostgres(options.url, options)).db)
  }

  async insertSubscription (subscription: WebhookSubscription): Promise<void> {
    await guarded(async () => { await this.db.insert(webhookSubscriptions).values(subscriptionValues(subscription)) })
  }

  async countSubscriptions (tenantId: string): Promise<number> {
    return await guarded(async () => {
      const [row] = await this.db.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(webhookSubscriptions).where(eq(webhookSubscriptions.tenantId, tenantId))
      return row?.n ?? 0
    })
  }

  async listSubscriptions (tenantId: string): Promise<WebhookSubscription[]> {
    return await guarded(async () => (await this.db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.tenantId, tenantId))
      .orderBy(asc(webhookSubscriptions.createdAt), asc(webhookSubscriptions.id))).map(toSubscription))
  }

  async findSubscription (tenantId: string, id: string): Promise<WebhookSubscription | null> {
    return await guarded(async () => {
      const [row] = await this.db.select().from(webhookSubscriptions).where(and(eq(webhookSubscriptions.tenantId, tenantId), eq(webhookSubscriptions.id, id)))
      return row === undefined ? null : toSubscription(row)
    })
  }

  async updateSubscription (tenantId: string, id: string, changes: SubscriptionChanges, now: number): Promise<WebhookSubscription | null> {
    return await guarded(async () => {
      const [row] = await this.db.update(webhookSubscriptions).set(subscriptionChangeValues(changes, now))
        .where(and(eq(webhookSubscriptions.tenantId, tenantId), eq(webhookSubscriptions.id, id))).returning()
      return row === undefined ? null : toSubscription(row)
    })
  }

  async deleteSubscription (tenantId: string, id: string): Promise<boolean> {
    return await guarded(async () => await this.db.transaction(async (tx) => {
      const deleted = await tx.delete(webhookSubscriptions).where(and(eq(webhookSubscriptions.tenantId, tenantId), eq(webhookSubscriptions.id, id)))
        .returning({ id: webhookSubscriptions.id })
      if (deleted.length > 0) await tx.delete(webhookDigestGroups).where(eq(webhookDigestGroups.subscriptionId, id))
      return deleted.length > 0
    }))
  }

  async listEnabledSubscriptions (after: string | null, limit: number): Promise<WebhookSubscription[]> {
    return await guarded(async () => (await this.enabledSubscriptions.execute({ after: after ?? '', limit })).map(toSubscription))
  }

  /**
   * The conditional cursor update takes the subscription's row lock first: a second instance
   * running the same step waits, then finds the cursor moved (READ COMMITTED rereads the row)
   * and writes nothing, so each change becomes one message.
   */
  async applyFeedStep (step: FeedStep): Promise<boolean> {
    return await guarded(async () => await this.db.transaction(async (tx) => {
      const moved = await tx.update(webhookSubscriptions).set({ cursor: step.toCursor })
        .where(and(eq(webhookSubscriptions.id, step.subscriptionId), eq(webhookSubscriptions.cursor, step.fromCursor))).returning({ id: webhookSubscriptions.id })
      if (moved.length === 0) return false
      for (let index = 0; index < step.deliveries.length; index += 200) {
        await tx.insert(webhookDeliveries).values(step.deliveries.slice(index, index + 200).map(deliveryValues))
      }
      for (const group of step.groups) {
        await tx.insert(webhookDigestGroups).values({ subscriptionId: step.subscriptionId, ...group, lastSentAt: null }).onConflictDoUpdate({
          target: [webhookDigestGroups.subscriptionId, webhookDigestGroups.batchId],
          set: {
            // A replay may fold in changes older than those pending: the range only grows.
            fromSeq: sql`least(coalesce(${webhookDigestGroups.fromSeq}, excluded.from_seq), excluded.from_seq)`,
            toSeq: sql`greatest(coalesce(${webhookDigestGroups.toSeq}, excluded.to_seq), excluded.to_seq)`,
            firstPendingAt: sql`coalesce(${webhookDigestGroups.firstPendingAt}, excluded.first_pending_at)`
          }
        })
      }
      return true
    }))
  }

  async listPendingGroups (after: { subscriptionId: string, batchId: string } | null, limit: number): Promise<DigestGroup[]> {
    return await guarded(async () => (await this.pendingGroups.execute({ ...pendingGroupsAfterValues(after), limit })).map((row) => row.group))
  }

  async flushGroup (group: DigestGroup, delivery: WebhookDelivery | null, now: number): Promise<boolean> {
    return await guarded(async () => await this.db.transaction(async (tx) => {
      const emptied = await tx.update(webhookDigestGroups).set({ fromSeq: null, toSeq: null, firstPendingAt: null, lastSentAt: now })
        .where(and(eq(webhookDigestGroups.subscriptionId, group.subscriptionId), eq(webhookDigestGroups.batchId, group.batchId),
          eq(webhookDigestGroups.fromSeq, group.fromSeq ?? -1), eq(webhookDigestGroups.toSeq, group.toSeq ?? -1)))
        .returning({ batchId: webhookDigestGroups.batchId })
      if (emptied.length === 0) return false
      if (delivery !== null) await tx.insert(webhookDeliveries).values(deliveryValues(delivery))
      return true
    }))
  }

  async insertDelivery (delivery: WebhookDelivery): Promise<void> {
    await guarded(async () => { await this.db.insert(webhookDeliveries).values(deliveryValues(delivery)) })
  }

  async claimDue (now: number, leaseUntil: number, limit: number, leaseToken: string): Promise<ClaimedDelivery[]> {
    return await guarded(async () => {
      const deliveries = (await this.claim.execute({ now, leaseUntil, limit, leaseToken })).map(toDelivery)
      if (deliveries.length === 0) return []
      const subscriptions = new Map((await this.db.select().from(webhookSubscriptions)
        .where(inArray(webhookSubscriptions.id, [...new Set(deliveries.map((d) => d.subscriptionId))]))).map((row) => [row.id, toSubscription(row)]))
      return deliveries.flatMap((delivery) => {
        const subscription = subscriptions.get(delivery.subscriptionId)
        return subscription === undefined ? [] : [{ delivery, subscription, leaseToken }]
      })
    })
  }

  async completeAttempt (outcome: AttemptOutcome): Promise<boolean> {
    const { attempt } = outcome
    return await guarded(async () => await this.db.transaction(async (tx) => {
      const [row] = await tx.update(webhookDeliveries).set({
        status: outcome.status, attempts: sql`${webhookDeliveries.attempts} + 1`, nextAttemptAt: attempt.nextAttemptAt, leaseToken: null, leaseUntil: null
      }).where(and(eq(webhookDeliveries.id, outcome.deliveryId), eq(webhookDeliveries.leaseToken, outcome.leaseToken)))
        .returning({ attempts: webhookDeliveries.attempts, subscriptionId: webhookDeliveries.subscriptionId })
      if (row === undefined) return false
      await tx.insert(webhookAttempts).values({ ...attempt, number: row.attempts }).onConflictDoNothing()
      await tx.update(webhookSubscriptions).set(outcome.succeeded
        ? { failingSince: null }
        : {
            failingSince: sql`coalesce(${webhookSubscriptions.failingSince}, ${attempt.attemptedAt})`,
            ...(outcome.disable === null ? {} : { enabled: false, disabledReason: outcome.disable, disabledAt: attempt.attemptedAt })
          })
        .where(eq(webhookSubscriptions.id, row.subscriptionId))
      return true
    }))
  }

  async releaseLeases (): Promise<number> {
    return await guarded(async () => (await this.db.update(webhookDeliveries).set({ leaseToken: null, leaseUntil: null })
      .where(isNotNull(webhookDeliveries.leaseToken)).returning({ id: webhookDeliveries.id })).length)
  }

  async listDeliveries (subscriptionId: string, after: DeliveryPosition | null, limit: number): Promise<DeliveryPage> {
    return await guarded(async () => {
      const rows = (await this.db.select().from(webhookDeliveries).where(and(eq(webhookDeliveries.subscriptionId, subscriptionId),
        after === null ? undefined : sql`(${webhookDeliveries.createdAt}, ${webhookDeliveries.position}, ${webhookDeliveries.id}) < (${after.createdAt}, ${after.position}, ${after.id})`))
        .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.position), desc(webhookDeliveries.id)).limit(limit + 1)).map(toDelivery)
      return pageOfDeliveries(rows, await this.attemptsOf(rows.slice(0, limit).map((row) => row.id)), limit)
    })
  }

  private async attemptsOf (deliveryIds: string[]): Promise<DeliveryAttempt[]> {
    if (deliveryIds.length === 0) return []
    return (await this.db.select().from(webhookAttempts).where(inArray(webhookAttempts.deliveryId, deliveryIds))
      .orderBy(asc(webhookAttempts.deliveryId), asc(webhookAttempts.number))).map(({ number: _number, ...attempt }) => attempt)
  }

  async findDelivery (subscriptionId: string, deliveryId: string): Promise<DeliveryLogEntry | null> {
    return await guarded(async () => {
      const [row] = await this.db.select().from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.subscriptionId, subscriptionId), eq(webhookDeliveries.id, deliveryId)))
      return row === undefined ? null : logEntries([toDelivery(row)], await this.attemptsOf([deliveryId]))[0]
    })
  }

  async retryDelivery (subscriptionId: string, deliveryId: string, now: number): Promise<boolean> {
    return await guarded(async () => (await this.db.update(webhookDeliveries).set({ status: 'pending', nextAttemptAt: now, leaseToken: null, leaseUntil: null, attempts: 0 })
      .where(and(eq(webhookDeliveries.subscriptionId, subscriptionId), eq(webhookDeliveries.id, deliveryId))).returning({ id: webhookDeliveries.id })).length > 0)
  }

  async seqBefore (tenantId: string, since: number): Promise<number> {
    return await guarded(async () => {
      const [first] = await this.db.select({ seq: sql<number | null>`min(${changes.seq})`.mapWith((value) => value === null ? null : Number(value)) }).from(changes)
        .where(and(eq(changes.tenantId, tenantId), sql`${changes.recordedAt} >= ${since}`))
      if (first?.seq != null) return first.seq - 1
      const [counter] = await this.db.select({ lastSeq: changeCounters.lastSeq }).from(changeCounters).where(eq(changeCounters.tenantId, tenantId))
      return counter?.lastSeq ?? 0
    })
  }

  async purgeDeliveries (before: number, limit: number): Promise<number> {
    return await guarded(async () => await this.db.transaction(async (tx) => {
      const { rows } = await tx.execute<{ id: string }>(sql`select id from webhook_deliveries where ${purgeCondition(before)} limit ${limit} for update skip locked`)
      const ids = rows.map((row) => row.id)
      if (ids.length === 0) return 0
      await tx.delete(webhookAttempts).where(inArray(webhookAttempts.deliveryId, ids))
      await tx.delete(webhookDeliveries).where(inArray(webhookDeliveries.id, ids))
      return ids.length
    }))
  }

  async close (): Promise<void> {
    if (!this.db.$client.ended) await this.db.$client.end()
  }
}
