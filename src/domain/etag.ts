import { createHash } from 'node:crypto'

// Strong validators for cheap polling: the hash of exactly what a response says, so the tag
// changes when, and only when, the content does.

/** The strong ETag of a serialized response body (or of the part of it that is content). */
export function etagOf (serialized: string | Buffer): string {
  return `"${createHash('sha256').update(serialized).digest('base64url')}"`
}

/** If-None-Match (RFC 9110 §13.1.2) matches when any listed tag, compared weakly, is ours. */
export function etagMatches (ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  const opaque = (tag: string): string => tag.trim().replace(/^W\//, '')
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === opaque(etag))
}
