import { and, asc, desc, eq, gt, inArray, isNotNull, lt, or, sql } from 'drizzle-orm'
import { emailDeliveries, emailDigests, emailMessages, emailReported, emailSubscriptions } from '../db/schema.sqlite.js'
import type { SqliteDb } from '../db/sqlite.js'
import {
  deliveryValues, editableValues, emailSubscriptionValues, foldedState, messageValues, newDigestState, reportedValues,
  toClaimedEmail, toEmailDelivery, toEmailSubscription, toReportedFailure,
  type ClaimedEmail, type DigestFold, type DigestSent, type EmailDelivery, type EmailDigestState, type EmailRepository,
  type EmailSubscription, type EmailSubscriptionRow, type ReportedFailure
} from './email.js'

type Tx = Parameters<Parameters<SqliteDb['transaction']>[0]>[0]

/**
 * E-mail digest state on SQLite, on the failure store's connection. Every method is one
 * synchronous transaction (better-sqlite3), so nothing else runs on the connection meanwhile.
 */
export class SqliteEmailRepository implements EmailRepository {
  constructor (private readonly db: SqliteDb) {}

  /** One process owns a SQLite file: the lease is always this instance's. */
  async withDigestLease (work: () => Promise<void>): Promise<boolean> {
    await work()
    return true
  }

  async insertSubscription (subscription: EmailSubscription): Promise<void> {
    this.db.insert(emailSubscriptions).values(emailSubscriptionValues(subscription)).run()
  }

  async findSubscription (tenantId: string, id: string): Promise<EmailSubscription | null> {
    const row = this.db.select().from(emailSubscriptions).where(and(eq(emailSubscriptions.tenantId, tenantId), eq(emailSubscriptions.id, id))).get()
    return row === undefined ? null : toEmailSubscription(row as EmailSubscriptionRow)
  }

  async findSubscriptionById (id: string): Promise<EmailSubscription | null> {
    const row = this.db.select().from(emailSubscriptions).where(eq(emailSubscriptions.id, id)).get()
    return row === undefined ? null : toEmailSubscription(row as EmailSubscriptionRow)
  }

  async listSubscriptions (tenantId: string): Promise<EmailSubscription[]> {
    return this.db.select().from(emailSubscriptions).where(eq(emailSubscriptions.tenantId, tenantId))
      .orderBy(asc(emailSubscriptions.createdAt), asc(emailSubscriptions.id)).all()
      .map((row) => toEmailSubscription(row as EmailSubscriptionRow))
  }

  async listEnabledSubscriptions (after: string | null, limit: number): Promise<EmailSubscription[]> {
    return this.db.select().from(emailSubscriptions)
      .where(and(eq(emailSubscriptions.enabled, true), ...(after === null ? [] : [gt(emailSubscriptions.id, after)])))
      .orderBy(asc(emailSubscriptions.id)).limit(limit).all()
      .map((row) => toEmailSubscription(row as EmailSubscriptionRow))
  }

  async updateSubscription (subscription: EmailSubscription, feedCursor?: number): Promise<boolean> {
    return this.db.update(emailSubscriptions).set({ ...editableValues(subscription), ...(feedCursor === undefined ? {} : { feedCursor }) })
      .where(and(eq(emailSubscriptions.tenantId, subscription.tenantId), eq(emailSubscriptions.id, subscription.id))).run().changes > 0
  }

  async deleteSubscription (tenantId: string, id: string): Promise<boolean> {
    return this.db.transaction((tx) => {
      const deleted = tx.delete(emailSubscriptions).where(and(eq(emailSubscriptions.tenantId, tenantId), eq(emailSubscriptions.id, id))).run().changes > 0
      if (!deleted) return false
      tx.delete(emailDigests).where(eq(emailDigests.subscriptionId, id)).run()
      tx.delete(emailReported).where(eq(emailReported.subscriptionId, id)).run()
      tx.delete(emailDeliveries).where(eq(emailDeliveries.subscriptionId, id)).run()
      tx.delete(emailMessages).where(eq(emailMessages.subscriptionId, id)).run()
      return true
    })
  }

