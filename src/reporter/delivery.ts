// Sends what waits in the spool to the service in bulks (POST /events/bulk), removing each event
// from the spool only once the service has acknowledged it.
import { BULK_MAX_EVENTS } from '../schemas/events.js'
import type { ReportedEvent } from './reported-events.js'
import type { Spool, SpoolFile } from './spool.js'

export interface ServiceTarget {
  /** Base URL, e.g. https://sfr.example.com */
  url: string
  apiKey: string
  timeoutMs: number
}

export interface RejectedEvent {
  id: string
  reason: string
  /** Where the event and the service's answer were set aside. */
  path: string
}

export interface FlushResult {
  /** Events the service stored now. */
  stored: number
  /** Events the service already had (a re-read log or export, a retry). */
  duplicates: number
  rejected: RejectedEvent[]
  /** Events still waiting in the spool. */
  waiting: number
  /** Why sending stopped with events waiting: the service could not be reached or is unavailable... */
  unreachable: string | null
  /** ...or it refused the whole request (a bad key, a wrong URL). */
  refused: string | null
}

/** Bulks stay well under the service's 16 MiB body limit whatever the messages hold. */
const BULK_MAX_BYTES = 8 * 1024 * 1024

interface Item { file: SpoolFileState, event: ReportedEvent, bytes: number }
interface SpoolFileState extends SpoolFile { unacknowledged: number }
interface Problem { status?: number, title?: string, detail?: string, errors?: Array<{ pointer?: string, detail?: string }> }

function chunks (items: Item[]): Item[][] {
  const result: Item[][] = []
  let current: Item[] = []
  let bytes = 0
  for (const item of items) {
    if (current.length > 0 && (current.length >= BULK_MAX_EVENTS || bytes + item.bytes > BULK_MAX_BYTES)) {
      result.push(current)
      current = []
      bytes = 0
    }
    current.push(item)
    bytes += item.bytes
  }
  if (current.length > 0) result.push(current)
  return result
}

function describe (status: number, problem: Problem | null): string {
  const text = problem?.detail ?? problem?.title ?? ''
  return `${status}${text === '' ? '' : ` ${text}`}`
}

async function readProblem (response: Response): Promise<Problem | null> {
  try {
    return await response.json() as Problem
  } catch {
    return null
  }
}

type Attempt =
  | { kind: 'stored', results: Array<{ id: string, duplicate: boolean }> }
  | { kind: 'bad-items', indexes: Map<number, string>, problem: Problem }
  | { kind: 'unreachable', reason: string }
  | { kind: 'refused', reason: string }

async function send (target: ServiceTarget, events: ReportedEvent[]): Promise<Attempt> {
  let response: Response
  try {
    response = await fetch(new URL('events/bulk', target.url.endsWith('/') ? target.url : target.url + '/'), {
      method: 'POST',
      headers: { authorization: `Bearer ${target.apiKey}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ events }),
      signal: AbortSignal.timeout(target.timeoutMs)
    })
  } catch (error) {
    const cause = (error as { cause?: { code?: string, message?: string } }).cause
    return { kind: 'unreachable', reason: cause?.code ?? cause?.message ?? (error as Error).message }
  }
  if (response.status === 200) {
    const body = await response.json() as { results: Array<{ id: string, duplicate: boolean }> }
    return { kind: 'stored', results: body.results }
  }
  const problem = await readProblem(response)
  if (response.status === 408 || response.status === 429 || response.status >= 500) {
    const retryAfter = response.headers.get('retry-after')
    return { kind: 'unreachable', reason: describe(response.status, problem) + (retryAfter === null ? '' : ` (retry after ${retryAfter} s)`) }
  }
  if (response.status === 400 || response.status === 422) {
    // The service names each bad item by its JSON pointer: /events/<index>/...
    const indexes = new Map<number, string>()
    for (const error of problem?.errors ?? []) {
      const match = /^\/events\/([0-9]+)(\/.*)?$/.exec(error.pointer ?? '')
      if (match !== null && Number(match[1]) < events.length) {
        const index = Number(match[1])
        const detail = `${match[2] ?? ''} ${error.detail ?? ''}`.trim()
        indexes.set(index, indexes.has(index) ? `${indexes.get(index)!}; ${detail}` : detail)
      }
    }
    if (indexes.size > 0) return { kind: 'bad-items', indexes, problem: problem ?? {} }
  }
  return { kind: 'refused', reason: describe(response.status, problem) }
}

/** Sends every waiting event, oldest first; stops at the first bulk the service cannot take now. */
export async function flushSpool (spool: Spool, target: ServiceTarget): Promise<FlushResult> {
  const result: FlushResult = { stored: 0, duplicates: 0, rejected: [], waiting: 0, unreachable: null, refused: null }
  const files: SpoolFileState[] = spool.pending().map((file) => ({ ...file, unacknowledged: file.events.length }))
  const items = files.flatMap((file) => file.events.map((event) => ({ file, event, bytes: Buffer.byteLength(JSON.stringify(event)) })))
  for (const file of files) if (file.events.length === 0) spool.remove(file.name)
  const acknowledge = (item: Item): void => {
    item.file.unacknowledged -= 1
    if (item.file.unacknowledged === 0) spool.remove(item.file.name)
  }
  for (let chunk of chunks(items)) {
    while (chunk.length > 0 && result.unreachable === null && result.refused === null) {
      // The same run spooled twice is one event: send each id once.
      const unique = [...new Map(chunk.map((item) => [item.event.id, item.event])).values()]
      const attempt = await send(target, unique)
      if (attempt.kind === 'unreachable') result.unreachable = attempt.reason
      else if (attempt.kind === 'refused') result.refused = attempt.reason
      else if (attempt.kind === 'stored') {
        const duplicates = new Set(attempt.results.filter((outcome) => outcome.duplicate).map((outcome) => outcome.id))
        result.duplicates += duplicates.size
        result.stored += unique.length - duplicates.size
        chunk.forEach(acknowledge)
        chunk = []
      } else {
        const badIds = new Map([...attempt.indexes].map(([index, reason]) => [unique[index].id, reason]))
        for (const item of chunk.filter((candidate) => badIds.has(candidate.event.id))) {
          if (!result.rejected.some((rejected) => rejected.id === item.event.id)) {
            const reason = badIds.get(item.event.id)!
            result.rejected.push({ id: item.event.id, reason, path: spool.reject(item.event, { ...attempt.problem, errors: undefined, reason }) })
          }
          item.file.events = item.file.events.filter((event) => event.id !== item.event.id)
          item.file.unacknowledged -= 1
          if (item.file.unacknowledged === 0) spool.remove(item.file.name)
          else spool.replace(item.file.name, item.file.events)
        }
        chunk = chunk.filter((item) => !badIds.has(item.event.id))
      }
    }
    if (result.unreachable !== null || result.refused !== null) break
  }
  result.waiting = files.reduce((sum, file) => sum + file.unacknowledged, 0)
  return result
}
