import { CATEGORY_LIST } from './categories.js'
import type { CategoryInfo } from './categories.js'
import type { CategoryId, EventContext, Guide, GuideStep } from './types.js'

/**
 * Words a template can personalise, written `{name}` in its text:
 * - `server`: the on-premises host, or "the on-premises server"
 * - `host`: the on-premises host, or "<host>" (for commands to type)
 * - `client`: the kind of mail client to test with
 * - `service`: the mail service that must run on the on-premises server
 * - `adminRights`: what an administrator account needs to open every user's mailbox
 */
interface Words {
  server: string
  host: string
  client: string
  service: string
  adminRights: string
}

/**
 * Named conditions, so the table stays data. What the engine did not say counts as possible:
 * an unknown credentialMode gets both the administrator's and the user's checks (the former
 * worded "if"), an unknown migrationType the advice for IMAP and for Exchange.
 */
const CONDITIONS = {
  adminKnown: (context: EventContext) => context.credentialMode === 'admin',
  adminUnknown: (context: EventContext) => context.credentialMode !== 'admin' && context.credentialMode !== 'user',
  imap: (context: EventContext) => context.migrationType === 'imap',
  exchange: (context: EventContext) => context.migrationType === 'exchange',
  typeUnknown: (context: EventContext) => context.migrationType !== 'imap' && context.migrationType !== 'exchange'
} satisfies Record<string, (context: EventContext) => boolean>

type Condition = keyof typeof CONDITIONS

interface StepTemplate {
  text: string
  steps?: readonly StepTemplate[]
  /** Rendered only when this condition holds for the event's context. */
  when?: Condition
}

interface GuideTemplate {
  steps: readonly StepTemplate[]
  tip?: string
  /** Replaces `tip` when its condition holds (the first that does). */
  tips?: ReadonlyArray<{ when: Condition, text: string }>
}

const CONNECTION_TIP = 'To test the connection yourself, connect to {server} with {client} using the same connection settings as the batch\'s first migration, or ping {server} to see whether it answers at all (some servers ignore ping even when they are up).'

const SERVICE_RUNNING = 'Check that the {service} is running on {server}.'

// The administrator's checks, worded as a fact when the engine said the batch signs in as one.
const ADMIN_CHECKS: ReadonlyArray<{ when: Condition, text: string }> = [
  { when: 'adminKnown', text: 'The batch signs in with an administrator account that has {adminRights}:' },
  { when: 'adminUnknown', text: 'If the batch signs in with an administrator account that has {adminRights}:' }
]