  async unsubscribe (id: string, address: string, now: number): Promise<boolean> {
    return this.db.transaction((tx) => {
      const row = tx.select().from(emailSubscriptions).where(eq(emailSubscriptions.id, id)).get()
      if (row === undefined) return false
      const subscription = toEmailSubscription(row as EmailSubscriptionRow)
      const listed = subscription.recipients.find((recipient) => recipient.toLowerCase() === address.toLowerCase())
      if (listed === undefined) return false
      if (!subscription.unsubscribed.includes(listed)) {
        tx.update(emailSubscriptions).set({ unsubscribed: JSON.stringify([...subscription.unsubscribed, listed]), updatedAt: now })
          .where(eq(emailSubscriptions.id, id)).run()
      }
      tx.update(emailDeliveries).set({ status: 'cancelled', lastError: 'unsubscribed' })
        .where(and(eq(emailDeliveries.subscriptionId, id), eq(emailDeliveries.recipient, listed), eq(emailDeliveries.status, 'pending'))).run()
      return true
    })
  }

  async activeDigests (subscriptionId: string): Promise<EmailDigestState[]> {
    return this.db.select().from(emailDigests).where(and(eq(emailDigests.subscriptionId, subscriptionId),
      or(isNotNull(emailDigests.firstPendingAt), gt(emailDigests.openCount, 0)))).orderBy(asc(emailDigests.batchId)).all()
  }

  async applyFold (subscriptionId: string, feedCursor: number, folds: DigestFold[]): Promise<void> {
    this.db.transaction((tx) => {
      const subscription = tx.select({ feedCursor: emailSubscriptions.feedCursor }).from(emailSubscriptions).where(eq(emailSubscriptions.id, subscriptionId)).get()
      if (subscription === undefined) return
      for (const fold of folds) {
        const stored = tx.select().from(emailDigests).where(and(eq(emailDigests.subscriptionId, subscriptionId), eq(emailDigests.batchId, fold.batchId))).get()
        if (stored === undefined && fold.firstPendingAt === null) continue
        const state = stored ?? newDigestState(subscriptionId, fold.batchId, subscription.feedCursor)
        for (const { mailbox, category } of fold.recovered) {
          tx.delete(emailReported).where(and(eq(emailReported.subscriptionId, subscriptionId), eq(emailReported.batchId, fold.batchId),
            eq(emailReported.mailbox, mailbox), eq(emailReported.category, category))).run()
        }
        this.saveState(tx, foldedState(state, fold, this.openCount(tx, subscriptionId, fold.batchId)))
      }
      tx.update(emailSubscriptions).set({ feedCursor }).where(eq(emailSubscriptions.id, subscriptionId)).run()
    })
  }

  private openCount (tx: Tx, subscriptionId: string, batchId: string): number {
    return tx.select({ n: sql<number>`count(*)` }).from(emailReported)
      .where(and(eq(emailReported.subscriptionId, subscriptionId), eq(emailReported.batchId, batchId))).get()?.n ?? 0
  }

  private saveState (tx: Tx, state: EmailDigestState): void {
    const { subscriptionId: _s, batchId: _b, ...values } = state
    tx.insert(emailDigests).values(state).onConflictDoUpdate({ target: [emailDigests.subscriptionId, emailDigests.batchId], set: values }).run()
  }

  async listReported (subscriptionId: string, batchId: string, limit: number): Promise<ReportedFailure[]> {
    return this.db.select().from(emailReported).where(and(eq(emailReported.subscriptionId, subscriptionId), eq(emailReported.batchId, batchId)))
      .orderBy(asc(emailReported.mailbox), asc(emailReported.category)).limit(limit).all().map(toReportedFailure)
  }

