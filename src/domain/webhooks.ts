import { randomBytes } from 'node:crypto'
import type { CategoryId } from './types.js'
import { changeBody, type Change, type ChangeBody, type ChangeType } from './changes.js'
import type { DigestSummary } from './digest.js'
import { isoTime } from './report.js'

// Webhooks as Standard Webhooks describes them (and Svix and Stripe send them): what a
// subscription is, the retry schedule, and the payloads. Pure; the dispatcher sends them.

export const WEBHOOK_MODES = ['each', 'digest'] as const
export type WebhookMode = typeof WEBHOOK_MODES[number]

export const WEBHOOK_TEST_TYPE = 'webhook.test'
export const WEBHOOK_DIGEST_TYPE = 'failure.digest'

export interface WebhookSubscription {
  id: string
  tenantId: string
  url: string
  description: string | null
  /** Change types the subscription receives; every type when empty. */
  eventTypes: ChangeType[]
  /** Only changes of these batches; every batch when empty. */
  batchIds: string[]
  /** Only changes of these categories; every category when empty. */
  categories: CategoryId[]
  mode: WebhookMode
  groupWaitMs: number
  groupIntervalMs: number
  /** `whsec_` + base64; stored in clear because every delivery is signed with it. */
  secret: string
  /** The secret before the last rotation, still signing until previousSecretExpiresAt. */
  previousSecret: string | null
  previousSecretExpiresAt: number | null
  enabled: boolean
  /** Why the service disabled it (410, five days failing); null when enabled or disabled by a user. */
  disabledReason: string | null
  disabledAt: number | null
  /** First failed attempt since the last success; null while the endpoint answers 2xx. */
  failingSince: number | null
  /** Last change seq turned into messages. */
  cursor: number
  createdAt: number
  updatedAt: number
}

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const
export type DeliveryStatus = typeof DELIVERY_STATUSES[number]

/** One message to one subscription: every attempt carries its id as `webhook-id`. */
export interface WebhookDelivery {
  id: string
  subscriptionId: string
  tenantId: string
  type: string
  /** The exact body that is signed and sent. */
  payload: string
  /**
   * Messages with the same key are attempted in `position` order, one at a time (a mailbox's
   * changes, a batch's digests); null: no order.
   */
  orderingKey: string | null
  position: number
  status: DeliveryStatus
  attempts: number
  nextAttemptAt: number | null
  createdAt: number
}

export interface DeliveryAttempt {
  deliveryId: string
  attemptedAt: number
  /** HTTP status, or null when no answer came (refused, timeout, connection error). */
  statusCode: number | null
  durationMs: number
  error: string | null
  /** When the next attempt is due, null when none will follow. */
  nextAttemptAt: number | null
}

/** Secret of `bytes` random bytes (Standard Webhooks asks for 24 to 64). */
/** What a new subscription is made from: the caller's choices; every other field starts at its default. */
export interface NewWebhookSubscription {
  tenantId: string
  url: string
  description?: string | null
  eventTypes?: ChangeType[]
  batchIds?: string[]
  categories?: CategoryId[]
  mode?: WebhookMode
  groupWaitSeconds?: number
  groupIntervalSeconds?: number
  /** The change seq it starts after (the tenant's newest: no backlog). */
  cursor: number
  now: number
}

/** A new, enabled subscription with a fresh id and secret. */
export function newWebhookSubscription (input: NewWebhookSubscription): WebhookSubscription {
  return {
    id: generateWebhookId(),
    tenantId: input.tenantId,
    url: input.url,
    description: input.description ?? null,
    eventTypes: input.eventTypes ?? [],
    batchIds: input.batchIds ?? [],
    categories: input.categories ?? [],
    mode: input.mode ?? 'each',
    groupWaitMs: (input.groupWaitSeconds ?? 30) * 1000,
    groupIntervalMs: (input.groupIntervalSeconds ?? 300) * 1000,
    secret: generateWebhookSecret(),
    previousSecret: null,
    previousSecretExpiresAt: null,
    enabled: true,
    disabledReason: null,
    disabledAt: null,
    failingSince: null,
    cursor: input.cursor,
    createdAt: input.now,
    updatedAt: input.now
  }
}

export function generateWebhookSecret (bytes = 32): string {
  return 'whsec_' + randomBytes(bytes).toString('base64')
}

export function generateWebhookId (): string {
  return 'wh_' + randomBytes(12).toString('base64url')
}

export function generateDeliveryId (): string {
  return 'msg_' + randomBytes(15).toString('base64url')
}

/** How long a rotated-out secret keeps signing beside the new one. */
export const SECRET_OVERLAP_MS = 24 * 3_600_000

/** Delay before attempt n+1 after attempt n failed (index n-1); after the last, the delivery has failed. */
export const RETRY_DELAYS_MS = [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]
// The first entry is the first attempt itself ("immediately"); retries follow the rest.
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length

/** A subscription whose attempts all failed for this long is disabled. */
export const DISABLE_AFTER_FAILING_MS = 5 * 86_400_000