const GUIDES: Readonly<Record<CategoryId, GuideTemplate>> = {
  source_sign_in_failed: {
    steps: [
      { text: 'Check that the user\'s account still exists on {server} and has not been disabled, locked out or renamed.' },
      { text: 'Check that the account\'s user name and password still match the ones in the migration CSV file the mailbox was first migrated with; a password changed since then stops the sync.' },
      ...ADMIN_CHECKS.map(({ when, text }): StepTemplate => ({
        text,
        when,
        steps: [
          { text: 'Check that the administrator\'s user name and password still match the ones in the migration CSV file used for the first migration.' },
          { text: 'Check that the user name given for this mailbox still matches the one in that CSV file.' },
          { text: 'Check that the administrator account still has the rights it needs to open this user\'s mailbox.' }
        ]
      })),
      { text: 'Sign in to {server} with {client} using the same account and password to see the server\'s own error message.' }
    ]
  },
  source_unreachable: {
    steps: [
      { text: SERVICE_RUNNING },
      { text: 'Check that {server} is up and accepts connections from wherever the sync engine runs: its name resolves in DNS and no firewall blocks the port the batch uses.' },
      { text: 'Once the server accepts connections again, the next sync retries on its own; nothing else needs to change.' }
    ],
    tip: CONNECTION_TIP
  },
  cloud_mailbox_full: {
    steps: [
      { text: 'Free up space in the user\'s cloud mailbox: delete or move mail they no longer need, and empty Deleted Items.' },
      { text: 'Move older mail to an archive mailbox, turning archiving on for the user if needed.' },
      { text: 'If the plan allows, raise the mailbox\'s storage quota or assign a licence with a larger mailbox.' },
      { text: 'Compare the size of the on-premises mailbox with the cloud quota, so that the next syncs do not fill the mailbox again.' },
      { text: 'Once there is room, the next sync copies the mail that arrived in the meantime.' }
    ],
    tip: 'No mail is lost while the cloud mailbox is full: it stays in the on-premises mailbox until a sync can copy it.'
  },
  sync_stalled: {
    steps: [
      { text: SERVICE_RUNNING },
      { text: 'Check that {server} is up and that you can connect to it from wherever the sync engine runs.' },
      { text: 'Check that the sync engine for this batch is still running and scheduled: a mailbox also counts as stalled when the engine itself stops reporting.' },
      { text: 'If the service runs and the server answers, start a new migration batch containing only the mailboxes that stopped synchronizing; the migration system then tries to sync them again.' }
    ],
    tip: CONNECTION_TIP
  },
  source_tls_failed: {
    steps: [
      { text: 'Check that the certificate {server} presents has not expired.' },
      { text: 'Check that the certificate\'s names include the exact host name the batch connects to.' },
      { text: 'Check that the certificate chain is complete and issued by an authority the sync engine trusts; for an internal or self-signed certificate, add that authority to the engine\'s trusted certificates rather than turning verification off.' },
      { text: 'Check that {server} offers TLS 1.2 or later; many engines refuse older protocol versions.' },
      { text: 'Check that the batch\'s port and encryption setting match what the server offers: implicit TLS on port 993 or STARTTLS on port 143.', when: 'imap' },
      { text: 'Check that the batch connects over HTTPS (port 443) to the host name the certificate is issued for, the one Outlook Anywhere or EWS publishes.', when: 'exchange' },
      { text: 'Check that the batch\'s port and encryption setting match what the server offers: for IMAP, implicit TLS on port 993 or STARTTLS on port 143; for Exchange, HTTPS on port 443.', when: 'typeUnknown' }
    ],
    tips: [
      { when: 'imap', text: 'To see what the engine sees, run openssl s_client -connect {host}:993 (or -connect {host}:143 -starttls imap for STARTTLS) from the machine that runs the sync engine: it prints the certificate chain and why verification fails.' },
      { when: 'exchange', text: 'To see what the engine sees, run openssl s_client -connect {host}:443 -servername {host} from the machine that runs the sync engine: it prints the certificate chain and why verification fails.' }
    ],
    tip: 'To see what the engine sees, run openssl s_client -connect {host}:<port> (for IMAP with STARTTLS add -starttls imap) from the machine that runs the sync engine: it prints the certificate chain and why verification fails.'
  },
  throttled: {
    steps: [
      { text: 'Let the engine back off: a retry after the wait the server asked for usually succeeds without any change.' },
      { text: 'If it keeps happening, lower the number of mailboxes synced in parallel, or split large batches into smaller ones.' },
      { text: 'On the cloud side, check the migration endpoint\'s limits on concurrent migrations and incremental syncs (in Exchange Online, MaxConcurrentMigrations and MaxConcurrentIncrementalSyncs).' },
      { text: 'On {server}, check the per-user and per-address connection limits (for example Dovecot\'s mail_max_userip_connections) and relax them for the migration account if needed.', when: 'imap' },
      { text: 'On {server}, check the Exchange throttling policy that applies to the migration account (for example its EWS limits) and relax it for that account if needed.', when: 'exchange' },
      { text: 'On {server}, check the per-user and per-address connection limits (for example Dovecot\'s mail_max_userip_connections, or an Exchange throttling policy) and relax them for the migration account if needed.', when: 'typeUnknown' },
      { text: 'Schedule heavy batches outside working hours, when the servers have capacity to spare.' }
    ],
    tip: 'Some throttling is normal during a migration; act only when the same mailbox keeps being throttled over several syncs.'
  },
  server_busy: {
    steps: [
      { text: 'Wait for the next sync: a busy server is usually a passing condition and the retry normally succeeds.' },
      { text: 'If it keeps happening, read the error message to find out which side answered busy: the on-premises server or the cloud service.' },
      { text: 'If it was {server}, check its load (CPU, memory, disk, open connections) and whether backups or maintenance run while the batch syncs.' },
      { text: 'If it was the cloud service, check the provider\'s service health page for incidents.' },
      { text: 'If a server stays busy, lower the number of mailboxes synced in parallel.' }
    ],
    tip: 'One busy answer is not a problem; act only when the same mailbox fails this way over several syncs.'
  },
  cloud_sign_in_failed: {
    steps: [
      { text: 'Check that the account the migration uses for the cloud service still exists, is not blocked from signing in, and that its password has not expired or been changed.' },
      { text: 'If the migration signs in as an application, check that its client secret or certificate has not expired and that an administrator has granted it consent.' },
      { text: 'Check that the account may write to the user\'s cloud mailbox: full access to the mailbox, an impersonation right (ApplicationImpersonation, where the service still offers it), or the application permission the engine requires.' },
      { text: 'Check that no sign-in policy (multi-factor authentication, conditional access, IP restrictions) blocks the migration account from where the engine runs.' }
    ]
  },
  cloud_unreachable: {
    steps: [
      { text: 'Check the cloud provider\'s service health page for an ongoing incident.' },
      { text: 'From the machine that runs the sync engine, check that the cloud service\'s address resolves in DNS and that outbound HTTPS (port 443) is allowed through firewalls and proxies.' },
      { text: 'Check that no proxy or TLS-inspecting firewall intercepts the connection to the cloud service.' },
      { text: 'Once the cloud service is reachable again, the next sync retries on its own.' }
    ],
    tip: 'To test the path, request the cloud service\'s HTTPS address (for example with curl) from the machine that runs the sync engine.'
  },
  cloud_mailbox_missing: {
    steps: [
      { text: 'Check that a cloud mailbox exists for the user and that its address matches the mailbox address in the batch.' },
      { text: 'If the user was created recently, wait for provisioning or directory synchronization to finish; a new mailbox can take a while to appear.' },
      { text: 'Check that the user has a licence that includes a mailbox; without one the mailbox is not available.' },
      { text: 'If the mailbox was deleted, restore it or create it again, then let the next sync run.' }
    ]
  },
  items_skipped: {
    steps: [
      { text: 'Nothing is blocked: the sync left out some items, copied everything else, and keeps running.' },
      { text: 'Review the skipped items named in the last message or in the engine\'s log for this mailbox.' },
      { text: 'Items larger than the cloud mailbox\'s maximum message size are skipped; raise that limit if the plan allows, or move those items by hand.' },
      { text: 'Items flagged as carrying malware are skipped on purpose; leave them out.' },
      { text: 'Corrupt items cannot be copied; if the user needs them, repair the on-premises mailbox or export and import those items by hand.' }
    ],
    tip: 'Skipped items are skipped again on every sync, so handling them by hand is the only way to get them across.'
  },
  unclassified: {
    steps: [
      { text: 'Read the failure\'s last message and code: they are the engine\'s own words and usually name the cause.' },
      { text: 'Check the sync engine\'s log for this mailbox around the time of the last failure.' },
      { text: 'If the message points at signing in, connecting or storage space, follow the guide of that category.' },
      { text: 'Report the message and code to the team that runs this service, so that a rule can recognise it next time.' }
    ]
  }
}