  async recordDigest (sent: DigestSent): Promise<void> {
    this.db.transaction((tx) => {
      const { subscriptionId, batchId, mail, now } = sent
      const stored = tx.select().from(emailDigests).where(and(eq(emailDigests.subscriptionId, subscriptionId), eq(emailDigests.batchId, batchId))).get()
      if (stored === undefined) return
      if (mail !== null) {
        tx.insert(emailMessages).values(messageValues(mail)).run()
        for (const delivery of deliveryValues(mail)) tx.insert(emailDeliveries).values(delivery).run()
      }
      for (const reported of sent.reported) {
        const values = reportedValues(subscriptionId, batchId, reported, now)
        tx.insert(emailReported).values(values).onConflictDoUpdate({
          target: [emailReported.subscriptionId, emailReported.batchId, emailReported.mailbox, emailReported.category],
          set: { failure: values.failure, reportedAt: now }
        }).run()
      }
      this.saveState(tx, {
        ...stored,
        sentThrough: sent.sentThrough,
        firstPendingAt: null,
        lastSentAt: mail === null ? stored.lastSentAt : now,
        openCount: this.openCount(tx, subscriptionId, batchId),
        resolvedPending: false
      })
    })
  }

  async claimDeliveries (now: number, leaseMs: number, limit: number): Promise<ClaimedEmail[]> {
    return this.db.transaction((tx) => {
      const due = tx.select({ id: emailDeliveries.id }).from(emailDeliveries).where(or(
        and(eq(emailDeliveries.status, 'pending'), lt(emailDeliveries.nextAttemptAt, now + 1)),
        and(eq(emailDeliveries.status, 'sending'), lt(emailDeliveries.leaseUntil, now + 1))
      )).orderBy(asc(emailDeliveries.nextAttemptAt)).limit(limit).all().map((row) => row.id)
      if (due.length === 0) return []
      tx.update(emailDeliveries).set({ status: 'sending', leaseUntil: now + leaseMs, lastAttemptAt: now, attempts: sql`${emailDeliveries.attempts} + 1` })
        .where(inArray(emailDeliveries.id, due)).run()
      return tx.select({ delivery: emailDeliveries, kind: emailMessages.kind, model: emailMessages.model, queuedAt: emailMessages.createdAt, subscription: emailSubscriptions })
        .from(emailDeliveries)
        .innerJoin(emailMessages, eq(emailMessages.id, emailDeliveries.messageRowId))
        .innerJoin(emailSubscriptions, eq(emailSubscriptions.id, emailDeliveries.subscriptionId))
        .where(inArray(emailDeliveries.id, due)).all()
        .map((row) => toClaimedEmail({ ...row, subscription: row.subscription as EmailSubscriptionRow }))
    })
  }

  async markSent (deliveryId: string, now: number): Promise<void> {
    this.db.update(emailDeliveries).set({ status: 'sent', sentAt: now, leaseUntil: null, lastCode: 250, lastError: null })
      .where(eq(emailDeliveries.id, deliveryId)).run()
  }

  async markAttemptFailed (deliveryId: string, code: number | null, error: string, nextAttemptAt: number | null): Promise<void> {
    this.db.update(emailDeliveries).set(nextAttemptAt === null
      ? { status: 'failed', leaseUntil: null, lastCode: code, lastError: error }
      : { status: 'pending', leaseUntil: null, lastCode: code, lastError: error, nextAttemptAt })
      .where(and(eq(emailDeliveries.id, deliveryId), eq(emailDeliveries.status, 'sending'))).run()
  }

  async listDeliveries (subscriptionId: string, limit: number): Promise<EmailDelivery[]> {
    return this.db.select().from(emailDeliveries).where(eq(emailDeliveries.subscriptionId, subscriptionId))
      .orderBy(desc(emailDeliveries.createdAt), asc(emailDeliveries.recipient)).limit(limit).all().map(toEmailDelivery)
  }

  /** The connection is the failure store's: it closes it. */
  async close (): Promise<void> {}
}
