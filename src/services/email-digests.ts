import { randomUUID } from 'node:crypto'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import nodemailer, { type Transporter } from 'nodemailer'
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js'
import type { Change } from '../domain/changes.js'
import { digestDueAt, summarizeDigest, DIGEST_MAX_CHANGES } from '../domain/digest.js'
import {
  batchReportUrl, emailItem, emailRetryDelay, emailTotals, isPermanentSmtpFailure, isProblemChange, matchesEmailFilter, renderEmail,
  unsubscribeUrl, type EmailKind, type EmailModel
} from '../domain/email-digest.js'
import type { EmailConfig } from '../config.js'
import type { FailureRepository } from '../repositories/types.js'
import type { ChangeFeed } from '../plugins/change-feed.js'
import { FeedLagPass, type FeedLagReading } from './feed-lag.js'
import type {
  ClaimedEmail, DigestFold, EmailDigestState, EmailRepository, EmailSubscription, QueuedEmail, ReportedFailure
} from '../repositories/email.js'

// E-mail digests in two steps, both background work in bounded chunks:
// 1. the digester (one per deployment: the store's lease) follows each subscription's tenant
//    feed, folds changes into per-batch digests, and when one is due (digestDueAt, shared with
//    webhook digests) writes its mail to the outbox, Message-ID fixed, in one transaction with
//    the digest's bookkeeping; a rolled-back write has no change, so it never mails;
// 2. the sender (every instance) claims due deliveries with a lease and hands them to SMTP.

/** Feed changes one fold reads at most. */
export const FOLD_CHUNK = 500
/** Reported failures a reminder reads to count (it lists DIGEST_MAX_CHANGES of them). */
const REMINDER_READ = 5000
const SUBSCRIPTION_PAGE = 100
/** Deliveries one sender run claims at most. */
export const SEND_CHUNK = 20
/** Retries stop this long after the mail was queued. */
export const RETRY_FOR_MS = 86_400_000

export interface EmailDigesterOptions {
  emails: EmailRepository
  feed: Pick<ChangeFeed, 'list'> & Partial<Pick<ChangeFeed, 'latestSeq'>>
  failures: Pick<FailureRepository, 'lastSyncs'>
  config: EmailConfig
  clock: () => number
  /** After each pass (when this instance was the digester): how far behind the feed the subscriptions were (metrics). */
  onLag?: (lag: FeedLagReading) => void
}

export interface DigestRun {
  /** False when another instance was the digester and this one did nothing. */
  digested: boolean
  mails: number
}

export class EmailDigester {
  constructor (private readonly options: EmailDigesterOptions) {}

  async runOnce (): Promise<DigestRun> {
    const run: DigestRun = { digested: false, mails: 0 }
    const lag = new FeedLagPass(this.options.clock)
    run.digested = await this.options.emails.withDigestLease(async () => {
      let after: string | null = null
      for (;;) {
        const page = await this.options.emails.listEnabledSubscriptions(after, SUBSCRIPTION_PAGE)
        for (const subscription of page) run.mails += await this.digest(subscription, lag)
        if (page.length < SUBSCRIPTION_PAGE) break
        after = page[page.length - 1].id
      }
    })
    if (run.digested) this.options.onLag?.(lag.finish())
    return run
  }

  /** Folds the subscription's new changes, then mails what is due; returns the mails queued. */
  private async digest (subscription: EmailSubscription, lag: FeedLagPass): Promise<number> {
    const cursor = await this.fold(subscription, lag)
    const now = this.options.clock()
    const { groupWaitMs, groupIntervalMs, repeatIntervalMs } = this.options.config
    let mails = 0
    for (const state of await this.options.emails.activeDigests(subscription.id)) {
      const due = digestDueAt(state, { groupWaitMs, groupIntervalMs })
      if (due !== null && due <= now) {
        mails += await this.sendDigest(subscription, state, cursor, now)
      } else if (state.firstPendingAt === null && state.openCount > 0 && (state.lastSentAt ?? 0) + repeatIntervalMs <= now) {
        mails += await this.sendReminder(subscription, state, now)
      }
      await yieldToLoop()
    }
    return mails
  }

