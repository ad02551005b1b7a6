// The events the reporter sends, and their deterministic ids: the same run (or export record)
// always gives the same id, so reading it again is a duplicate for the service, not a second failure.
import { createHash } from 'node:crypto'
import type { EventBody } from '../schemas/events.js'
import { MESSAGE_MAX_LENGTH } from '../schemas/events.js'

export type ReportedEvent = EventBody

/** Input the reporter cannot turn into events (a bad flag, file or record): exit status 2. */
export class ReportInputError extends Error {
  override name = 'ReportInputError'
}

/** `<source>-` and 32 hex digits (128 bits) of SHA-256 over the parts that identify the run. */
export function deterministicEventId (source: string, parts: ReadonlyArray<string | number | null>): string {
  return `${source}-${createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32)}`
}

// A pragmatic address check (the service applies its own): something@domain.tld, no spaces.
const ADDRESS = /^[^\s@]+@[^\s@]+\.[^\s@.]+$/

export function isMailAddress (value: string): boolean {
  return value.length <= 320 && ADDRESS.test(value)
}

/** Batch ids are 1-128 of A-Za-z0-9._:-. */
export const BATCH_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The service keeps at most 8 KiB of a message: longer ones are cut, by code point. */
export function boundedMessage (text: string): string {
  const trimmed = text.trim()
  const codePoints = [...trimmed]
  return codePoints.length <= MESSAGE_MAX_LENGTH ? trimmed : codePoints.slice(0, MESSAGE_MAX_LENGTH - 1).join('') + '…'
}
