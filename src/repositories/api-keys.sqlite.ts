import { and, asc, eq, isNull, sql } from 'drizzle-orm'
import { apiKeys } from '../db/schema.sqlite.js'
import { openSqlite, type SqliteDb } from '../db/sqlite.js'
import { isApiScope, type ApiScope } from '../domain/api-keys.js'
import type { ApiKeyRepository, StoredApiKey } from './api-keys.js'

type ApiKeyRow = typeof apiKeys.$inferSelect

function toStoredApiKey (row: ApiKeyRow): StoredApiKey {
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

export class SqliteApiKeyRepository implements ApiKeyRepository {
  constructor (private readonly db: SqliteDb) {}

  static open (path: string): SqliteApiKeyRepository {
    return new SqliteApiKeyRepository(openSqlite(path).db)
  }

  async insert (key: StoredApiKey): Promise<void> {
    this.db.insert(apiKeys).values({
      id: key.id,
      tenantId: key.tenantId,
      name: key.name,
      prefix: key.prefix,
      keyHash: key.hash,
      scopes: key.scopes.join(','),
      createdAt: key.createdAt,
      revokedAt: key.revokedAt
    }).run()
  }

  async findByPrefix (prefix: string): Promise<StoredApiKey[]> {
    return this.db.select().from(apiKeys).where(eq(apiKeys.prefix, prefix)).all().map(toStoredApiKey)
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

  async close (): Promise<void> {
    if (this.db.$client.open) this.db.$client.close()
  }
}
