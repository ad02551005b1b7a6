import { and, asc, desc, eq, gt, inArray, isNotNull, or, sql } from 'drizzle-orm'
import { emailDeliveries, emailDigests, emailMessages, emailReported, emailSubscriptions } from '../db/schema.postgres.js'
import pg from 'pg'
import { LOCK_NAMESPACE, openPostgres, quoteIdentifier, type PostgresDb, type PostgresOptions } from '../db/postgres.js'
import { guarded } from './postgres.js'
import {
  deliveryValues, editableValues, emailSubscriptionValues, foldedState, messageValues, newDigestState, reportedValues,
  toClaimedEmail, toEmailDelivery, toEmailSubscription, toReportedFailure,
  type ClaimedEmail, type DigestFold, type DigestSent, type EmailDelivery, type EmailDigestState, type EmailRepository,
  type EmailSubscription, type ReportedFailure
} from './email.js'

type Tx = Parameters<Parameters<PostgresDb['transaction']>[0]>[0]

/** E-mail digest state on PostgreSQL, on a pool of its own. Deliveries are claimed with FOR UPDATE SKIP LOCKED. */
export class PostgresEmailRepository implements EmailRepository {
  private constructor (private readonly db: PostgresDb, private readonly options: PostgresOptions & { url: string }, private readonly migrationsSchema: string) {}

  static async open (options: PostgresOptions & { url: string }): Promise<PostgresEmailRepository> {
    const { db, migrationsSchema } = await openPostgres(options.url, options)
    return new PostgresEmailRepository(db, options, migrationsSchema)
  }

  /**
   * A session advisory lock on a connection of its own, keyed by the schema: one digester per
   * deployment (so each digest is composed once), and a crashed digester's lock goes with its
   * connection. Sending is shared by every instance (claimDeliveries).
   */
  async withDigestLease (work: () => Promise<void>): Promise<boolean> {
    const client = new pg.Client({
      connectionString: this.options.url,
      ...(this.options.schema === undefined ? {} : { options: `-c search_path=${quoteIdentifier(this.options.schema)}` })
    })
    client.on('error', () => {})
    try {
      await guarded(async () => { await client.connect() })
      const { rows: [row] } = await guarded(async () => await client.query<{ locked: boolean }>(
        'select pg_try_advisory_lock($1, hashtext($2)) as locked', [LOCK_NAMESPACE, `email-digests:${this.migrationsSchema}`]))
      if (row?.locked !== true) return false
      await work()
      return true
    } finally {
      await client.end().catch(() => undefined)
    }
  }

  async insertSubscription (subscription: EmailSubscription): Promise<void> {
    await guarded(async () => { await this.db.insert(emailSubscriptions).values(emailSubscriptionValues(subscription)) })
  }

  async findSubscription (tenantId: string, id: string): Promise<EmailSubscription | null> {
    return await guarded(async () => {
      const [row] = await this.db.select().from(emailSubscriptions).where(and(eq(emailSubscriptions.tenantId, tenantId), eq(emailSubscriptions.id, id)))
      return row === undefined ? null : toEmailSubscription(row)
    })
  }

  async findSubscriptionById (id: string): Promise<EmailSubscription | null> {
    return await guarded(async () => {
      const [row] = await this.db.select().from(emailSubscriptions).where(eq(emailSubscriptions.id, id))
      return row === undefined ? null : toEmailSubscription(row)
    })
  }

  async listSubscriptions (tenantId: string): Promise<EmailSubscription[]> {
    return await guarded(async () => (await this.db.select().from(emailSubscriptions).where(eq(emailSubscriptions.tenantId, tenantId))
      .orderBy(asc(emailSubscriptions.createdAt), asc(emailSubscriptions.id))).map(toEmailSubscription))
  }

  async listEnabledSubscriptions (after: string | null, limit: number): Promise<EmailSubscription[]> {
    return await guarded(async () => (await this.db.select().from(emailSubscriptions)
      .where(and(eq(emailSubscriptions.enabled, true), ...(after === null ? [] : [gt(emailSubscriptions.id, after)])))
      .orderBy(asc(emailSubscriptions.id)).limit(limit)).map(toEmailSubscription))
  }

  async updateSubscription (subscription: EmailSubscription, feedCursor?: number): Promise<boolean> {
    return await guarded(async () => (await this.db.update(emailSubscriptions).set({ ...editableValues(subscription), ...(feedCursor === undefined ? {} : { feedCursor }) })
      .where(and(eq(emailSubscriptions.tenantId, subscription.tenantId), eq(emailSubscriptions.id, subscription.id)))
      .returning({ id: emailSubscriptions.id })).length > 0)
  }

