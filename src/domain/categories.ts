import { CATEGORY_IDS } from './types.js'
import type { CategoryId, Side } from './types.js'

export interface CategoryInfo {
  id: CategoryId
  /** Short sentence a dashboard shows as the failure's headline. */
  title: string
  /** What went wrong and what it means for the user's mail. */
  summary: string
  side: Side
  /** New mail stops reaching the cloud mailbox until the failure is fixed. */
  blocking: boolean
  /** Whether retrying can succeed without a fix; null when nobody can tell yet. */
  retryable: boolean | null
  retryAdvice: string
}

const BLOCKS_MAIL = 'New mail stops reaching the cloud mailbox until this is fixed.'

export const CATEGORIES: Readonly<Record<CategoryId, CategoryInfo>> = Object.freeze({
  source_sign_in_failed: {
    id: 'source_sign_in_failed',
    title: "Couldn't sign in to the on-premises mailbox",
    summary: `The on-premises server refused the account the sync signs in with. ${BLOCKS_MAIL}`,
    side: 'source',
    blocking: true,
    retryable: false,
    retryAdvice: 'No: retrying fails the same way until the credentials or permissions are fixed.'
  },
  source_unreachable: {
    id: 'source_unreachable',
    title: "Couldn't connect to the on-premises server",
    summary: `The sync could not open a connection to the on-premises mail server. ${BLOCKS_MAIL}`,
    side: 'source',
    blocking: true,
    retryable: true,
    retryAdvice: 'Yes, once the server accepts connections again; the next sync retries on its own.'
  },
  cloud_mailbox_full: {
    id: 'cloud_mailbox_full',
    title: 'The cloud mailbox is full',
    summary: `The user's cloud mailbox has reached its storage quota, so no more mail can be copied into it. ${BLOCKS_MAIL}`,
    side: 'cloud',
    blocking: true,
    retryable: false,
    retryAdvice: 'No: free up space in the cloud mailbox first.'
  },
  sync_stalled: {
    id: 'sync_stalled',
    title: 'The mailbox is no longer being synchronized',
    summary: `No successful sync has been reported for this mailbox for longer than expected. ${BLOCKS_MAIL}`,
    side: 'source',
    blocking: true,
    retryable: true,
    retryAdvice: 'Yes: once the on-premises server checks pass, start a new migration batch for the mailboxes that stopped synchronizing.'
  },
  source_tls_failed: {
    id: 'source_tls_failed',
    title: 'The secure connection to the on-premises server failed',
    summary: `The sync reached the on-premises server but could not set up an encrypted (TLS) connection, usually because of its certificate. ${BLOCKS_MAIL}`,
    side: 'source',
    blocking: true,
    retryable: false,
    retryAdvice: 'No: fix the TLS settings or the certificate first.'
  },
  throttled: {
    id: 'throttled',
    title: 'The sync was throttled',
    summary: `A server limited how fast or how often the sync may work and asked it to back off. ${BLOCKS_MAIL}`,
    side: 'either',
    blocking: true,
    retryable: true,
    retryAdvice: 'Yes, after the back-off period the server asked for.'
  },
  server_busy: {
    id: 'server_busy',
    title: 'A mail server was too busy to answer',
    summary: `A server answered that it was busy or temporarily unavailable. ${BLOCKS_MAIL}`,
    side: 'either',
    blocking: true,
    retryable: true,
    retryAdvice: 'Yes: a busy server is usually a passing condition.'
  },
  cloud_sign_in_failed: {
    id: 'cloud_sign_in_failed',
    title: "Couldn't sign in to the cloud service",
    summary: `The cloud service refused the account or application the sync writes with, or it lacks the rights to the mailbox. ${BLOCKS_MAIL}`,
    side: 'cloud',
    blocking: true,
    retryable: false,
    retryAdvice: 'No: fix the cloud credentials or permissions first.'
  },
  cloud_unreachable: {
    id: 'cloud_unreachable',
    title: "Couldn't connect to the cloud service",
    summary: `The sync could not open a connection to the cloud mail service. ${BLOCKS_MAIL}`,
    side: 'cloud',
    blocking: true,
    retryable: true,
    retryAdvice: 'Yes, once the cloud service is reachable again; the next sync retries on its own.'
  },
  cloud_mailbox_missing: {
    id: 'cloud_mailbox_missing',
    title: "The cloud mailbox doesn't exist",
    summary: `There is no cloud mailbox to copy the user's mail into. ${BLOCKS_MAIL}`,
    side: 'cloud',
    blocking: true,
    retryable: false,
    retryAdvice: 'No: provision the cloud mailbox first.'
  },
  items_skipped: {
    id: 'items_skipped',
    title: 'Some items were skipped',
    summary: 'Some items could not be copied and were left out; the rest of the mailbox keeps synchronizing.',
    side: 'either',
    blocking: false,
    retryable: false,
    retryAdvice: 'No: the same items are skipped on every sync, so they have to be handled by hand.'
  },
  unclassified: {
    id: 'unclassified',
    title: 'The sync failed for a reason the service does not recognise',
    summary: `The engine reported a failure that matches no known category. ${BLOCKS_MAIL}`,
    side: 'unknown',
    blocking: true,
    retryable: null,
    retryAdvice: 'Unknown until the cause is found.'
  }
} satisfies Record<CategoryId, CategoryInfo>)

for (const info of Object.values(CATEGORIES)) Object.freeze(info)

export const CATEGORY_LIST: readonly CategoryInfo[] = Object.freeze(CATEGORY_IDS.map((id) => CATEGORIES[id]))

export function categoryInfo (id: CategoryId): CategoryInfo {
  return CATEGORIES[id]
}
