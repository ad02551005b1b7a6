import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

export const API_SCOPES = ['events:write', 'reports:read', 'admin', 'metrics:read'] as const
export type ApiScope = typeof API_SCOPES[number]

export function isApiScope (value: string): value is ApiScope {
  return (API_SCOPES as readonly string[]).includes(value)
}

// `sfr_` then base64url: 32 random bytes (256 bits) when we generate it; an operator's
// bootstrap key may be longer, never shorter than 128 bits (22 characters).
export const API_KEY_PATTERN = '^sfr_[A-Za-z0-9_-]{22,128}$'
const API_KEY_RE = new RegExp(API_KEY_PATTERN)
/** Length of the non-secret start of a key kept in clear for lookup and listing. */
export const API_KEY_PREFIX_LENGTH = 12

export function isWellFormedApiKey (key: string): boolean {
  return API_KEY_RE.test(key)
}

export function generateApiKey (): string {
  return 'sfr_' + randomBytes(32).toString('base64url')
}

export function apiKeyPrefix (key: string): string {
  return key.slice(0, API_KEY_PREFIX_LENGTH)
}

/** SHA-256 is enough: keys carry at least 128 random bits, so there is nothing to brute-force. */
export function hashApiKey (key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

export function generateApiKeyId (): string {
  return 'key_' + randomBytes(9).toString('base64url')
}

export interface StoredApiKey {
  id: string
  tenantId: string
  name: string | null
  prefix: string
  hash: string
  scopes: ApiScope[]
  createdAt: number
  revokedAt: number | null
}

/**
 * The stored key the presented one is, or null. Candidates share the presented key's prefix;
 * each hash is compared in constant time, and every candidate is compared, so the time taken
 * says nothing about which bytes matched.
 */
export function verifyApiKey<K extends Pick<StoredApiKey, 'hash' | 'revokedAt'>> (presented: string, candidates: K[]): K | null {
  const presentedHash = Buffer.from(hashApiKey(presented), 'hex')
  let match: K | null = null
  for (const candidate of candidates) {
    const storedHash = Buffer.from(candidate.hash, 'hex')
    if (storedHash.length !== presentedHash.length) continue
    if (timingSafeEqual(storedHash, presentedHash) && candidate.revokedAt === null) match = candidate
  }
  return match
}

/** Parses "events:write,reports:read"; throws naming the first unknown scope. */
export function parseScopes (text: string): ApiScope[] {
  const scopes = [...new Set(text.split(',').map((part) => part.trim()).filter((part) => part !== ''))]
  const unknown = scopes.find((scope) => !isApiScope(scope))
  if (unknown !== undefined) throw new Error(`unknown scope "${unknown}" (known: ${API_SCOPES.join(', ')})`)
  if (scopes.length === 0) throw new Error(`no scope given (known: ${API_SCOPES.join(', ')})`)
  return scopes as ApiScope[]
}
