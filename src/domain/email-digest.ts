import { createHmac, timingSafeEqual } from 'node:crypto'
import { categoryInfo } from './categories.js'
import type { Change } from './changes.js'
import { heldUpSince, isoTime, toReportItem } from './report.js'
import type { CategoryId } from './types.js'

// E-mail digests: who gets them (severity and filters), what a mail holds (a model stored in the
// outbox, rendered per recipient when sent) and how it is rendered as plain text and HTML. Pure.

export const EMAIL_SEVERITIES = ['warning', 'blocking'] as const
/** `blocking`: only failures that stop new mail; `warning`: also those that do not (items_skipped). */
export type EmailSeverity = typeof EMAIL_SEVERITIES[number]

export const EMAIL_KINDS = ['digest', 'reminder', 'resolved'] as const
export type EmailKind = typeof EMAIL_KINDS[number]

export const MAX_RECIPIENTS = 50
/** Top-level guide steps a mail shows per failure (the report has the rest). */
export const EMAIL_GUIDE_STEPS = 3
const MESSAGE_MAX = 500

export interface EmailFilter {
  batchIds: string[]
  categories: CategoryId[]
  minimumSeverity: EmailSeverity
}

/** Whether a failure of this batch and category is one the subscription mails about. */
export function matchesEmailFilter (filter: EmailFilter, batchId: string, category: CategoryId): boolean {
  if (filter.batchIds.length > 0 && !filter.batchIds.includes(batchId)) return false
  if (filter.categories.length > 0 && !filter.categories.includes(category)) return false
  return filter.minimumSeverity === 'warning' || categoryInfo(category).blocking
}

/** A change that reports a problem (the failure is open after it), as opposed to a recovery. */
export function isProblemChange (change: Change): boolean {
  return change.type !== 'failure.resolved' && change.status === 'open'
}

/** One failure as a mail lists it. */
export interface EmailItem {
  mailbox: string
  category: CategoryId
  title: string
  blocking: boolean
  /** Epoch ms; null for a failure that does not hold mail up. */
  heldUpSince: number | null
  occurrences: number
  lastCode: string | null
  lastMessage: string
  /** The first steps of the category's guide, personalised by the failure's context as the report does. */
  steps: string[]
}

/** What one mail says; stored in the outbox so every attempt renders the same mail. */
export interface EmailModel {
  kind: EmailKind
  batchId: string
  /** Failures the mail is about (listed or not). */
  total: number
  /** Distinct mailboxes among them whose new mail is held up. */
  blockedMailboxes: number
  /** Distinct mailboxes among them. */
  mailboxes: number
  items: EmailItem[]
  /** total - items.length. */
  more: number
  byCategory: Partial<Record<CategoryId, number>>
  /** Reported failures that recovered since the previous mail. */
  recovered: number
  reportUrl: string
  /** Epoch ms the mail was composed. */
  composedAt: number
}

/** The failure of a change as a mail lists it, with the report's title and personalised guide. */
export function emailItem (change: Change, lastSyncedAt: number | null): EmailItem {
  const failure = { ...change.failure, mailbox: change.mailbox, category: change.category, status: change.status, rule: change.rule, seq: change.seq }
  const report = toReportItem(failure)
  return {
    mailbox: change.mailbox,
    category: change.category,
    title: report.title,
    blocking: report.blocking,
    heldUpSince: heldUpSince(failure, lastSyncedAt),
    occurrences: failure.occurrences,
    lastCode: failure.lastCode,
    lastMessage: failure.lastMessage,
    steps: report.troubleshooting.steps.slice(0, EMAIL_GUIDE_STEPS).map((step) => step.text)
  }
}