/**
 * Rendered guides by what the rendering reads: the category, the words and the conditions.
 * A report page repeats a handful of these many times over; they are frozen because every
 * caller shares them. Bounded: with more distinct servers than this, it starts over.
 */
const rendered = new Map<string, Guide>()
const RENDERED_MAX = 2000

export function troubleshootingGuide (category: CategoryId, context?: EventContext): Guide {
  const ctx = context ?? {}
  const words = wordsFor(ctx)
  const key = [category, words.server, words.host, words.client, words.service, words.adminRights, ...CONDITION_LIST.map((holds) => holds(ctx) ? '1' : '0')].join('\u0000')
  const cached = rendered.get(key)
  if (cached !== undefined) return cached
  const guide = deepFreeze(renderGuide(category, ctx))
  if (rendered.size >= RENDERED_MAX) rendered.clear()
  rendered.set(key, guide)
  return guide
}

/** Renders a guide afresh (troubleshootingGuide remembers the result). */
export function renderGuide (category: CategoryId, context: EventContext): Guide {
  const template = GUIDES[category]
  const words = wordsFor(context)
  const tip = template.tips?.find(({ when }) => CONDITIONS[when](context))?.text ?? template.tip
  return {
    steps: renderSteps(template.steps, context, words),
    tip: tip === undefined ? null : fill(tip, words)
  }
}

const CONDITION_LIST = Object.values(CONDITIONS)

function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner)
    Object.freeze(value)
  }
  return value
}

/** Every category with its guide, in CATEGORY_IDS order. */
export function guideCatalog (context?: EventContext): Array<CategoryInfo & { guide: Guide }> {
  return CATEGORY_LIST.map((info) => ({ ...info, guide: troubleshootingGuide(info.id, context) }))
}

function renderSteps (templates: readonly StepTemplate[], context: EventContext, words: Words): GuideStep[] {
  return templates
    .filter((step) => step.when === undefined || CONDITIONS[step.when](context))
    .map((step) => ({
      text: fill(step.text, words),
      steps: renderSteps(step.steps ?? [], context, words)
    }))
}

function wordsFor (context: EventContext): Words {
  // The context may come from an unvalidated caller: compare values, never index with them.
  const server = typeof context.server === 'string' && context.server.trim() !== '' ? context.server.trim() : undefined
  const type = context.migrationType
  return {
    server: server ?? 'the on-premises server',
    host: server ?? '<host>',
    client: type === 'imap' ? 'an IMAP client' : type === 'exchange' ? 'an Exchange client' : 'an IMAP or Exchange client',
    service: type === 'imap' ? 'IMAP service' : type === 'exchange' ? 'Exchange service' : 'mail service',
    adminRights: type === 'imap'
      ? 'super-user (master user) rights'
      : type === 'exchange' ? 'full access to the users\' mailboxes' : 'super-user rights'
  }
}

// One pass with a replacer function: a server name is inserted verbatim, even if it
// contains `{client}` or `$&`.
function fill (text: string, words: Words): string {
  return text.replace(/\{(server|host|client|service|adminRights)\}/g, (_match, name: keyof Words) => words[name])
}