  /** Reads the feed after the subscription's cursor in chunks and folds it into the digests; returns the new cursor. */
  private async fold (subscription: EmailSubscription, lag: FeedLagPass): Promise<number> {
    let cursor = subscription.feedCursor
    const { latestSeq } = this.options.feed
    for (let first = true; ; first = false) {
      const changes = await this.options.feed.list(subscription.tenantId, { after: cursor, limit: FOLD_CHUNK })
      if (first && latestSeq !== undefined) await lag.observe(cursor, changes, FOLD_CHUNK, async () => await latestSeq(subscription.tenantId))
      if (changes.length === 0) return cursor
      const folds = new Map<string, DigestFold>()
      for (const change of changes) {
        if (subscription.batchIds.length > 0 && !subscription.batchIds.includes(change.batchId)) continue
        let fold = folds.get(change.batchId)
        if (fold === undefined) {
          fold = { batchId: change.batchId, firstPendingAt: null, recovered: [], lastRecordedAt: change.recordedAt }
          folds.set(change.batchId, fold)
        }
        fold.lastRecordedAt = change.recordedAt
        if (isProblemChange(change)) {
          if (fold.firstPendingAt === null && matchesEmailFilter(subscription, change.batchId, change.category)) fold.firstPendingAt = change.recordedAt
        } else {
          fold.recovered.push({ mailbox: change.mailbox, category: change.category })
        }
      }
      cursor = changes[changes.length - 1].seq
      await this.options.emails.applyFold(subscription.id, cursor, [...folds.values()])
      if (changes.length < FOLD_CHUNK) return cursor
      await yieldToLoop()
    }
  }

  /** The batch's changes after what was mailed, up to `through`: the latest of each failure. */
  private async pendingChanges (subscription: EmailSubscription, state: EmailDigestState, through: number): Promise<Change[]> {
    const latest = new Map<string, Change>()
    let after = state.sentThrough
    while (after < through) {
      const page = await this.options.feed.list(subscription.tenantId, { after, batchId: state.batchId, limit: FOLD_CHUNK })
      for (const change of page) if (change.seq <= through) latest.set(`${change.mailbox}\u0000${change.category}`, change)
      if (page.length < FOLD_CHUNK) break
      after = page[page.length - 1].seq
      await yieldToLoop()
    }
    return [...latest.values()]
  }

  private async sendDigest (subscription: EmailSubscription, state: EmailDigestState, through: number, now: number): Promise<number> {
    const pending = await this.pendingChanges(subscription, state, through)
    const problems = pending.filter((change) => isProblemChange(change) && matchesEmailFilter(subscription, change.batchId, change.category))
    const recovered = pending.filter((change) => !isProblemChange(change) && matchesEmailFilter(subscription, change.batchId, change.category)).length
    let model: EmailModel | null = null
    if (problems.length > 0) {
      model = await this.model(subscription, 'digest', state.batchId, problems, problems.length, recovered, now)
    } else if (state.resolvedPending) {
      model = await this.model(subscription, 'resolved', state.batchId, [], 0, recovered, now)
    }
    const mail = model === null ? null : this.queue(subscription, state.batchId, model, now)
    await this.options.emails.recordDigest({
      subscriptionId: subscription.id,
      batchId: state.batchId,
      sentThrough: through,
      mail,
      reported: problems.map((change): ReportedFailure => ({ mailbox: change.mailbox, category: change.category, rule: change.rule, seq: change.seq, failure: change.failure })),
      now
    })
    return mail === null ? 0 : 1
  }

  private async sendReminder (subscription: EmailSubscription, state: EmailDigestState, now: number): Promise<number> {
    const reported = await this.options.emails.listReported(subscription.id, state.batchId, REMINDER_READ)
    const changes = reported.map((failure): Change => ({
      seq: failure.seq,
      tenantId: subscription.tenantId,
      type: 'failure.opened',
      batchId: state.batchId,
      mailbox: failure.mailbox,
      category: failure.category,
      rule: failure.rule,
      status: 'open',
      occurredAt: failure.failure.lastSeenAt,
      recordedAt: failure.failure.lastSeenAt,
      failure: failure.failure
    }))
    const model = await this.model(subscription, 'reminder', state.batchId, changes, Math.max(state.openCount, changes.length), 0, now)
    const mail = this.queue(subscription, state.batchId, model, now)
    await this.options.emails.recordDigest({ subscriptionId: subscription.id, batchId: state.batchId, sentThrough: state.sentThrough, mail, reported: [], now })
    return mail === null ? 0 : 1
  }

  private async model (
    subscription: EmailSubscription, kind: EmailKind, batchId: string, changes: Change[], total: number, recovered: number, now: number
  ): Promise<EmailModel> {
    const summary = summarizeDigest(batchId, changes, DIGEST_MAX_CHANGES)
    const listed = summary.changes.reverse()
    const syncs = await this.options.failures.lastSyncs(subscription.tenantId, batchId, [...new Set(listed.map((change) => change.mailbox))])
    return {
      kind,
      batchId,
      ...emailTotals(changes),
      total,
      items: listed.map((change) => emailItem(change, syncs.get(change.mailbox) ?? null)),
      more: total - listed.length,
      recovered,
      reportUrl: batchReportUrl(this.options.config.publicUrl, batchId),
      composedAt: now
    }
  }

