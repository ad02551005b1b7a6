import { createHash } from 'node:crypto'

// Strong validators for cheap polling: the hash of exactly what a response says, so the tag
// changes when, and only when, the content does.

/**
 * The strong ETag of a serialized response body (or of the part of it that is content), given
 * whole or in consecutive parts: the tag of the parts is the tag of their concatenation.
 */
export function etagOf (...serialized: Array<string | Buffer>): string {
  const hash = createHash('sha256')
  for (const part of serialized) hash.update(part)
  return `"${hash.digest('base64url')}"`
}

/** If-None-Match (RFC 9110 §13.1.2) matches when any listed tag, compared weakly, is ours. */
export function etagMatches (ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  const opaque = (tag: string): string => tag.trim().replace(/^W\//, '')
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === opaque(etag))
}