  async deleteSubscription (tenantId: string, id: string): Promise<boolean> {
    return await guarded(async () => await this.db.transaction(async (tx) => {
      const deleted = await tx.delete(emailSubscriptions).where(and(eq(emailSubscriptions.tenantId, tenantId), eq(emailSubscriptions.id, id)))
        .returning({ id: emailSubscriptions.id })
      if (deleted.length === 0) return false
      await tx.delete(emailDigests).where(eq(emailDigests.subscriptionId, id))
      await tx.delete(emailReported).where(eq(emailReported.subscriptionId, id))
      await tx.delete(emailDeliveries).where(eq(emailDeliveries.subscriptionId, id))
      await tx.delete(emailMessages).where(eq(emailMessages.subscriptionId, id))
      return true
    }))
  }

  async unsubscribe (id: string, address: string, now: number): Promise<boolean> {
    return await guarded(async () => await this.db.transaction(async (tx) => {
      const [row] = await tx.select().from(emailSubscriptions).where(eq(emailSubscriptions.id, id)).for('update')
      if (row === undefined) return false
      const subscription = toEmailSubscription(row)
      const listed = subscription.recipients.find((recipient) => recipient.toLowerCase() === address.toLowerCase())
      if (listed === undefined) return false
      if (!subscription.unsubscribed.includes(listed)) {
        await tx.update(emailSubscriptions).set({ unsubscribed: JSON.stringify([...subscription.unsubscribed, listed]), updatedAt: now })
          .where(eq(emailSubscriptions.id, id))
      }
      await tx.update(emailDeliveries).set({ status: 'cancelled', lastError: 'unsubscribed' })
        .where(and(eq(emailDeliveries.subscriptionId, id), eq(emailDeliveries.recipient, listed), eq(emailDeliveries.status, 'pending')))
      return true
    }))
  }

  async activeDigests (subscriptionId: string): Promise<EmailDigestState[]> {
    return await guarded(async () => await this.db.select().from(emailDigests).where(and(eq(emailDigests.subscriptionId, subscriptionId),
      or(isNotNull(emailDigests.firstPendingAt), gt(emailDigests.openCount, 0)))).orderBy(asc(emailDigests.batchId)))
  }

  async applyFold (subscriptionId: string, feedCursor: number, folds: DigestFold[]): Promise<void> {
    await guarded(async () => {
      await this.db.transaction(async (tx) => {
        const [subscription] = await tx.select({ feedCursor: emailSubscriptions.feedCursor }).from(emailSubscriptions)
          .where(eq(emailSubscriptions.id, subscriptionId)).for('update')
        if (subscription === undefined) return
        for (const fold of folds) {
          const [stored] = await tx.select().from(emailDigests).where(and(eq(emailDigests.subscriptionId, subscriptionId), eq(emailDigests.batchId, fold.batchId)))
          if (stored === undefined && fold.firstPendingAt === null) continue
          const state = stored ?? newDigestState(subscriptionId, fold.batchId, subscription.feedCursor)
          for (const { mailbox, category } of fold.recovered) {
            await tx.delete(emailReported).where(and(eq(emailReported.subscriptionId, subscriptionId), eq(emailReported.batchId, fold.batchId),
              eq(emailReported.mailbox, mailbox), eq(emailReported.category, category)))
          }
          await this.saveState(tx, foldedState(state, fold, await this.openCount(tx, subscriptionId, fold.batchId)))
        }
        await tx.update(emailSubscriptions).set({ feedCursor }).where(eq(emailSubscriptions.id, subscriptionId))
      })
    })
  }

  private async openCount (tx: Tx, subscriptionId: string, batchId: string): Promise<number> {
    const [row] = await tx.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(emailReported)
      .where(and(eq(emailReported.subscriptionId, subscriptionId), eq(emailReported.batchId, batchId)))
    return row?.n ?? 0
  }

  private async saveState (tx: Tx, state: EmailDigestState): Promise<void> {
    const { subscriptionId: _s, batchId: _b, ...values } = state
    await tx.insert(emailDigests).values(state).onConflictDoUpdate({ target: [emailDigests.subscriptionId, emailDigests.batchId], set: values })
  }

  async listReported (subscriptionId: string, batchId: string, limit: number): Promise<ReportedFailure[]> {
    return await guarded(async () => (await this.db.select().from(emailReported)
      .where(and(eq(emailReported.subscriptionId, subscriptionId), eq(emailReported.batchId, batchId)))
      .orderBy(asc(emailReported.mailbox), asc(emailReported.category)).limit(limit)).map(toReportedFailure))
  }