  /** The outbox rows of a mail: one delivery per subscribed recipient, each with its Message-ID; null without recipients. */
  private queue (subscription: EmailSubscription, batchId: string, model: EmailModel, now: number): QueuedEmail | null {
    const recipients = subscription.recipients.filter((recipient) => !subscription.unsubscribed.includes(recipient))
    if (recipients.length === 0) return null
    const id = randomUUID()
    const domain = new URL(this.options.config.publicUrl).hostname
    return {
      id,
      tenantId: subscription.tenantId,
      subscriptionId: subscription.id,
      batchId,
      kind: model.kind,
      model,
      createdAt: now,
      deliveries: recipients.map((recipient) => {
        const deliveryId = randomUUID()
        return { id: deliveryId, recipient, messageId: `<${deliveryId}.${model.kind}@${domain}>` }
      })
    }
  }
}

export interface EmailSenderOptions {
  emails: EmailRepository
  config: EmailConfig
  clock: () => number
  /** Where SMTP traffic goes; default: a nodemailer transport of SMTP_URL. */
  transport?: Transporter
  log?: (delivery: ClaimedEmail['delivery'], error: unknown) => void
  /** After each attempt, how it ended (metrics): delivered, retrying, or failed (for good). */
  onAttempt?: (outcome: 'delivered' | 'retrying' | 'failed') => void
}

export interface SendRun {
  sent: number
  failed: number
  retrying: number
}

export class EmailSender {
  readonly transport: Transporter
  private running: Promise<SendRun> | null = null

  constructor (private readonly options: EmailSenderOptions) {
    // Timeouts well below the lease, so a hung server cannot make a second instance resend.
    // smtp:// upgrades with STARTTLS whenever the server offers it; smtps:// is TLS from the start.
    const smtp: SMTPTransport.Options = { url: options.config.smtpUrl, connectionTimeout: 30_000, greetingTimeout: 30_000, socketTimeout: 60_000 }
    this.transport = options.transport ?? nodemailer.createTransport(smtp)
  }

  /** Sends every due delivery, a chunk at a time; a call while a run is under way waits for it. */
  async runOnce (): Promise<SendRun> {
    while (this.running !== null) await this.running.catch(() => undefined)
    const run = this.send()
    this.running = run
    try {
      return await run
    } finally {
      this.running = null
    }
  }

  async idle (): Promise<void> {
    while (this.running !== null) await this.running.catch(() => undefined)
  }

  private async send (): Promise<SendRun> {
    const run: SendRun = { sent: 0, failed: 0, retrying: 0 }
    for (;;) {
      const claimed = await this.options.emails.claimDeliveries(this.options.clock(), this.options.config.sendLeaseMs, SEND_CHUNK)
      for (const email of claimed) {
        const outcome = await this.deliver(email)
        run[outcome] += 1
        this.options.onAttempt?.(outcome === 'sent' ? 'delivered' : outcome)
      }
      if (claimed.length < SEND_CHUNK) return run
    }
  }

  private async deliver (email: ClaimedEmail): Promise<keyof SendRun> {
    const { delivery, subscription, model } = email
    const { emails, config, clock } = this.options
    if (subscription.unsubscribed.includes(delivery.recipient) || !subscription.recipients.includes(delivery.recipient)) {
      await emails.markAttemptFailed(delivery.id, null, 'not sent: the address is no longer subscribed', null)
      return 'failed'
    }
    const link = unsubscribeUrl(config.publicUrl, subscription.linkSecret, subscription.id, delivery.recipient)
    const rendered = renderEmail(model, link)
    try {
      await this.transport.sendMail({
        from: config.from,
        to: delivery.recipient,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        messageId: delivery.messageId,
        date: new Date(model.composedAt),
        headers: {
          'List-Unsubscribe': `<${link}>`,
          'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
          'Auto-Submitted': 'auto-generated',
          'X-Auto-Response-Suppress': 'All'
        }
      })
    } catch (error) {
      const code = smtpCode(error)
      const detail = error instanceof Error ? error.message.slice(0, 500) : String(error)
      this.options.log?.(delivery, error)
      const next = clock() + emailRetryDelay(delivery.attempts)
      if (isPermanentSmtpFailure(code) || next > email.queuedAt + RETRY_FOR_MS) {
        await emails.markAttemptFailed(delivery.id, code, isPermanentSmtpFailure(code) ? detail : `gave up after 24 h: ${detail}`, null)
        return 'failed'
      }
      await emails.markAttemptFailed(delivery.id, code, detail, next)
      return 'retrying'
    }
    await emails.markSent(delivery.id, clock())
    return 'sent'
  }

  close (): void {
    this.transport.close()
  }
}

/** The SMTP reply code nodemailer saw, or null (connection failure, timeout). */
function smtpCode (error: unknown): number | null {
  const code = (error as { responseCode?: unknown } | null)?.responseCode
  return typeof code === 'number' ? code : null
}
