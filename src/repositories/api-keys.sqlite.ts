import { and, asc, eq, isNull, sql } from 'drizzle-orm'
import { apiKeys, serviceSecrets } from '../db/schema.sqlite.js'
import { openSqlite, type SqliteDb } from '../db/sqlite.js'
import type Database from 'better-sqlite3'
import { apiKeyValues, toStoredApiKey, type ApiKeyRepository, type ApiKeyRow, type StoredApiKey } from './api-keys.js'

export class SqliteApiKeyRepository implements ApiKeyRepository {
  // Every authenticated request looks its key up: prepared once rather than built per call.
  private readonly byPrefix: Database.Statement

  constructor (private readonly db: SqliteDb) {
    this.byPrefix = db.$client.prepare(`select id, tenant_id as tenantId, name, prefix, key_hash as keyHash, scopes,
      created_at as createdAt, revoked_at as revokedAt from api_keys where prefix = ?`)
  }

  static open (path: string): SqliteApiKeyRepository {
    return new SqliteApiKeyRepository(openSqlite(path).db)
  }

  async insert (key: StoredApiKey): Promise<boolean> {
    return this.db.insert(apiKeys).values(apiKeyValues(key)).onConflictDoNothing({ target: apiKeys.keyHash }).run().changes > 0
  }

  async findByPrefix (prefix: string): Promise<StoredApiKey[]> {
    return (this.byPrefix.all(prefix) as ApiKeyRow[]).map(toStoredApiKey)
  }

  async listByTenant (tenantId: string): Promise<StoredApiKey[]> {
    return this.db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId))
      .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id)).all().map(toStoredApiKey)
  }

  async revoke (id: string, revokedAt: number, tenantId?: string): Promise<boolean> {
    const result = this.db.update(apiKeys).set({ revokedAt })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt), ...(tenantId === undefined ? [] : [eq(apiKeys.tenantId, tenantId)])))
      .run()
    return result.changes > 0
  }

  async count (): Promise<number> {
    return this.db.select({ n: sql<number>`count(*)` }).from(apiKeys).get()?.n ?? 0
  }

  async serviceSecret (name: string, candidate: string, now: number): Promise<string> {
    this.db.insert(serviceSecrets).values({ name, value: candidate, createdAt: now }).onConflictDoNothing().run()
    return this.db.select({ value: serviceSecrets.value }).from(serviceSecrets).where(eq(serviceSecrets.name, name)).get()?.value ?? candidate
  }

  async close (): Promise<void> {
    if (this.db.$client.open) this.db.$client.close()
  }
}
