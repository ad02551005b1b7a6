// Vocabulary shared by the domain, the repositories and the HTTP schemas.

/** Stable API values: the twelve kinds of sync failure the service knows. */
export const CATEGORY_IDS = [
  'source_sign_in_failed',
  'source_unreachable',
  'cloud_mailbox_full',
  'sync_stalled',
  'source_tls_failed',
  'throttled',
  'server_busy',
  'cloud_sign_in_failed',
  'cloud_unreachable',
  'cloud_mailbox_missing',
  'items_skipped',
  'unclassified'
] as const

export type CategoryId = typeof CATEGORY_IDS[number]

/** Which system an administrator should look at. */
export type Side = 'source' | 'cloud' | 'either' | 'unknown'

export const MIGRATION_TYPES = ['imap', 'exchange'] as const
export type MigrationType = typeof MIGRATION_TYPES[number]

export const CREDENTIAL_MODES = ['admin', 'user'] as const
export type CredentialMode = typeof CREDENTIAL_MODES[number]

/** What an engine told us about the migration the event belongs to; every field optional. */
export interface EventContext {
  engine?: string
  migrationType?: MigrationType
  server?: string
  credentialMode?: CredentialMode
}

export interface GuideStep {
  text: string
  steps: GuideStep[]
}

export interface Guide {
  steps: GuideStep[]
  tip: string | null
}

export function isCategoryId (value: string): value is CategoryId {
  return (CATEGORY_IDS as readonly string[]).includes(value)
}
