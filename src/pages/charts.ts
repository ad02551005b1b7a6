import { CATEGORY_IDS, categoryInfo, type CategoryId } from '../domain/index.js'
import type { Change } from '../domain/changes.js'
import type { ChangeFeed } from '../plugins/change-feed.js'

// The batch page's pictures, drawn on the server as inline SVG (no chart library, no script),
// each with a text alternative: a title and description on the SVG and the same figures as a table.

/** Days the trend shows, today included. */
export const TREND_DAYS = 7
/** Most changes of the tenant the trend reads: the page's work stays bounded whatever the batch. */
export const TREND_CHANGE_LIMIT = 5000

const DAY_MS = 86_400_000

export interface TrendSeries {
  category: CategoryId
  title: string
  /** Open failures of the category at the end of each day (the last: now). */
  values: number[]
}

export interface CategoryTrend {
  /** YYYY-MM-DD (UTC) of each day, oldest first. */
  days: string[]
  series: TrendSeries[]
  /** True when older changes of the tenant were not read, so early days may be off. */
  partial: boolean
}

/** +1 when a change opens a failure, -1 when it resolves one. */
function delta (change: Change): number {
  return change.type === 'failure.resolved' ? -1 : 1
}

/**
 * Open failures per category at the end of each of the last days, worked backwards from the
 * counts now: a day's figure is today's minus what the feed opened since, plus what it resolved.
 */
export function trendFromChanges (current: Partial<Record<CategoryId, number>>, changes: readonly Change[], now: number, partial: boolean): CategoryTrend {
  const today = Math.floor(now / DAY_MS)
  const ends = Array.from({ length: TREND_DAYS }, (_, index) => index === TREND_DAYS - 1 ? now : (today - TREND_DAYS + 2 + index) * DAY_MS)
  const days = ends.map((_, index) => new Date((today - TREND_DAYS + 1 + index) * DAY_MS).toISOString().slice(0, 10))
  const series: TrendSeries[] = []
  for (const category of CATEGORY_IDS) {
    const values = ends.map((end) => {
      let value = current[category] ?? 0
      for (const change of changes) {
        if (change.category === category && change.recordedAt > end) value -= delta(change)
      }
      return Math.max(0, value)
    })
    if (values.some((value) => value > 0)) series.push({ category, title: categoryInfo(category).title, values })
  }
  return { days, series, partial }
}

/** Reads at most TREND_CHANGE_LIMIT of the tenant's latest changes (the batch's among them) and draws the trend from them. */
export async function openFailureTrend (feed: ChangeFeed, tenantId: string, batchId: string, current: Partial<Record<CategoryId, number>>, now: number): Promise<CategoryTrend> {
  const latest = await feed.latestSeq(tenantId)
  const after = Math.max(0, latest - TREND_CHANGE_LIMIT)
  const since = (Math.floor(now / DAY_MS) - TREND_DAYS + 1) * DAY_MS
  const changes = (await feed.list(tenantId, { after, batchId, limit: TREND_CHANGE_LIMIT })).filter((change) => change.recordedAt >= since)
  return trendFromChanges(current, changes, now, after > 0)
}

// Colour per category: distinguishable, each with at least 3:1 contrast on white.
const PALETTE = ['#1f5fa8', '#b3261e', '#7a4f01', '#0b7a45', '#6a3d9a', '#a13f73', '#00607a', '#5b5b00', '#8a3b00', '#2f4b7c', '#7a1f3d', '#3d5a1f']

export function categoryColour (category: CategoryId): string {
  return PALETTE[CATEGORY_IDS.indexOf(category) % PALETTE.length]
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeXml (text: string): string {
  return text.replace(/[&<>"']/g, (character) => ESCAPES[character])
}

/** Stacked columns, one per day, of open failures per category; `id` names the SVG's title and description. */
export function trendSvg (trend: CategoryTrend, id: string): string {
  const width = 640
  const height = 220
  const left = 40
  const bottom = 30
  const top = 10
  const totals = trend.days.map((_, index) => trend.series.reduce((sum, series) => sum + series.values[index], 0))
  const max = Math.max(1, ...totals)
  const plotHeight = height - top - bottom
  const slot = (width - left - 10) / trend.days.length
  const barWidth = Math.floor(slot * 0.6)
  const describe = trend.days.map((day, index) => `${day}: ${totals[index]}`).join('; ')
  let bars = ''
  trend.days.forEach((day, index) => {
    let y = height - bottom
    const x = Math.round(left + index * slot + (slot - barWidth) / 2)
    for (const series of trend.series) {
      const value = series.values[index]
      if (value === 0) continue
      const h = (value / max) * plotHeight
      y -= h
      bars += `<rect x="${x}" y="${y.toFixed(1)}" width="${barWidth}" height="${h.toFixed(1)}" fill="${categoryColour(series.category)}"><title>${escapeXml(`${day}, ${series.title}: ${value}`)}</title></rect>`
    }
    bars += `<text x="${x + barWidth / 2}" y="${height - bottom + 16}" text-anchor="middle" class="axis">${escapeXml(day.slice(5))}</text>`
    bars += `<text x="${x + barWidth / 2}" y="${Math.max(top + 10, y - 4).toFixed(1)}" text-anchor="middle" class="value">${totals[index]}</text>`
  })
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${id}-title ${id}-desc" class="chart">` +
    `<title id="${id}-title">Open failures per category, last ${trend.days.length} days</title>` +
    `<desc id="${id}-desc">Open failures at the end of each day: ${escapeXml(describe)}.</desc>` +
    `<line x1="${left}" y1="${height - bottom}" x2="${width - 10}" y2="${height - bottom}" class="axis-line"/>` +
    `<text x="4" y="${top + 10}" class="axis">${max}</text><text x="4" y="${height - bottom}" class="axis">0</text>` +
    bars + '</svg>'
}

export interface MailboxStates {
  syncing: number
  failing: number
  stalled: number
}

const STATE_COLOURS: Record<keyof MailboxStates, string> = { syncing: '#0b7a45', failing: '#b3261e', stalled: '#7a4f01' }

/** One bar split into the mailboxes syncing, failing and stalled. */
export function statesSvg (states: MailboxStates, id: string): string {
  const width = 640
  const height = 56
  const total = states.syncing + states.failing + states.stalled
  let x = 0
  let parts = ''
  for (const state of ['syncing', 'failing', 'stalled'] as const) {
    const value = states[state]
    if (value === 0 || total === 0) continue
    const w = (value / total) * width
    parts += `<rect x="${x.toFixed(1)}" y="0" width="${w.toFixed(1)}" height="32" fill="${STATE_COLOURS[state]}"><title>${state}: ${value}</title></rect>`
    if (w > 60) parts += `<text x="${(x + 6).toFixed(1)}" y="21" class="bar-label">${state} ${value}</text>`
    x += w
  }
  if (total === 0) parts = `<rect x="0" y="0" width="${width}" height="32" class="empty"/>`
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${id}-title ${id}-desc" class="chart">` +
    `<title id="${id}-title">Mailboxes by state</title>` +
    `<desc id="${id}-desc">${states.syncing} syncing, ${states.failing} failing, ${states.stalled} stalled of ${total} mailboxes.</desc>` +
    parts + '</svg>'
}
