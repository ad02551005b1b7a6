import { and, asc, eq, isNull, sql } from 'drizzle-orm'
import { apiKeys } from '../db/schema.sqlite.js'
import { openSqlite, type SqliteDb } from '../db/sqlite.js'
import { apiKeyValues, toStoredApiKey, type ApiKeyRepository, type StoredApiKey } from './api-keys.js'

export class SqliteApiKeyRepository implements ApiKeyRepository {
  constructor (private readonly db: SqliteDb) {}

  static open (path: string): SqliteApiKeyRepository {
    return new SqliteApiKeyRepository(openSqlite(path).db)
  }

  async insert (key: StoredApiKey): Promise<void> {
    this.db.insert(apiKeys).values(apiKeyValues(key)).run()
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