/** Counts over the failures a mail is about, listed or not. */
export function emailTotals (changes: readonly Change[]): Pick<EmailModel, 'total' | 'mailboxes' | 'blockedMailboxes' | 'byCategory'> {
  const mailboxes = new Set<string>()
  const blocked = new Set<string>()
  const byCategory: Partial<Record<CategoryId, number>> = {}
  for (const change of changes) {
    mailboxes.add(change.mailbox)
    if (categoryInfo(change.category).blocking) blocked.add(change.mailbox)
    byCategory[change.category] = (byCategory[change.category] ?? 0) + 1
  }
  return { total: changes.length, mailboxes: mailboxes.size, blockedMailboxes: blocked.size, byCategory }
}

/** Removes what could end a header line or hide text: C0/C1 controls, DEL, Unicode line and paragraph separators. */
export function headerSafe (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim()
}

/** Engine text on one line, without controls, at most MESSAGE_MAX characters. */
function oneLine (text: string): string {
  const flat = headerSafe(text)
  return flat.length > MESSAGE_MAX ? `${flat.slice(0, MESSAGE_MAX - 1)}…` : flat
}

export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`)
}

function plural (count: number, one: string, many: string): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`
}

export function emailSubject (model: EmailModel): string {
  const batch = headerSafe(model.batchId).slice(0, 128)
  if (model.kind === 'resolved') return `${batch}: resolved, every reported mailbox is syncing again`
  const what = model.blockedMailboxes > 0
    ? `${plural(model.blockedMailboxes, 'mailbox', 'mailboxes')} ${model.kind === 'reminder' ? 'still not receiving' : 'stopped receiving'} new mail`
    : `${plural(model.mailboxes, 'mailbox', 'mailboxes')} with sync problems`
  return `${batch}: ${what}${model.kind === 'reminder' ? ' (daily reminder)' : ''}`
}

export interface RenderedEmail {
  subject: string
  text: string
  html: string
}

function heading (model: EmailModel): string {
  if (model.kind === 'resolved') {
    return `Everything the previous mails about batch ${model.batchId} reported has recovered: no reported mailbox is failing any more.`
  }
  const intro = model.kind === 'reminder'
    ? `Still open in batch ${model.batchId}, as last reported`
    : `New sync failures in batch ${model.batchId}`
  return `${intro}: ${plural(model.total, 'failure', 'failures')} in ${plural(model.mailboxes, 'mailbox', 'mailboxes')}.`
}

function categoryTotals (model: EmailModel): Array<[string, number]> {
  return Object.entries(model.byCategory).map(([id, count]) => [categoryInfo(id as CategoryId).title, count ?? 0])
}

