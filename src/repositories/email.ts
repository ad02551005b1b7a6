import type { CategoryId } from '../domain/types.js'
import type { ChangeFailure } from '../domain/changes.js'
import type { EmailKind, EmailModel, EmailSeverity } from '../domain/email-digest.js'

// Where e-mail digests keep their state: subscriptions, per-batch digest state, what was
// reported and is still open, and the outbox. One implementation per dialect.

export interface EmailSubscription {
  id: string
  tenantId: string
  description: string | null
  recipients: string[]
  unsubscribed: string[]
  batchIds: string[]
  categories: CategoryId[]
  minimumSeverity: EmailSeverity
  enabled: boolean
  linkSecret: string
  feedCursor: number
  createdAt: number
  updatedAt: number
}

export interface EmailDigestState {
  subscriptionId: string
  batchId: string
  sentThrough: number
  firstPendingAt: number | null
  lastSentAt: number | null
  openCount: number
  resolvedPending: boolean
}

/** A failure as a mail reported it (the change's failure as it stood). */
export interface ReportedFailure {
  mailbox: string
  category: CategoryId
  rule: string
  seq: number
  failure: ChangeFailure
}

/** What one fold of feed changes does to a batch's digest. */
export interface DigestFold {
  batchId: string
  /** recordedAt of the first change that asks for a mail; null when none did. */
  firstPendingAt: number | null
  /** Failures that recovered: no longer open in what was reported. */
  recovered: Array<{ mailbox: string, category: CategoryId }>
  /** recordedAt of the fold's last change of the batch. */
  lastRecordedAt: number
}

export type EmailDeliveryStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'cancelled'

export interface EmailDelivery {
  id: string
  messageRowId: string
  subscriptionId: string
  recipient: string
  messageId: string
  status: EmailDeliveryStatus
  attempts: number
  nextAttemptAt: number
  leaseUntil: number | null
  lastAttemptAt: number | null
  lastCode: number | null
  lastError: string | null
  sentAt: number | null
  createdAt: number
}

/** A mail to queue: its model and one delivery per recipient. */
export interface QueuedEmail {
  id: string
  tenantId: string
  subscriptionId: string
  batchId: string
  kind: EmailKind
  model: EmailModel
  createdAt: number
  deliveries: Array<{ id: string, recipient: string, messageId: string }>
}

/** A claimed delivery with what it takes to send it. */
export interface ClaimedEmail {
  delivery: EmailDelivery
  kind: EmailKind
  model: EmailModel
  subscription: EmailSubscription
  /** When the mail was queued: retries stop 24 h after. */
  queuedAt: number
}

/** Bookkeeping after a mail was queued (or nothing was worth mailing). */
export interface DigestSent {
  subscriptionId: string
  batchId: string
  sentThrough: number
  /** Null when nothing was mailed (lastSentAt stays). */
  mail: QueuedEmail | null
  /** Failures this mail reported as open, remembered for the reminder and the resolved mail. */
  reported: ReportedFailure[]
  now: number
}

export interface EmailRepository {
  /** Runs `work` while this instance is the deployment's digester; false (nothing run) while another one is. */
  withDigestLease (work: () => Promise<void>): Promise<boolean>
  insertSubscription (subscription: EmailSubscription): Promise<void>
  findSubscription (tenantId: string, id: string): Promise<EmailSubscription | null>
  /** Any tenant's (the unsubscribe link names no tenant). */
  findSubscriptionById (id: string): Promise<EmailSubscription | null>
  listSubscriptions (tenantId: string): Promise<EmailSubscription[]>
  /** Every enabled subscription after `after` (by id): the digester's walk. */
  listEnabledSubscriptions (after: string | null, limit: number): Promise<EmailSubscription[]>
  /** Writes the subscription's editable fields (and the feed cursor, when re-enabled); false when it is not there. */
  updateSubscription (subscription: EmailSubscription, feedCursor?: number): Promise<boolean>
  /** Deletes it with its digests, reported failures and outbox; false when it is not there. */
  deleteSubscription (tenantId: string, id: string): Promise<boolean>
  /** Turns the subscription off for this address and cancels its unsent mails; false when the address is not a recipient. */
  unsubscribe (id: string, address: string, now: number): Promise<boolean>
  /** The subscription's batches with something pending or open. */
  activeDigests (subscriptionId: string): Promise<EmailDigestState[]>
  /** Applies a fold of feed changes and moves the subscription's cursor, in one transaction. */
  applyFold (subscriptionId: string, feedCursor: number, folds: DigestFold[]): Promise<void>
  /** Up to `limit` reported, still open failures of a batch, and how many there are. */
  listReported (subscriptionId: string, batchId: string, limit: number): Promise<ReportedFailure[]>
  /** Queues a digest's mail (if any), remembers what it reported, moves the batch's digest on: one transaction. */
  recordDigest (sent: DigestSent): Promise<void>
  /**
   * Claims up to `limit` deliveries due at `now` (pending, or sending with an expired lease: an
   * instance died mid-send) for `leaseMs`, counting the attempt. On PostgreSQL with FOR UPDATE
   * SKIP LOCKED: instances claiming at once get different rows.
   */
  claimDeliveries (now: number, leaseMs: number, limit: number): Promise<ClaimedEmail[]>
  markSent (deliveryId: string, now: number): Promise<void>
  /** Records a failed attempt: retried at nextAttemptAt, or, null, failed for good. */
  markAttemptFailed (deliveryId: string, code: number | null, error: string, nextAttemptAt: number | null): Promise<void>
  /** The subscription's deliveries, newest first. */
  listDeliveries (subscriptionId: string, limit: number): Promise<EmailDelivery[]>
  close (): Promise<void>
}

