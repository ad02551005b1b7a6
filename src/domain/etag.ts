import { createHash } from 'node:crypto'

// Strong validators for cheap polling: the hash of exactly what a response says, so the tag
// changes when, and only when, the content does.

export function strongEtag (content: unknown): string {
  return etagOfText(JSON.stringify(content))
}

/** The strong ETag of content already serialized (the same tag strongEtag gives for its JSON). */
export function etagOfText (text: string): string {
  return `"${createHash('sha256').update(text).digest('base64url')}"`
}

/** If-None-Match (RFC 9110 §13.1.2) matches when any listed tag, compared weakly, is ours. */
export function etagMatches (ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  const opaque = (tag: string): string => tag.trim().replace(/^W\//, '')
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === opaque(etag))
}
