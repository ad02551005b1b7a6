import { and, asc, eq, isNull, sql } from 'drizzle-orm'
import { apiKeys, serviceSecrets } from '../db/schema.postgres.js'
import { openPostgres, type PostgresDb, type PostgresOptions } from '../db/postgres.js'
import { apiKeyValues, toStoredApiKey, type ApiKeyRepository, type StoredApiKey } from './api-keys.js'
import { guarded } from './postgres.js'

export class PostgresApiKeyRepository implements ApiKeyRepository {
  private constructor (private readonly db: PostgresDb) {}

  static async open (options: PostgresOptions & { url: string }): Promise<PostgresApiKeyRepository> {
    return new PostgresApiKeyRepository((await openPostgres(options.url, options)).db)
  }

  async insert (key: StoredApiKey): Promise<boolean> {
    return await guarded(async () => {
      const stored = await this.db.insert(apiKeys).values(apiKeyValues(key)).onConflictDoNothing({ target: apiKeys.keyHash })
        .returning({ id: apiKeys.id })
      return stored.length > 0
    })
  }

  async findByPrefix (prefix: string): Promise<StoredApiKey[]> {
    return await guarded(async () => (await this.db.select().from(apiKeys).where(eq(apiKeys.prefix, prefix))).map(toStoredApiKey))
  }

  async listByTenant (tenantId: string): Promise<StoredApiKey[]> {
    return await guarded(async () => (await this.db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId))
      .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id))).map(toStoredApiKey))
  }

  async revoke (id: string, revokedAt: number, tenantId?: string): Promise<boolean> {
    return await guarded(async () => {
      const revoked = await this.db.update(apiKeys).set({ revokedAt })
        .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt), ...(tenantId === undefined ? [] : [eq(apiKeys.tenantId, tenantId)])))
        .returning({ id: apiKeys.id })
      return revoked.length > 0
    })
  }

  async count (): Promise<number> {
    return await guarded(async () => {
      const [row] = await this.db.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(apiKeys)
      return row?.n ?? 0
    })
  }

  async serviceSecret (name: string, candidate: string, now: number): Promise<string> {
    return await guarded(async () => {
      await this.db.insert(serviceSecrets).values({ name, value: candidate, createdAt: now }).onConflictDoNothing()
      const [row] = await this.db.select({ value: serviceSecrets.value }).from(serviceSecrets).where(eq(serviceSecrets.name, name))
      return row?.value ?? candidate
    })
  }

  async close (): Promise<void> {
    if (!this.db.$client.ended) await this.db.$client.end()
  }
}
