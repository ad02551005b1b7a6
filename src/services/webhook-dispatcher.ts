import { randomBytes } from 'node:crypto'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { Webhook } from 'standardwebhooks'
import type { Change, ChangeQuery } from '../domain/changes.js'
import { digestDueAt, foldDigest, type DigestSummary } from '../domain/digest.js'
import {
  changePayload, digestPayload, DISABLE_AFTER_FAILING_MS, generateDeliveryId, nextAttemptAt, parseRetryAfter, subscriptionMatches,
  type WebhookDelivery, type WebhookSubscription
} from '../domain/webhooks.js'
import type { ClaimedDelivery, DigestGroup, FeedStep, WebhookRepository } from '../repositories/webhooks.js'
import type { WebhookClient } from './webhook-client.js'
import { FeedLagPass, type FeedLagReading } from './feed-lag.js'

// The webhook dispatcher: turns the committed change feed into deliveries (so a rolled-back
// write never notifies), folds digest groups, and attempts due deliveries under a lease. Runs
// in bounded chunks in the background; several instances share the work through the store.

/** Changes read from the feed per subscription per step. */
export const FEED_CHUNK = 500
/** Steps per subscription per run, so one busy tenant cannot hold the others up. */
const STEPS_PER_RUN = 20
const PAGE = 100
/** Claim rounds per run (each up to `concurrency` attempts). */
const CLAIM_ROUNDS = 50
/**
 * How long a wake-up waits for its run: the commits of a burst (a commit group every few ms
 * under load) share one run instead of each paying for one, so runs stay at most about 40 a
 * second whatever the write rate, and a change still goes out within a few tens of ms.
 */
export const WAKE_DELAY_MS = 25

export interface DispatcherOptions {
  store: WebhookRepository
  listChanges: (tenantId: string, query: ChangeQuery) => Promise<Change[]>
  client: WebhookClient
  clock: () => number
  timeoutMs: number
  concurrency: number
  random?: () => number
  onError?: (error: unknown) => void
  /** The tenant's newest change seq (for the lag); without it the lag is not measured. */
  latestSeq?: (tenantId: string) => Promise<number>
  /** After each pass over the feed: how far behind it the subscriptions were (metrics). */
  onLag?: (lag: FeedLagReading) => void
  /** After each recorded attempt, how it ended (metrics). */
  onAttempt?: (outcome: AttemptResult) => void
  /** After each run, what it did (tests count runs with it). */
  onRun?: (run: DispatchRun) => void
  /** How long a wake-up waits for its run; WAKE_DELAY_MS unless a test lengthens it. */
  wakeDelayMs?: number
}

/**
 * How an attempt ended: delivered (2xx), retrying (a next attempt is scheduled), failed (no
 * attempt left), disabled (the subscription was turned off: 410 Gone, or 5 days failing).
 */
export type AttemptResult = 'delivered' | 'retrying' | 'failed' | 'disabled'

export interface DispatchRun {
  /** Deliveries queued from the feed and from digest groups. */
  queued: number
  /** Attempts made. */
  attempted: number
}

export class WebhookDispatcher {
  private running: Promise<DispatchRun> | null = null
  private again = false
  private pending: NodeJS.Timeout | null = null
  private stopped = false
  private readonly random: () => number

  constructor (private readonly options: DispatcherOptions) {
    this.random = options.random ?? Math.random
  }

  /** Runs everything that is due once; a call during a run waits for it, then runs again. */
  async runOnce (): Promise<DispatchRun> {
    const previous = this.running
    const run = (async () => {
      if (previous !== null) await previous.catch(() => undefined)
      // This run starts after every wake-up so far, so it answers them all.
      this.again = false
      this.cancelWake()
      const result = await this.dispatch()
      this.options.onRun?.(result)
      return result
    })()
    this.running = run
    try {
      return await run
    } finally {
      if (this.running === run) this.running = null
      // A wake-up that came during the run may concern what the run had already passed.
      if (this.again && this.running === null) {
        this.again = false
        this.wake()
      }
    }
  }

  /**
   * Asks for a run WAKE_DELAY_MS (wakeDelayMs) from now: new changes, a test event, a retry. Wake-ups until
   * then share that run; one during a run asks for another run after it.
   */
  wake (): void {
    if (this.stopped) return
    if (this.running !== null) {
      this.again = true
      return
    }
    if (this.pending !== null) return
    this.pending = setTimeout(() => {
      this.pending = null
      this.runOnce().catch((error: unknown) => { this.options.onError?.(error) })
    }, this.options.wakeDelayMs ?? WAKE_DELAY_MS)
    this.pending.unref()
  }

