import {
  apiKeyPrefix, generateApiKey, generateApiKeyId, hashApiKey, isWellFormedApiKey, verifyApiKey,
  isApiScope, type ApiScope, type StoredApiKey
} from '../domain/api-keys.js'

export type { StoredApiKey }

/** Where API keys live: only hashes, found by their clear prefix. One implementation per dialect. */
export interface ApiKeyRepository {
  /** Stores a key; false (and nothing written) when a key with the same secret exists. */
  insert (key: StoredApiKey): Promise<boolean>
  /** Every key (revoked ones included) whose prefix is this one. */
  findByPrefix (prefix: string): Promise<StoredApiKey[]>
  /** A tenant's keys, revoked ones included, oldest first. */
  listByTenant (tenantId: string): Promise<StoredApiKey[]>
  /** Marks a key revoked; with a tenant, only that tenant's key. False when no such live key. */
  revoke (id: string, revokedAt: number, tenantId?: string): Promise<boolean>
  /** Number of keys ever created, revoked ones included. */
  count (): Promise<number>
  /**
   * The service secret of this name: the one stored, or `candidate`, stored now when none was.
   * Instances racing to store one all get the first that committed.
   */
  serviceSecret (name: string, candidate: string, now: number): Promise<string>
  close (): Promise<void>
}

export interface IssuedApiKey {
  key: StoredApiKey
  /** The key itself: shown once, never stored. */
  secret: string
  /** False when a key with this secret already existed (nothing was written). */
  stored: boolean
}

export interface NewApiKey {
  tenantId: string
  scopes: ApiScope[]
  name?: string | null
  /** Use this secret (the bootstrap key) instead of generating one. */
  secret?: string
}

export async function issueApiKey (repository: ApiKeyRepository, request: NewApiKey, now: number): Promise<IssuedApiKey> {
  const secret = request.secret ?? generateApiKey()
  const key: StoredApiKey = {
    id: generateApiKeyId(),
    tenantId: request.tenantId,
    name: request.name ?? null,
    prefix: apiKeyPrefix(secret),
    hash: hashApiKey(secret),
    scopes: request.scopes,
    createdAt: now,
    revokedAt: null
  }
  // Several instances may bootstrap the same secret at once: the first one stores it.
  const stored = await repository.insert(key)
  if (!stored && request.secret === undefined) throw new Error('generated API key collided with a stored one')
  return { key, secret, stored }
}

/** The live key a bearer token names, or null (malformed, unknown or revoked). */
export async function authenticateApiKey (repository: ApiKeyRepository, presented: string): Promise<StoredApiKey | null> {
  if (!isWellFormedApiKey(presented)) return null
  return verifyApiKey(presented, await repository.findByPrefix(apiKeyPrefix(presented)))
}

/** An api_keys row as both dialects read it. */
export interface ApiKeyRow {
  id: string
  tenantId: string
  name: string | null
  prefix: string
  keyHash: string
  scopes: string
  createdAt: number
  revokedAt: number | null
}

export function toStoredApiKey (row: ApiKeyRow): StoredApiKey {
  return {
    id: row.id,
    tenantId: row.tenantId,
    name: row.name,
    prefix: row.prefix,
    hash: row.keyHash,
    scopes: row.scopes.split(',').filter((scope): scope is ApiScope => isApiScope(scope)),
    createdAt: row.createdAt,
    revokedAt: row.revokedAt
  }
}

/** The values both dialects write for a key. */
export function apiKeyValues (key: StoredApiKey): ApiKeyRow {
  return {
    id: key.id,
    tenantId: key.tenantId,
    name: key.name,
    prefix: key.prefix,
    keyHash: key.hash,
    scopes: key.scopes.join(','),
    createdAt: key.createdAt,
    revokedAt: key.revokedAt
  }
}