/** Most a Retry-After can push an attempt out. */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000

/**
 * When attempt number `attempts + 1` is due after `attempts` failed ones, or null when none
 * is left. Jitter of +-10 % (random in [0, 1)) spreads retries of a flood; a Retry-After (ms)
 * of a 429 or 503 replaces the schedule's delay when it is longer.
 */
export function nextAttemptAt (now: number, attempts: number, random: number, retryAfterMs: number | null = null): number | null {
  if (attempts >= MAX_ATTEMPTS) return null
  const scheduled = Math.round(RETRY_DELAYS_MS[attempts] * (0.9 + 0.2 * random))
  const delay = retryAfterMs === null ? scheduled : Math.max(scheduled, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS))
  return now + delay
}

/** Retry-After as delta-seconds or an HTTP date, in ms from now; null when absent or unreadable. */
export function parseRetryAfter (header: string | undefined, now: number): number | null {
  if (header === undefined) return null
  const text = header.trim()
  if (/^[0-9]+$/.test(text)) return Number(text) * 1000
  const date = Date.parse(text)
  return Number.isNaN(date) ? null : Math.max(0, date - now)
}

/** True when the subscription wants this change (type, batch and category filters). */
export function subscriptionMatches (subscription: Pick<WebhookSubscription, 'eventTypes' | 'batchIds' | 'categories'>, change: Change): boolean {
  return (subscription.eventTypes.length === 0 || subscription.eventTypes.includes(change.type)) &&
    (subscription.batchIds.length === 0 || subscription.batchIds.includes(change.batchId)) &&
    (subscription.categories.length === 0 || subscription.categories.includes(change.category))
}

/** Standard Webhooks bodies stay small; receivers (and this limit) expect well under 20 KB. */
export const MAX_PAYLOAD_BYTES = 20_000

export interface WebhookBody<T> {
  type: string
  timestamp: string
  data: T
}

function encode (body: unknown): string {
  return JSON.stringify(body)
}

/** The body of one change (mode each); an over-long engine message is shortened to fit the limit. */
export function changePayload (change: Change): string {
  const data: ChangeBody & { failure: ChangeBody['failure'] & { lastMessageTruncated?: boolean } } = changeBody(change)
  const body: WebhookBody<typeof data> = { type: change.type, timestamp: isoTime(change.recordedAt), data }
  let text = encode(body)
  let message = [...data.failure.lastMessage]
  while (Buffer.byteLength(text) > MAX_PAYLOAD_BYTES && message.length > 0) {
    const excess = Buffer.byteLength(text) - MAX_PAYLOAD_BYTES
    message = message.slice(0, Math.max(0, message.length - Math.max(16, Math.ceil(excess / 4))))
    data.failure = { ...data.failure, lastMessage: message.join('') + '…', lastMessageTruncated: true }
    text = encode(body)
  }
  return text
}

/** One change as a digest lists it: enough to name it, the full state is in GET /changes. */
export interface DigestEntry {
  seq: number
  type: ChangeType
  mailbox: string
  category: CategoryId
  status: Change['status']
  occurredAt: string
}

export interface DigestData {
  batchId: string
  /** Changes the message covers. */
  total: number
  /** Seq range the message covers (of the changes this subscription receives). */
  fromSeq: number
  toSeq: number
  byCategory: DigestSummary['byCategory']
  byType: DigestSummary['byType']
  /** The newest changes, seq ascending (at most 100, fewer when the body would pass 20 KB). */
  changes: DigestEntry[]
  /** Changes not listed: total - changes.length. */
  more: number
}

/** The body of one digest message of a batch (mode digest). */
export function digestPayload (summary: DigestSummary, fromSeq: number, toSeq: number, sentAt: number): string {
  const entries: DigestEntry[] = summary.changes.map((change) => ({
    seq: change.seq, type: change.type, mailbox: change.mailbox, category: change.category, status: change.status, occurredAt: isoTime(change.occurredAt)
  }))
  const build = (listed: DigestEntry[]): string => encode({
    type: WEBHOOK_DIGEST_TYPE,
    timestamp: isoTime(sentAt),
    data: {
      batchId: summary.batchId,
      total: summary.total,
      fromSeq,
      toSeq,
      byCategory: summary.byCategory,
      byType: summary.byType,
      changes: listed,
      more: summary.total - listed.length
    } satisfies DigestData
  } satisfies WebhookBody<DigestData>)
  let listed = entries
  let text = build(listed)
  while (Buffer.byteLength(text) > MAX_PAYLOAD_BYTES && listed.length > 0) {
    listed = listed.slice(Math.max(1, Math.ceil(listed.length / 10)))
    text = build(listed)
  }
  return text
}

export function testPayload (subscriptionId: string, now: number): string {
  return encode({
    type: WEBHOOK_TEST_TYPE,
    timestamp: isoTime(now),
    data: { webhookId: subscriptionId, message: 'A test event sent from POST /webhooks/{id}/test.' }
  })
}