  async recordDigest (sent: DigestSent): Promise<void> {
    await guarded(async () => {
      await this.db.transaction(async (tx) => {
        const { subscriptionId, batchId, mail, now } = sent
        const [stored] = await tx.select().from(emailDigests)
          .where(and(eq(emailDigests.subscriptionId, subscriptionId), eq(emailDigests.batchId, batchId))).for('update')
        if (stored === undefined) return
        if (mail !== null) {
          await tx.insert(emailMessages).values(messageValues(mail))
          await tx.insert(emailDeliveries).values(deliveryValues(mail))
        }
        for (let start = 0; start < sent.reported.length; start += 500) {
          const values = sent.reported.slice(start, start + 500).map((reported) => reportedValues(subscriptionId, batchId, reported, now))
          await tx.insert(emailReported).values(values).onConflictDoUpdate({
            target: [emailReported.subscriptionId, emailReported.batchId, emailReported.mailbox, emailReported.category],
            set: { failure: sql`excluded.failure`, reportedAt: now }
          })
        }
        await this.saveState(tx, {
          ...stored,
          sentThrough: sent.sentThrough,
          firstPendingAt: null,
          lastSentAt: mail === null ? stored.lastSentAt : now,
          openCount: await this.openCount(tx, subscriptionId, batchId),
          resolvedPending: false
        })
      })
    })
  }

  async claimDeliveries (now: number, leaseMs: number, limit: number): Promise<ClaimedEmail[]> {
    return await guarded(async () => await this.db.transaction(async (tx) => {
      // Rows another instance is claiming right now are skipped, not waited for: each attempt is made once.
      const due = await tx.select({ id: emailDeliveries.id }).from(emailDeliveries).where(or(
        and(eq(emailDeliveries.status, 'pending'), sql`${emailDeliveries.nextAttemptAt} <= ${now}`),
        and(eq(emailDeliveries.status, 'sending'), sql`${emailDeliveries.leaseUntil} <= ${now}`)
      )).orderBy(asc(emailDeliveries.nextAttemptAt)).limit(limit).for('update', { skipLocked: true })
      if (due.length === 0) return []
      const ids = due.map((row) => row.id)
      await tx.update(emailDeliveries).set({ status: 'sending', leaseUntil: now + leaseMs, lastAttemptAt: now, attempts: sql`${emailDeliveries.attempts} + 1` })
        .where(inArray(emailDeliveries.id, ids))
      const rows = await tx.select({ delivery: emailDeliveries, kind: emailMessages.kind, model: emailMessages.model, queuedAt: emailMessages.createdAt, subscription: emailSubscriptions })
        .from(emailDeliveries)
        .innerJoin(emailMessages, eq(emailMessages.id, emailDeliveries.messageRowId))
        .innerJoin(emailSubscriptions, eq(emailSubscriptions.id, emailDeliveries.subscriptionId))
        .where(inArray(emailDeliveries.id, ids))
      return rows.map(toClaimedEmail)
    }))
  }

  async markSent (deliveryId: string, now: number): Promise<void> {
    await guarded(async () => {
      await this.db.update(emailDeliveries).set({ status: 'sent', sentAt: now, leaseUntil: null, lastCode: 250, lastError: null })
        .where(eq(emailDeliveries.id, deliveryId))
    })
  }

  async markAttemptFailed (deliveryId: string, code: number | null, error: string, nextAttemptAt: number | null): Promise<void> {
    await guarded(async () => {
      await this.db.update(emailDeliveries).set(nextAttemptAt === null
        ? { status: 'failed', leaseUntil: null, lastCode: code, lastError: error }
        : { status: 'pending', leaseUntil: null, lastCode: code, lastError: error, nextAttemptAt })
        .where(and(eq(emailDeliveries.id, deliveryId), eq(emailDeliveries.status, 'sending')))
    })
  }

  async listDeliveries (subscriptionId: string, limit: number): Promise<EmailDelivery[]> {
    return await guarded(async () => (await this.db.select().from(emailDeliveries).where(eq(emailDeliveries.subscriptionId, subscriptionId))
      .orderBy(desc(emailDeliveries.createdAt), asc(emailDeliveries.recipient)).limit(limit)).map(toEmailDelivery))
  }

  async close (): Promise<void> {
    if (!this.db.$client.ended) await this.db.$client.end()
  }
}