  /** Cancels the wake-up waiting for its run and waits for the run under way; later wake-ups do nothing. */
  async stop (): Promise<void> {
    this.stopped = true
    this.cancelWake()
    while (this.running !== null) await this.running.catch(() => undefined)
  }

  private cancelWake (): void {
    if (this.pending !== null) clearTimeout(this.pending)
    this.pending = null
  }

  private async dispatch (): Promise<DispatchRun> {
    const run: DispatchRun = { queued: 0, attempted: 0 }
    const subscriptions = new Map<string, WebhookSubscription>()
    const lag = new FeedLagPass(this.options.clock)
    let after: string | null = null
    for (;;) {
      const page = await this.options.store.listEnabledSubscriptions(after, PAGE)
      for (const subscription of page) {
        subscriptions.set(subscription.id, subscription)
        run.queued += await this.follow(subscription, lag)
      }
      if (page.length < PAGE) break
      after = page[page.length - 1].id
    }
    this.options.onLag?.(lag.finish())
    // Without an enabled subscription nothing else can be found: pending digest groups are
    // flushed only for this run's subscriptions, and claimDue takes only deliveries of enabled
    // ones. One enabled after the listing comes with a wake-up (the routes that enable, test,
    // retry or replay wake the dispatcher) or the next poll.
    if (subscriptions.size === 0) return run
    run.queued += await this.flushDigests(subscriptions)
    run.attempted = await this.deliverDue()
    return run
  }

  /** Turns the subscription's new feed changes into deliveries or digest groups. */
  private async follow (subscription: WebhookSubscription, lag: FeedLagPass): Promise<number> {
    let cursor = subscription.cursor
    let queued = 0
    for (let step = 0; step < STEPS_PER_RUN && !this.stopped; step++) {
      const changes = await this.options.listChanges(subscription.tenantId, { after: cursor, limit: FEED_CHUNK })
      const { latestSeq } = this.options
      if (step === 0 && latestSeq !== undefined) await lag.observe(cursor, changes, FEED_CHUNK, async () => await latestSeq(subscription.tenantId))
      if (changes.length === 0) break
      const plan = this.plan(subscription, cursor, changes)
      if (!await this.options.store.applyFeedStep(plan, this.options.clock())) break
      queued += plan.deliveries.length
      cursor = plan.toCursor
      if (changes.length < FEED_CHUNK) break
      await yieldToLoop()
    }
    return queued
  }

  private plan (subscription: WebhookSubscription, cursor: number, changes: Change[]): FeedStep {
    const matching = changes.filter((change) => subscriptionMatches(subscription, change))
    const step: FeedStep = { subscriptionId: subscription.id, fromCursor: cursor, toCursor: changes[changes.length - 1].seq, deliveries: [], groups: [] }
    const now = this.options.clock()
    if (subscription.mode === 'each') {
      step.deliveries = matching.map((change) => newDelivery(subscription, change.type, changePayload(change), `${change.batchId}\n${change.mailbox}`, change.seq, now))
      return step
    }
    const groups = new Map<string, FeedStep['groups'][number]>()
    for (const change of matching) {
      const group = groups.get(change.batchId)
      if (group === undefined) groups.set(change.batchId, { batchId: change.batchId, fromSeq: change.seq, toSeq: change.seq, firstPendingAt: change.recordedAt })
      else group.toSeq = change.seq
    }
    step.groups = [...groups.values()]
    return step
  }

  /** Queues the digest of every group that is due. */
  private async flushDigests (subscriptions: Map<string, WebhookSubscription>): Promise<number> {
    let queued = 0
    let after: { subscriptionId: string, batchId: string } | null = null
    for (;;) {
      const page: DigestGroup[] = await this.options.store.listPendingGroups(after, PAGE)
      for (const group of page) {
        const subscription = subscriptions.get(group.subscriptionId)
        // Also after a switch to mode each: what was pending still goes out, as a last digest.
        if (subscription === undefined) continue
        const due = digestDueAt(group, { groupWaitMs: subscription.groupWaitMs, groupIntervalMs: subscription.groupIntervalMs })
        const now = this.options.clock()
        if (due === null || due > now) continue
        const summary = await this.summarize(subscription, group)
        const delivery = summary.total === 0
          ? null
          : newDelivery(subscription, 'failure.digest', digestPayload(summary, group.fromSeq ?? 0, group.toSeq ?? 0, now), `digest\n${group.batchId}`, group.toSeq ?? 0, now)
        if (await this.options.store.flushGroup(group, delivery, now) && delivery !== null) queued += 1
      }
      if (page.length < PAGE) break
      const last = page[page.length - 1]
      after = { subscriptionId: last.subscriptionId, batchId: last.batchId }
    }
    return queued
  }

