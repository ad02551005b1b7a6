import { hkdfSync, randomBytes } from 'node:crypto'
import fp from 'fastify-plugin'
import secureSession from '@fastify/secure-session'
import csrfProtection from '@fastify/csrf-protection'
import type { ApiKeyRepository } from '../repositories/api-keys.js'

declare module '@fastify/secure-session' {
  interface SessionData {
    /** The API key the browser signed in with, by id and clear prefix: never the key itself. */
    key: { id: string, prefix: string }
  }
}

export const SESSION_COOKIE = 'sfr_session'

/** Name under which the generated session secret is kept in the database (when SESSION_SECRET is unset). */
const SECRET_NAME = 'session'

/** The 32-byte secretbox key of the cookie, derived from the secret (any length of 32 characters or more). */
export function sessionKey (secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'sync-failure-reports', 'session cookie v1', 32))
}

/**
 * The pages' sign-in session: an encrypted (secretbox), HttpOnly, SameSite=Strict cookie that
 * expires after SESSION_TTL, Secure when PUBLIC_URL is https; and CSRF tokens for forms,
 * their secret kept in that session. Without SESSION_SECRET the key is generated once and kept
 * in the database, so every instance on the same database shares it.
 */
export default fp<{ apiKeys: ApiKeyRepository }>(async function session (app, { apiKeys }) {
  const { secret, ttlMs } = app.config.session
  const shared = secret ?? await apiKeys.serviceSecret(SECRET_NAME, randomBytes(32).toString('base64url'), app.clock())
  const ttlSeconds = Math.floor(ttlMs / 1000)
  await app.register(secureSession, {
    key: sessionKey(shared),
    cookieName: SESSION_COOKIE,
    expiry: ttlSeconds,
    cookie: {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: app.config.publicUrl?.startsWith('https:') === true,
      maxAge: ttlSeconds
    }
  })
  await app.register(csrfProtection, { sessionPlugin: '@fastify/secure-session' })
}, { name: 'session' })