/** An email_subscriptions row as both dialects read it. */
export interface EmailSubscriptionRow {
  id: string
  tenantId: string
  description: string | null
  recipients: string
  unsubscribed: string
  batchIds: string
  categories: string
  minimumSeverity: string
  enabled: boolean
  linkSecret: string
  feedCursor: number
  createdAt: number
  updatedAt: number
}

export function toEmailSubscription (row: EmailSubscriptionRow): EmailSubscription {
  return {
    ...row,
    recipients: JSON.parse(row.recipients) as string[],
    unsubscribed: JSON.parse(row.unsubscribed) as string[],
    batchIds: JSON.parse(row.batchIds) as string[],
    categories: JSON.parse(row.categories) as CategoryId[],
    minimumSeverity: row.minimumSeverity as EmailSeverity,
    enabled: Boolean(row.enabled)
  }
}

export function emailSubscriptionValues (subscription: EmailSubscription): EmailSubscriptionRow {
  return {
    ...subscription,
    recipients: JSON.stringify(subscription.recipients),
    unsubscribed: JSON.stringify(subscription.unsubscribed),
    batchIds: JSON.stringify(subscription.batchIds),
    categories: JSON.stringify(subscription.categories)
  }
}

/** The fields PATCH may change (and the unsubscribe state that goes with the recipients). */
export function editableValues (subscription: EmailSubscription): Partial<EmailSubscriptionRow> {
  const { id: _id, tenantId: _tenant, linkSecret: _secret, feedCursor: _cursor, createdAt: _created, ...editable } = emailSubscriptionValues(subscription)
  return editable
}

export interface ReportedRow {
  mailbox: string
  category: string
  failure: string
}

export function toReportedFailure (row: ReportedRow): ReportedFailure {
  const stored = JSON.parse(row.failure) as { rule: string, seq: number, failure: ChangeFailure }
  return { mailbox: row.mailbox, category: row.category as CategoryId, rule: stored.rule, seq: stored.seq, failure: stored.failure }
}

export function reportedValues (subscriptionId: string, batchId: string, reported: ReportedFailure, now: number): {
  subscriptionId: string, batchId: string, mailbox: string, category: string, failure: string, reportedAt: number
} {
  return {
    subscriptionId,
    batchId,
    mailbox: reported.mailbox,
    category: reported.category,
    failure: JSON.stringify({ rule: reported.rule, seq: reported.seq, failure: reported.failure }),
    reportedAt: now
  }
}

export function messageValues (mail: QueuedEmail): {
  id: string, tenantId: string, subscriptionId: string, batchId: string, kind: string, model: string, createdAt: number
} {
  return {
    id: mail.id,
    tenantId: mail.tenantId,
    subscriptionId: mail.subscriptionId,
    batchId: mail.batchId,
    kind: mail.kind,
    model: JSON.stringify(mail.model),
    createdAt: mail.createdAt
  }
}

export function deliveryValues (mail: QueuedEmail): EmailDelivery[] {
  return mail.deliveries.map((delivery) => ({
    id: delivery.id,
    messageRowId: mail.id,
    subscriptionId: mail.subscriptionId,
    recipient: delivery.recipient,
    messageId: delivery.messageId,
    status: 'pending',
    attempts: 0,
    nextAttemptAt: mail.createdAt,
    leaseUntil: null,
    lastAttemptAt: null,
    lastCode: null,
    lastError: null,
    sentAt: null,
    createdAt: mail.createdAt
  }))
}

export function toEmailDelivery (row: Omit<EmailDelivery, 'status'> & { status: string }): EmailDelivery {
  return { ...row, status: row.status as EmailDeliveryStatus }
}

/** The digest state a fold starts from when the batch has none yet. */
export function newDigestState (subscriptionId: string, batchId: string, sentThrough: number): EmailDigestState {
  return { subscriptionId, batchId, sentThrough, firstPendingAt: null, lastSentAt: null, openCount: 0, resolvedPending: false }
}

/** A digest state after a fold: pending from the first change that asks for a mail; resolved once nothing reported is open. */
export function foldedState (state: EmailDigestState, fold: DigestFold, openCount: number): EmailDigestState {
  const allRecovered = state.openCount > 0 && openCount === 0
  const firstPendingAt = state.firstPendingAt ?? fold.firstPendingAt ?? (allRecovered ? fold.lastRecordedAt : null)
  return { ...state, firstPendingAt, openCount, resolvedPending: state.resolvedPending || allRecovered }
}

/** Rows of a claimed delivery joined to its message and subscription. */
export interface ClaimedRow {
  delivery: Omit<EmailDelivery, 'status'> & { status: string }
  kind: string
  model: string
  queuedAt: number
  subscription: EmailSubscriptionRow
}

export function toClaimedEmail (row: ClaimedRow): ClaimedEmail {
  return {
    delivery: toEmailDelivery(row.delivery),
    kind: row.kind as EmailKind,
    model: JSON.parse(row.model) as EmailModel,
    subscription: toEmailSubscription(row.subscription),
    queuedAt: row.queuedAt
  }
}

export type { CategoryId }