/** The mail for one recipient, in plain text and HTML; everything from engines is escaped. */
export function renderEmail (model: EmailModel, unsubscribeUrl: string): RenderedEmail {
  const lines: string[] = [oneLine(heading(model)), '']
  const html: string[] = [
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">',
    `<title>${escapeHtml(emailSubject(model))}</title></head>`,
    '<body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;line-height:1.45;color:#1b1b1b;max-width:720px;margin:0 auto;padding:16px">',
    `<p style="font-size:16px">${escapeHtml(oneLine(heading(model)))}</p>`
  ]
  if (model.recovered > 0) {
    const sentence = `${plural(model.recovered, 'reported failure has', 'reported failures have')} recovered since the previous mail.`
    lines.push(sentence, '')
    html.push(`<p>${escapeHtml(sentence)}</p>`)
  }
  for (const item of model.items) {
    const facts = [
      item.heldUpSince === null ? 'Does not hold new mail up' : `New mail held up since ${isoTime(item.heldUpSince)}`,
      `Occurrences: ${item.occurrences}`
    ]
    const message = `${item.lastCode === null ? '' : `[${oneLine(item.lastCode)}] `}${oneLine(item.lastMessage)}`
    lines.push(`* ${oneLine(item.mailbox)}: ${item.title}`, ...facts.map((fact) => `  ${fact}`), `  Engine said: ${message}`)
    if (item.steps.length > 0) lines.push('  First steps:', ...item.steps.map((step, index) => `    ${index + 1}. ${oneLine(step)}`))
    lines.push('')
    html.push(
      '<div style="border-left:4px solid ' + (item.blocking ? '#c50f1f' : '#bc4b09') + ';padding:4px 12px;margin:12px 0">',
      `<p style="margin:0"><strong>${escapeHtml(oneLine(item.mailbox))}</strong>: ${escapeHtml(item.title)}</p>`,
      `<p style="margin:2px 0;color:#505050">${facts.map(escapeHtml).join(' &middot; ')}</p>`,
      `<p style="margin:2px 0">Engine said: <code style="word-break:break-all">${escapeHtml(message)}</code></p>`
    )
    if (item.steps.length > 0) html.push(`<ol style="margin:4px 0">${item.steps.map((step) => `<li>${escapeHtml(oneLine(step))}</li>`).join('')}</ol>`)
    html.push('</div>')
  }
  if (model.more > 0) {
    const more = `and ${plural(model.more, 'more failure', 'more failures')} not listed here: see the report.`
    lines.push(more, '')
    html.push(`<p>${escapeHtml(more)}</p>`)
  }
  const totals = categoryTotals(model)
  if (totals.length > 0) {
    lines.push('Totals per category:', ...totals.map(([title, count]) => `  ${title}: ${count.toLocaleString('en-US')}`), '')
    html.push('<p style="margin-bottom:2px"><strong>Totals per category</strong></p><ul style="margin-top:2px">',
      ...totals.map(([title, count]) => `<li>${escapeHtml(title)}: ${count.toLocaleString('en-US')}</li>`), '</ul>')
  }
  lines.push(`Report of the batch: ${model.reportUrl}`, '', '--', `Stop these mails for this address: ${unsubscribeUrl}`)
  html.push(
    `<p><a href="${escapeHtml(model.reportUrl)}">Open the report of batch ${escapeHtml(oneLine(model.batchId))}</a></p>`,
    `<p style="font-size:12px;color:#505050">You receive this because an administrator subscribed this address to sync-failure digests. <a href="${escapeHtml(unsubscribeUrl)}">Unsubscribe</a></p>`,
    '</body></html>'
  )
  return { subject: emailSubject(model), text: lines.join('\n'), html: html.join('\n') }
}

/** The unsubscribe token of one address of a subscription: HMAC-SHA256 with the subscription's secret. */
export function unsubscribeToken (secret: string, subscriptionId: string, address: string): string {
  return createHmac('sha256', Buffer.from(secret, 'base64url')).update(`${subscriptionId}\n${address.toLowerCase()}`).digest('base64url')
}

export function verifyUnsubscribeToken (secret: string, subscriptionId: string, address: string, token: string): boolean {
  const expected = Buffer.from(unsubscribeToken(secret, subscriptionId, address))
  const given = Buffer.from(token)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** The one-click link (RFC 8058): POST it to unsubscribe, GET it for a confirmation form. */
export function unsubscribeUrl (publicUrl: string, secret: string, subscriptionId: string, address: string): string {
  const url = new URL('email-unsubscribe', publicUrl.endsWith('/') ? publicUrl : `${publicUrl}/`)
  url.searchParams.set('s', subscriptionId)
  url.searchParams.set('a', address)
  url.searchParams.set('t', unsubscribeToken(secret, subscriptionId, address))
  return url.toString()
}

export function batchReportUrl (publicUrl: string, batchId: string): string {
  return new URL(`batches/${encodeURIComponent(batchId)}/errors`, publicUrl.endsWith('/') ? publicUrl : `${publicUrl}/`).toString()
}

const RETRY_STEPS_MS = [60_000, 300_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000]

/** Wait before the next attempt after `attempts` failed ones (1 min, 5 min, ... 4 h, then every 4 h). */
export function emailRetryDelay (attempts: number): number {
  return RETRY_STEPS_MS[Math.min(Math.max(attempts, 1), RETRY_STEPS_MS.length) - 1]
}

/** SMTP answer classes: 5xx is permanent for the recipient; 4xx, no answer and connection failures are retried. */
export function isPermanentSmtpFailure (responseCode: number | null): boolean {
  return responseCode !== null && responseCode >= 500 && responseCode < 600
}