  /** The group's changes (those the subscription receives), folded chunk by chunk. */
  private async summarize (subscription: WebhookSubscription, group: DigestGroup): Promise<DigestSummary> {
    let summary: DigestSummary = { batchId: group.batchId, total: 0, changes: [], more: 0, byCategory: {}, byType: {} }
    let after = (group.fromSeq ?? 1) - 1
    const until = group.toSeq ?? 0
    while (after < until) {
      const chunk = await this.options.listChanges(subscription.tenantId, { after, batchId: group.batchId, limit: FEED_CHUNK })
      if (chunk.length === 0) break
      const inRange = chunk.filter((change) => change.seq <= until && subscriptionMatches(subscription, change))
      summary = foldDigest(summary, inRange)
      after = chunk[chunk.length - 1].seq
      await yieldToLoop()
    }
    return summary
  }

  /** Claims due deliveries (at most `concurrency` at a time) and attempts them. */
  private async deliverDue (): Promise<number> {
    const token = randomBytes(12).toString('base64url')
    let attempted = 0
    for (let round = 0; round < CLAIM_ROUNDS && !this.stopped; round++) {
      const now = this.options.clock()
      // The lease outlives the request's timeout, so a live attempt is never claimed twice.
      const claimed = await this.options.store.claimDue(now, now + this.options.timeoutMs + 15_000, this.options.concurrency, token)
      if (claimed.length === 0) break
      await Promise.all(claimed.map(async (claim) => {
        try {
          await this.attempt(claim)
        } catch (error) {
          this.options.onError?.(error)
        }
      }))
      attempted += claimed.length
    }
    return attempted
  }

  private async attempt ({ delivery, subscription, leaseToken }: ClaimedDelivery): Promise<void> {
    const attemptedAt = this.options.clock()
    const started = performance.now()
    const response = await this.options.client.send({
      url: subscription.url,
      headers: signedHeaders(subscription, delivery, attemptedAt),
      body: delivery.payload,
      timeoutMs: this.options.timeoutMs
    })
    const durationMs = Math.round(performance.now() - started)
    const { statusCode } = response
    const succeeded = statusCode !== null && statusCode >= 200 && statusCode < 300
    const made = delivery.attempts + 1
    let next: number | null = null
    let disable: string | null = null
    if (!succeeded) {
      if (statusCode === 410) {
        disable = 'the endpoint answered 410 Gone'
      } else {
        const retryAfter = statusCode === 429 || statusCode === 503 ? parseRetryAfter(response.retryAfter, attemptedAt) : null
        next = nextAttemptAt(attemptedAt, made, this.random(), retryAfter)
        const failingSince = subscription.failingSince ?? attemptedAt
        if (attemptedAt - failingSince >= DISABLE_AFTER_FAILING_MS) {
          disable = `every attempt failed for 5 days (since ${new Date(failingSince).toISOString()})`
        }
      }
    }
    const recorded = await this.options.store.completeAttempt({
      deliveryId: delivery.id,
      leaseToken,
      succeeded,
      disable,
      status: succeeded ? 'delivered' : next === null ? 'failed' : 'pending',
      attempt: {
        deliveryId: delivery.id,
        attemptedAt,
        statusCode,
        durationMs,
        error: response.error ?? (succeeded ? null : `the endpoint answered ${String(statusCode)}`),
        nextAttemptAt: next
      }
    })
    if (recorded) this.options.onAttempt?.(succeeded ? 'delivered' : disable !== null ? 'disabled' : next === null ? 'failed' : 'retrying')
  }
}

export function newDelivery (subscription: WebhookSubscription, type: string, payload: string, orderingKey: string | null, position: number, now: number): WebhookDelivery {
  return {
    id: generateDeliveryId(),
    subscriptionId: subscription.id,
    tenantId: subscription.tenantId,
    type,
    payload,
    orderingKey,
    position,
    status: 'pending',
    attempts: 0,
    nextAttemptAt: now,
    createdAt: now
  }
}

/** The Standard Webhooks headers of one attempt; during a rotation both secrets sign. */
export function signedHeaders (subscription: WebhookSubscription, delivery: WebhookDelivery, now: number): Record<string, string> {
  const timestamp = new Date(now)
  const secrets = [subscription.secret]
  if (subscription.previousSecret !== null && (subscription.previousSecretExpiresAt ?? 0) > now) secrets.push(subscription.previousSecret)
  return {
    'content-type': 'application/json',
    'user-agent': 'sync-failure-reports-webhooks/1',
    'webhook-id': delivery.id,
    'webhook-timestamp': String(Math.floor(now / 1000)),
    'webhook-signature': secrets.map((secret) => new Webhook(secret).sign(delivery.id, timestamp, delivery.payload)).join(' ')
  }
}
