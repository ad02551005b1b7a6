// The classifier's rule table: data only, read by the engine in classifier.ts.
import type { CategoryId, Side } from './types.js'

export type RuleKind = 'code' | 'response-code' | 'wording'

/**
 * The side a message names first. imapsync's numbering: Host1/user1 is the on-premises source,
 * Host2/user2 the cloud target; other engines say "source", or "destination"/"target".
 * A rule with `host` only applies when the first such marker in the message is that side.
 */
export type Host = 1 | 2

export interface CodeMatch {
  /** Compared case-insensitively with the event's `code` only (trimmed, namespace dropped): numbers, plain words. */
  codes?: readonly string[]
  /**
   * Distinctive identifiers (exception names, EWS response codes, StatusDetail values, imapsync's
   * EXIT_ and ERR_ names): matched in the `code` like `codes`, and also as a whole word anywhere in
   * the message, where they count NAME_IN_MESSAGE_DISCOUNT less.
   */
  names?: readonly string[]
  /** A family of names: any identifier starting with one of these, in the code or the message. */
  prefixes?: readonly string[]
  /** Engines that use `codes`; the rule also applies when the event names no engine. Names ignore it. */
  engines?: readonly string[]
  host?: Host
}

export interface ResponseCodeMatch {
  /** RFC 5530 (and RFC 4469) response codes, written without brackets, upper case. */
  responseCodes: readonly string[]
  host?: Host
}

export interface WordingMatch {
  /** Case-insensitive, bounded, without nested quantifiers, without the g or y flag. */
  pattern: RegExp
  host?: Host
}

/** A raw signal the rule must decide itself; tests check every one. */
export interface RuleSample {
  code?: string
  message: string
  engine?: string
}

interface RuleBase {
  /** Stable, dotted; stored with each failure, so never renamed once released. */
  id: string
  category: CategoryId
  side: Side
  /** The highest strength that matches decides; equal strengths go by table order. */
  strength: number
  /** One line. Starts with "Generic." for generic rules and "Ambiguous:" for rules with alsoPossible. */
  rationale: string
  /**
   * Other categories an honest reader could give the same signal. A rule with doubt says so in
   * its id (it ends in `.ambiguous`, which every answer carries) and in its rationale.
   */
  alsoPossible?: readonly CategoryId[]
  samples: readonly [RuleSample, ...RuleSample[]]
}

export type ClassifierRule =
  | (RuleBase & { kind: 'code', match: CodeMatch })
  | (RuleBase & { kind: 'response-code', match: ResponseCodeMatch })
  | (RuleBase & { kind: 'wording', match: WordingMatch })

/**
 * Precedence, strongest first (an explicit `category` on the event beats all of these):
 *   code 600-699 > a code rule's name found in the message 500-599 > response code 400-499 >
 *   wording 300-399 > generic 100-199 (its names in the message 0-99) > fallback.
 * Within a tier, a rule qualified by a side (Host2, target) sits above its unqualified twin, and
 * wording that names a cause (certificate, throttling, credentials, quota) sits above wording that
 * only names a symptom (timed out, could not connect), because engines often report both in one
 * message. Generic rules are codes and response codes that servers reuse for several causes
 * (MigrationTransientException, [UNAVAILABLE], Gmail's [OVERQUOTA] for bandwidth): they only
 * decide when no specific rule, wording included, matches.
 */
export const STRENGTH = {
  code: 600,
  responseCode: 400,
  wording: 300,
  generic: 100
} as const

/** A name found in the message instead of the code field counts this much less (a code of 600 becomes 500). */
export const NAME_IN_MESSAGE_DISCOUNT = 100

const IMAPSYNC = ['imapsync'] as const

function anyOf (...patterns: readonly RegExp[]): RegExp {
  return new RegExp(patterns.map((pattern) => pattern.source).join('|'), 'i')
}

// Shared wording. Every fragment is bounded and has no quantified group other than an optional one.
const LOGIN_FAILED = /\b(?:authentication (?:failed|failure|unsuccessful|error|rejected|denied)|(?:log ?in|log ?on|sign ?in|authenticate|auth) (?:failed|failure|denied|incorrect|rejected|refused|unsuccessful|disabled)|logon failure|error login|invalid (?:credentials|password|user ?name(?: or password)?|login|account)|(?:wrong|incorrect|bad) (?:user ?name or )?(?:password|credentials)|(?:user ?name or password|password|credentials?)(?: (?:that )?(?:you )?(?:entered|provided|supplied|given))? (?:is |are |was |were )?(?:incorrect|wrong|invalid|not (?:correct|valid|accepted))|(?:password|credentials?|account)(?: (?:for|of) .{1,80}?)? (?:has |have |had |is |was )?(?:already )?expired|(?:trouble|problem) (?:signing|logging) in|(?:couldn't|could not|unable to|can ?not|can't|failed to|(?:was|were)(?:n't| not) able to) (?:sign|log) ?(?:in|on)|correct user ?name and password|(?:account|user|login) (?:has been |had been |is |was |is currently |has been temporarily )?(?:disabled|locked(?: out)?|suspended|blocked|deactivated)|account (?:is )?(?:not active|inactive)|check the credentials)\b/i
const ACCESS_DENIED = /\b(?:access (?:is |was )?denied|unauthori[sz]ed|not authori[sz]ed|permission denied|(?:does not|doesn't|do not|don't) have (?:the )?(?:required |necessary |sufficient )?(?:permissions?|rights|access) (?:to|for|on)|insufficient (?:access )?(?:rights|permissions?|privileges))\b/i
const APP_PASSWORD = /\b(?:app(?:lication)?[- ]specific password|app password|special credentials are required|log ?in via your web browser|web ?login required|basic authentication (?:is )?(?:disabled|blocked|not supported|turned off))\b/i
const IMPERSONATION = /\b(?:(?:does not|doesn't) have permission to impersonate|(?:is )?not (?:allowed|permitted|authori[sz]ed) to (?:impersonate|log ?in as|act as)|impersonat(?:e|ion) (?:user )?(?:is |was )?(?:denied|failed)|ApplicationImpersonation (?:role|right|permission)|(?:authenticator|admin|administrator|super ?user|master user) is not an? (?:admin|administrator|master user))\b/i
const PROTOCOL_OFF = /\b(?:not enabled for IMAP|IMAP (?:access )?(?:is |has been |was )?(?:disabled|not enabled|turned off|blocked)|enable (?:your account for )?IMAP (?:access|in your settings))\b/i
const TLS = /\b(?:certificates?|x\.?509|SSL (?:connect|handshake|routines|error|negotiation|stream|wants)|TLS (?:handshake|negotiation|failure|error|alert)|handshake (?:failed|failure)|self[- _]signed|can ?not go to tls|starttls (?:failed|failure|error)|unknown ca|wrong version number|no shared cipher|(?:do not|don't) possess a common algorithm|trust relationship for the SSL|remote party has closed the transport stream|secure channel|ERR_TLS_CERT\w{1,40})\b/i
const PLAINTEXT = /\b(?:plain ?text (?:authentication|login|auth) (?:is )?(?:disallowed|not allowed|disabled|not permitted)|LOGINDISABLED|(?:ssl|tls|starttls|encryption) (?:is )?required|must issue a STARTTLS)\b/i
const DNS = /\b(?:ENOTFOUND|EAI_AGAIN|getaddrinfo|name or service not known|(?:could not|couldn't|unable to|failed to) resolve|no such host|unknown host|host not found|(?:name|DNS) resolution|(?:remote name|host ?name|host|address) could not be resolved|nodename nor servname)\b/i
const REFUSED = /\b(?:connection (?:was )?(?:refused|reset|aborted)|ECONNREFUSED|ECONNRESET|ECONNABORTED|EHOSTUNREACH|ENETUNREACH|no route to host|(?:network|host) is unreachable|network unreachable)\b/i
const TIMED_OUT = /\b(?:timed? ?out|timeout|ETIMEDOUT|ESOCKETTIMEDOUT|(?:didn't|did not) respond in time)\b/i
const CANNOT_CONNECT = /\b(?:(?:could not|couldn't|can ?not|can't|unable to|failed to|(?:were|was)(?: not|n't) able to) (?:connect|reach (?:the |your )?(?:remote )?(?:server|email provider|mail server|host)|open (?:an? )?(?:imap |network |tcp )?connection|establish (?:a )?connection)|connection to the server .{0,160}could not be (?:completed|established)|connection failed)\b/i
const CLOSED = /\b(?:BYE\b.{0,120}(?:closing|closed|shutting down|disconnect(?:ed|ing)?|logout)|server (?:is )?(?:closing|closed|dropped|shutting down) (?:the )?connection|connection (?:was )?(?:closed|dropped|terminated) by (?:the )?(?:remote |foreign )?(?:server|host|peer)|socket closed|unexpected (?:end of file|EOF|disconnect)|lost (?:the )?connection|connection (?:to .{0,80})?lost)\b/i

interface ExitSpec {
  status: string
  names: readonly string[]
  category: CategoryId
  side: Side
  strength?: number
  rationale: string
  sample: string
}

/** imapsync's exit statuses: the number only counts from imapsync (or an unnamed engine); the EXIT_/ERR_ names count anywhere. */
function imapsyncExit (spec: ExitSpec, host?: Host): ClassifierRule {
  return {
    id: `imapsync.exit.${spec.status}${host === 2 ? '.host2' : ''}`,
    kind: 'code',
    match: { codes: [spec.status], names: spec.names, engines: IMAPSYNC, ...(host === undefined ? {} : { host }) },
    category: spec.category,
    side: spec.side,
    strength: spec.strength ?? (host === 2 ? STRENGTH.code + 10 : STRENGTH.code),
    rationale: spec.rationale,
    samples: [{ code: spec.status, message: spec.sample }]
  }
}

const NOT_A_MAIL_FAILURE = 'no server refused anything, so no category fits; the run itself has to be looked at.'

const IMAPSYNC_RULES: readonly ClassifierRule[] = [
  imapsyncExit({ status: '10', names: ['EXIT_CONNECTION_FAILURE'], category: 'cloud_unreachable', side: 'cloud', rationale: 'EXIT_CONNECTION_FAILURE does not say which host; the message blames Host2 (or the target), the cloud side.', sample: 'Host2 failure: can not open imap connection on host2 [imap.example.net] with user [dan@example.net]: Network unreachable' }, 2),
  imapsyncExit({ status: '10', names: ['EXIT_CONNECTION_FAILURE'], category: 'source_unreachable', side: 'source', rationale: 'EXIT_CONNECTION_FAILURE: imapsync could not connect; it opens Host1, the source, first.', sample: 'Host1: connection to [192.168.4.10] lost while reading the greeting' }),
  imapsyncExit({ status: '12', names: ['EXIT_TLS_FAILURE', 'ERR_EXIT_TLS_FAILURE'], category: 'cloud_unreachable', side: 'cloud', rationale: 'EXIT_TLS_FAILURE on Host2: the cloud endpoint could not be reached securely (there is no cloud TLS category).', sample: 'Host2 failure: Can not go to tls encryption on host2 [imap.example.net]' }, 2),
  imapsyncExit({ status: '12', names: ['EXIT_TLS_FAILURE', 'ERR_EXIT_TLS_FAILURE'], category: 'source_tls_failed', side: 'source', rationale: 'EXIT_TLS_FAILURE: the TLS negotiation failed, on Host1 unless the message names Host2.', sample: 'Host1 failure: STARTTLS negotiation with [imap.fabrikam.lan] failed' }),
  imapsyncExit({ status: '16', names: ['EXIT_AUTHENTICATION_FAILURE'], category: 'cloud_sign_in_failed', side: 'cloud', rationale: 'EXIT_AUTHENTICATION_FAILURE does not say which account; the message blames Host2/user2, the cloud account.', sample: 'Host2 failure: Error login on [imap.example.net] with user [erin@example.net] auth [PLAIN]: 3 NO bad password' }, 2),
  imapsyncExit({ status: '16', names: ['EXIT_AUTHENTICATION_FAILURE'], category: 'source_sign_in_failed', side: 'source', rationale: 'EXIT_AUTHENTICATION_FAILURE: a login was refused, on Host1 unless the message names Host2.', sample: 'login refused' }),
  imapsyncExit({ status: '101', names: ['EXIT_CONNECTION_FAILURE_HOST1', 'ERR_CONNECTION_FAILURE_HOST1'], category: 'source_unreachable', side: 'source', rationale: 'EXIT_CONNECTION_FAILURE_HOST1: no connection to the on-premises server.', sample: 'Host1 failure: can not open imap connection on host1 [imap.fabrikam.lan] with user [gina]: No route to host' }),
  imapsyncExit({ status: '102', names: ['EXIT_CONNECTION_FAILURE_HOST2', 'ERR_CONNECTION_FAILURE_HOST2'], category: 'cloud_unreachable', side: 'cloud', rationale: 'EXIT_CONNECTION_FAILURE_HOST2: no connection to the cloud server.', sample: 'Host2 failure: can not open imap connection on host2 [imap.example.net]: Connection reset by peer' }),
  imapsyncExit({ status: '111', names: ['EXIT_WITH_ERRORS'], category: 'items_skipped', side: 'either', strength: STRENGTH.generic + 90, rationale: 'Generic. EXIT_WITH_ERRORS: the sync finished but some messages failed; the error lines, when present, say why.', sample: 'Exiting with return value 111 (EXIT_WITH_ERRORS) 3/50 nb_errors/max_errors' }),
  imapsyncExit({ status: '112', names: ['EXIT_WITH_ERRORS_MAX'], category: 'unclassified', side: 'unknown', strength: STRENGTH.generic + 90, rationale: 'Generic. EXIT_WITH_ERRORS_MAX: imapsync gave up after too many errors; only its error lines tell the cause.', sample: 'Maximum number of errors 50 reached, stopping' }),
  imapsyncExit({ status: '113', names: ['EXIT_OVERQUOTA', 'ERR_OVERQUOTA'], category: 'cloud_mailbox_full', side: 'cloud', rationale: 'EXIT_OVERQUOTA: Host2, the cloud mailbox, refused messages for lack of space.', sample: '- msg Archive/2019/77 could not append to folder Archive/2019: NO storage exhausted' }),
  imapsyncExit({ status: '114', names: ['EXIT_ERR_APPEND', 'ERR_APPEND', 'ERR_APPEND_SIZE'], category: 'items_skipped', side: 'cloud', rationale: 'EXIT_ERR_APPEND: Host2 refused some messages (mostly too big); the others were copied.', sample: '- msg Drafts/9 could not append to folder Drafts: NO message rejected' }),
  imapsyncExit({ status: '115', names: ['EXIT_ERR_FETCH', 'ERR_Host1_FETCH'], category: 'items_skipped', side: 'source', rationale: 'EXIT_ERR_FETCH: some messages could not be read from Host1 and were left out.', sample: 'Host1: could not fetch message UID 3390 in folder Projects' }),
  imapsyncExit({ status: '116', names: ['EXIT_ERR_CREATE', 'ERR_CREATE'], category: 'items_skipped', side: 'cloud', rationale: 'EXIT_ERR_CREATE: some folders could not be created on Host2; their messages were left out.', sample: 'Host2: folder [Old/Stuff] refused' }),
  imapsyncExit({ status: '117', names: ['EXIT_ERR_SELECT', 'ERR_SELECT'], category: 'items_skipped', side: 'either', rationale: 'EXIT_ERR_SELECT: some folders could not be opened; their messages were left out.', sample: 'folder Shared/Team cannot be opened' }),
  imapsyncExit({ status: '118', names: ['EXIT_TRANSFER_EXCEEDED', 'ERR_TRANSFER_EXCEEDED'], category: 'throttled', side: 'either', rationale: 'EXIT_TRANSFER_EXCEEDED: the transfer cap (--exitwhenover, set for provider daily limits) was reached; the next run continues.', sample: 'Stopping: transferred 2.4 GiB, more than asked' }),
  imapsyncExit({ status: '119', names: ['EXIT_ERR_APPEND_VIRUS', 'ERR_APPEND_VIRUS'], category: 'items_skipped', side: 'cloud', rationale: 'EXIT_ERR_APPEND_VIRUS: Host2 refused messages it flagged as infected; the others were copied.', sample: '- msg Junk/4 to folder Junk: NO rejected by content scanner' }),
  imapsyncExit({ status: '120', names: ['EXIT_ERR_FLAGS', 'ERR_FLAGS'], category: 'items_skipped', side: 'cloud', rationale: 'EXIT_ERR_FLAGS: flags could not be stored on Host2; the messages themselves were copied.', sample: 'Host2: STORE +FLAGS (\\Seen $Label1) failed' }),
  imapsyncExit({ status: '161', names: ['EXIT_AUTHENTICATION_FAILURE_USER1', 'ERR_AUTHENTICATION_FAILURE_USER1'], category: 'source_sign_in_failed', side: 'source', rationale: 'EXIT_AUTHENTICATION_FAILURE_USER1: the on-premises account was refused.', sample: 'Host1 failure: Error login on [imap.fabrikam.lan] with user [hugo]: NO LOGIN Invalid login' }),
  imapsyncExit({ status: '162', names: ['EXIT_AUTHENTICATION_FAILURE_USER2', 'ERR_AUTHENTICATION_FAILURE_USER2'], category: 'cloud_sign_in_failed', side: 'cloud', rationale: 'EXIT_AUTHENTICATION_FAILURE_USER2: the cloud account was refused.', sample: 'Host1 ok; then NO AUTHENTICATE failed' }),
  // Statuses that are no server's verdict: the run was stopped, misconfigured or broke locally.
  imapsyncExit({ status: '1', names: ['EXIT_CATCH_ALL'], category: 'unclassified', side: 'unknown', rationale: `EXIT_CATCH_ALL: imapsync died without typing the cause; ${NOT_A_MAIL_FAILURE}`, sample: 'Died at /usr/bin/imapsync line 2210.' }),
  imapsyncExit({ status: '6', names: ['EXIT_BY_SIGNAL'], category: 'unclassified', side: 'unknown', rationale: `EXIT_BY_SIGNAL: the run was killed (a signal, Ctrl-C, a timeout wrapper); ${NOT_A_MAIL_FAILURE}`, sample: 'Got signal TERM, exiting' }),
  imapsyncExit({ status: '7', names: ['EXIT_BY_FILE'], category: 'unclassified', side: 'unknown', rationale: `EXIT_BY_FILE: someone asked the run to stop by creating its stop file; ${NOT_A_MAIL_FAILURE}`, sample: 'Stop file found, exiting' }),
  imapsyncExit({ status: '8', names: ['EXIT_PID_FILE_ERROR'], category: 'unclassified', side: 'unknown', rationale: `EXIT_PID_FILE_ERROR: the PID file could not be written or another run holds it; ${NOT_A_MAIL_FAILURE}`, sample: 'PID file /var/tmp/imapsync.pid is in the way' }),
  imapsyncExit({ status: '21', names: ['EXIT_SUBFOLDER1_NO_EXISTS'], category: 'unclassified', side: 'unknown', rationale: 'EXIT_SUBFOLDER1_NO_EXISTS: --subfolder1 names a folder Host1 does not have, a setting of the run, so nothing was copied.', sample: 'subfolder1 Projects/2020 is absent' }),
  imapsyncExit({ status: '64', names: ['EX_USAGE'], category: 'unclassified', side: 'unknown', rationale: `EX_USAGE: imapsync refused its command line (a bad or missing option); ${NOT_A_MAIL_FAILURE}`, sample: 'unknown option --hots1' }),
  imapsyncExit({ status: '66', names: ['EX_NOINPUT'], category: 'unclassified', side: 'unknown', rationale: `EX_NOINPUT: a file the run needs (a --passfile, a --tls option file) cannot be read; ${NOT_A_MAIL_FAILURE}`, sample: 'passfile1 /etc/imapsync/p1 unreadable' }),
  imapsyncExit({ status: '69', names: ['EX_UNAVAILABLE'], category: 'unclassified', side: 'unknown', rationale: `EX_UNAVAILABLE: something imapsync needs on its own machine is missing; ${NOT_A_MAIL_FAILURE}`, sample: 'a needed Perl module is absent' }),
  imapsyncExit({ status: '70', names: ['EX_SOFTWARE'], category: 'unclassified', side: 'unknown', rationale: `EX_SOFTWARE: an internal software error in imapsync; ${NOT_A_MAIL_FAILURE}`, sample: 'internal error in sub sync_flags' }),
  imapsyncExit({ status: '254', names: ['EXIT_TESTS_FAILED'], category: 'unclassified', side: 'unknown', rationale: `EXIT_TESTS_FAILED: imapsync's self-tests (--tests) failed; ${NOT_A_MAIL_FAILURE}`, sample: 'self tests: 3 of 412 did not pass' }),
  {
    id: 'imapsync.err.unclassified',
    kind: 'code',
    match: { names: ['ERR_UNCLASSIFIED'] },
    category: 'unclassified',
    side: 'unknown',
    strength: STRENGTH.generic + 80,
    rationale: 'Generic. ERR_UNCLASSIFIED: imapsync could not type its own errors; the error lines say more when a rule knows them.',
    samples: [{ message: 'The most frequent error is ERR_UNCLASSIFIED.' }]
  }
]

const EXCHANGE_RULES: readonly ClassifierRule[] = [
  // EWS response codes (the ResponseCode of an EWS answer, as engines that read or write over EWS report them).
  {
    id: 'ews.quota-exceeded',
    kind: 'code',
    match: { names: ['ErrorQuotaExceeded', 'ErrorQuotaExceededOnDelete'] },
    category: 'cloud_mailbox_full',
    side: 'cloud',
    strength: STRENGTH.code,
    rationale: 'ErrorQuotaExceeded: the target mailbox has no room left.',
    samples: [{ code: 'ErrorQuotaExceeded', message: 'The item could not be saved.' }]
  },
  {
    id: 'ews.access-denied',
    kind: 'code',
    match: { names: ['ErrorAccessDenied'] },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.code,
    rationale: 'ErrorAccessDenied: the migration account lacks rights to the source mailbox.',
    samples: [{ code: 'ErrorAccessDenied', message: 'The request failed.' }]
  },
  {
    id: 'ews.account-refused',
    kind: 'code',
    match: { names: ['ErrorAccountDisabled', 'ErrorPasswordExpired', 'ErrorPasswordChangeRequired', 'ErrorMailboxLogonFailed', 'ErrorCallerIsInvalidADAccount', 'ErrorLogonAsNetworkServiceFailed'] },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.code,
    rationale: 'The account the sync signs in with is disabled, its password expired or must change, or its mailbox logon was refused.',
    samples: [{ code: 'ErrorAccountDisabled', message: 'The request failed.' }, { message: 'GetItem answered ErrorPasswordExpired for svc-migrate' }]
  },
  {
    id: 'ews.impersonation-denied',
    kind: 'code',
    match: { names: ['ErrorImpersonateUserDenied', 'ErrorImpersonationDenied', 'ErrorImpersonationFailed'] },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.code,
    rationale: 'The migration (super-user) account may not impersonate the mailbox owner: a permission to grant.',
    samples: [{ code: 'ErrorImpersonationDenied', message: 'The server rejected the request.' }]
  },
  {
    id: 'ews.server-busy',
    kind: 'code',
    match: { names: ['ErrorServerBusy'] },
    category: 'throttled',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'ErrorServerBusy is how EWS throttles: it comes with a back-off time.',
    samples: [{ code: 'ErrorServerBusy', message: 'BackOffMilliseconds: 120000' }]
  },
  {
    id: 'ews.throttling-policy',
    kind: 'code',
    match: { names: ['ErrorExceededConnectionCount', 'ErrorExceededSubscriptionCount', 'ErrorExceededFindCountLimit', 'ErrorTooManyObjectsOpened'] },
    category: 'throttled',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'An EWS throttling-policy budget (concurrent connections, subscriptions, open objects) is used up: fewer parallel syncs, or wait.',
    samples: [{ code: 'ErrorExceededConnectionCount', message: 'Policy limit hit for svc-migrate.' }]
  },
  {
    id: 'ews.store-unavailable',
    kind: 'code',
    match: { names: ['ErrorMailboxStoreUnavailable', 'ErrorInternalServerTransientError', 'ErrorMailboxMoveInProgress', 'ErrorMailboxFailover', 'ErrorADUnavailable', 'ErrorADOperation', 'ErrorInsufficientResources', 'ErrorNotEnoughMemory', 'ErrorNoRespondingCASInDestinationSite', 'ErrorNoApplicableProxyCASServersAvailable'] },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'The mailbox database or directory is offline, failing over, moving or short of resources: transient.',
    samples: [{ code: 'ErrorInternalServerTransientError', message: 'An internal server error occurred. Try again.' }, { code: 'ErrorADUnavailable', message: 'Directory lookup failed.' }]
  },
  {
    id: 'ews.non-existent-mailbox',
    kind: 'code',
    match: { names: ['ErrorNonExistentMailbox', 'ErrorMailRecipientNotFound'] },
    category: 'cloud_mailbox_missing',
    side: 'cloud',
    strength: STRENGTH.code,
    rationale: 'ErrorNonExistentMailbox: the mailbox the sync writes to does not exist.',
    samples: [{ code: 'ErrorNonExistentMailbox', message: 'The SMTP address has no mailbox associated with it.' }]
  },
  {
    id: 'ews.connection-failed',
    kind: 'code',
    match: { names: ['ErrorConnectionFailed', 'ErrorTimeoutExpired'] },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.code,
    rationale: 'The EWS endpoint of the source did not answer in time or at all.',
    samples: [{ code: 'ErrorConnectionFailed', message: 'The request failed.' }]
  },
  {
    id: 'ews.message-size-exceeded',
    kind: 'code',
    match: { names: ['ErrorMessageSizeExceeded', 'ErrorAttachmentSizeLimitExceeded', 'ErrorRequestStreamTooBig'] },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'An item is larger than the server accepts; it is left out.',
    samples: [{ code: 'ErrorMessageSizeExceeded', message: 'The message exceeds the limit.' }]
  },
  {
    id: 'ews.corrupt-item',
    kind: 'code',
    match: { names: ['ErrorItemCorrupt', 'ErrorCorruptData', 'ErrorFolderCorrupt', 'ErrorMimeContentConversionFailed', 'ErrorContentConversionFailed', 'ErrorMimeContentInvalid', 'ErrorVirusDetected', 'ErrorVirusMessageDeleted'] },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'An item is corrupt, cannot be converted or carries a virus; it is left out and the rest keeps syncing.',
    samples: [{ code: 'ErrorItemCorrupt', message: 'GetItem on the item failed.' }]
  },

  // Exchange (MRS and migration service) exception names.
  {
    id: 'exchange.too-many-large-items',
    kind: 'code',
    match: { names: ['TooManyLargeItemsPermanentException', 'TooManyBadItemsPermanentException', 'TooManyMissingItemsPermanentException', 'MapiExceptionMaxSubmissionExceeded'] },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'Items over the size limit, corrupt or missing exceeded the allowed count: they have to be handled or allowed by hand.',
    samples: [{ code: 'TooManyBadItemsPermanentException', message: 'FailureType : TooManyBadItemsPermanentException' }]
  },
  {
    id: 'exchange.recipient-not-found',
    kind: 'code',
    match: { names: ['RecipientNotFoundPermanentException'] },
    category: 'cloud_mailbox_missing',
    side: 'cloud',
    strength: STRENGTH.code,
    rationale: 'The target recipient the migration writes to was never created (or lacks the mailbox GUID the move needs).',
    samples: [{ code: 'RecipientNotFoundPermanentException', message: 'Error: RecipientNotFoundPermanentException' }]
  },
  {
    id: 'exchange.ssl-stream-failure',
    kind: 'code',
    match: { names: ['SslStreamFailureException'] },
    category: 'source_tls_failed',
    side: 'source',
    strength: STRENGTH.code + 10,
    rationale: 'SslStreamFailureException: the TLS negotiation with the source failed; it beats the connection exceptions that wrap it.',
    samples: [{ code: 'SslStreamFailureException', message: 'The connection to the server could not be completed.' }]
  },
  {
    id: 'exchange.connection-failed',
    kind: 'code',
    match: { names: ['RemoteNetworkErrorTransientException', 'ConnectionFailedTransientException', 'ConnectionFailedPermanentException', 'MapiExceptionNetworkError'] },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.code,
    rationale: "The migration service's network call to the source server failed: wrong host name, firewall or server down.",
    samples: [{ code: 'ConnectionFailedTransientException', message: 'Connecting to the source failed.' }]
  },
  {
    id: 'exchange.mapi.quota',
    kind: 'code',
    match: { names: ['MapiExceptionShutoffQuotaExceeded', 'MapiExceptionQuotaExceeded'] },
    category: 'cloud_mailbox_full',
    side: 'cloud',
    strength: STRENGTH.code,
    rationale: "The target mailbox reached its shut-off quota: MRS can't write any more into it.",
    samples: [{ message: 'Unable to save changes. MapiExceptionShutoffQuotaExceeded (hr=0x80004005)' }]
  },
  {
    id: 'exchange.mapi.busy',
    kind: 'code',
    match: { names: ['MapiExceptionMdbOffline', 'MapiExceptionRpcServerTooBusy', 'MapiExceptionADUnavailable', 'MapiExceptionMailboxInTransit'] },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'The mailbox database is offline, the RPC server is too busy, the directory is down or the mailbox is being moved: transient.',
    samples: [{ code: 'MapiExceptionMdbOffline', message: 'Unable to open the store.' }]
  },
  {
    id: 'exchange.mapi.session-limit',
    kind: 'code',
    match: { names: ['MapiExceptionSessionLimit'] },
    category: 'throttled',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'MapiExceptionSessionLimit: the account has as many MAPI sessions open as the server allows.',
    samples: [{ code: 'MapiExceptionSessionLimit', message: 'Unable to open a session.' }]
  },
  {
    id: 'exchange.mapi.logon-failed',
    kind: 'code',
    match: { names: ['MapiExceptionLogonFailed', 'MapiExceptionNoAccess'] },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.code,
    rationale: 'The migration account could not log on to the mailbox store or lacks access to it.',
    samples: [{ code: 'MapiExceptionLogonFailed', message: 'Unable to open message store.' }]
  },
  {
    id: 'bittitan.database-not-found.ambiguous',
    kind: 'code',
    match: { names: ['DatabaseNotFoundException'] },
    category: 'cloud_mailbox_missing',
    side: 'cloud',
    alsoPossible: ['cloud_sign_in_failed'],
    strength: STRENGTH.code,
    rationale: "Ambiguous: MigrationWiz's DatabaseNotFoundException says it could not locate or open the mailbox database: usually a destination mailbox not provisioned or licensed yet, but with a 401 it can be the admin account's rights.",
    samples: [{ code: 'DatabaseNotFoundException', message: 'MigrationWiz could not reach the mailbox.' }]
  },
  {
    id: 'exchange.communication-error',
    kind: 'code',
    match: { names: ['CommunicationErrorTransientException', 'CommunicationErrorPermanentException', 'MigrationServerConnectionFailedException'] },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.generic + 90,
    rationale: 'Generic. MRS wraps every failed call to the source endpoint in it, refused credentials and TLS included; the wording says which.',
    samples: [{ code: 'CommunicationErrorTransientException', message: "The call to 'https://owa.fabrikam.lan/EWS/mrsproxy.svc' failed." }]
  },
  {
    id: 'exchange.migration-transient',
    kind: 'code',
    match: { names: ['MigrationTransientException', 'StorageTransientException', 'MailboxReplicationTransientException', 'DataExportTransientException', 'MapiFxProxyTransientException', 'RemoteTransientException'] },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.generic + 90,
    rationale: 'Generic. Only says the failure may pass; the wording usually names the real cause.',
    samples: [{ code: 'MigrationTransientException', message: 'MigrationTransientException: An error occurred. The operation will be retried.' }]
  },
  {
    id: 'exchange.migration-permanent',
    kind: 'code',
    match: { names: ['MigrationPermanentException', 'StoragePermanentException', 'MailboxReplicationPermanentException', 'RemotePermanentException', 'UpdateMovedMailboxPermanentException'] },
    category: 'unclassified',
    side: 'unknown',
    strength: STRENGTH.generic + 85,
    rationale: 'Generic. Only says the failure will not pass by itself; the wording has to name the cause.',
    samples: [{ code: 'MigrationPermanentException', message: 'MigrationPermanentException: the job cannot continue.' }]
  },

  // Exchange move-request StatusDetail values (Get-MoveRequestStatistics, Get-MigrationUserStatistics).
  {
    id: 'mrs.stalled.target-mdb-full',
    kind: 'code',
    match: { names: ['StalledDueToTarget_MDBFull'] },
    category: 'throttled',
    side: 'cloud',
    strength: STRENGTH.code + 10,
    rationale: "The target mailbox database, not the user's mailbox, is short of space: the service holds the move back until it makes room, so no quota needs raising.",
    samples: [{ code: 'StalledDueToTarget_MDBFull', message: 'StatusDetail: StalledDueToTarget_MDBFull' }]
  },
  {
    id: 'mrs.stalled.resource-health',
    kind: 'code',
    match: {
      names: ['StalledDueToHA', 'StalledDueToCI', 'StalledDueToReadThrottle', 'StalledDueToWriteThrottle', 'StalledDueToReadCpu', 'StalledDueToWriteCpu', 'StalledDueToReadUnknown', 'StalledDueToWriteUnknown', 'ProxyBackoff', 'ServerBusyBackoff'],
      prefixes: ['StalledDueToTarget_', 'StalledDueToSource_']
    },
    category: 'throttled',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'Workload management holds the move back while a server is unhealthy (replication, content index, CPU, disk latency, database availability): it resumes by itself.',
    samples: [{ code: 'StalledDueToTarget_MdbAvailability', message: 'StalledDueToTarget_MdbAvailability' }, { message: 'Move stalled: StalledDueToWriteCpu for 00:14:00' }]
  },
  {
    id: 'mrs.stalled.mailbox-lock',
    kind: 'code',
    match: { names: ['StalledDueToMailboxLock'] },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'Another process holds the mailbox locked; the move waits for it to let go.',
    samples: [{ code: 'StalledDueToMailboxLock', message: 'StalledDueToMailboxLock' }]
  },
  {
    id: 'mrs.mdb-offline',
    kind: 'code',
    match: { names: ['MDBOffline', 'RelinquishedMDBFailover'] },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'The mailbox database is offline or failed over; the move is picked up again once it is mounted.',
    samples: [{ code: 'RelinquishedMDBFailover', message: 'RelinquishedMDBFailover' }]
  },
  {
    id: 'mrs.relinquished.stall',
    kind: 'code',
    match: { names: ['RelinquishedWlmStall', 'RelinquishedHAStall', 'RelinquishedCIStall', 'RelinquishedDataGuarantee', 'FailedStallDueToHA', 'FailedStallDueToCI'] },
    category: 'throttled',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'The move gave up its turn (or failed) after waiting too long on server health or replication; resume it once the servers recover.',
    samples: [{ code: 'RelinquishedWlmStall', message: 'RelinquishedWlmStall' }]
  },
  {
    id: 'mrs.failed.bad-item-limit',
    kind: 'code',
    match: { names: ['FailedBadItemLimit'] },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'FailedBadItemLimit: more corrupt items than the request allows; raise the limit or accept the loss.',
    samples: [{ code: 'FailedBadItemLimit', message: 'FailedBadItemLimit' }]
  },
  {
    id: 'mrs.stalled',
    kind: 'code',
    match: { codes: ['Stalled', 'Relinquished'] },
    category: 'throttled',
    side: 'either',
    strength: STRENGTH.generic + 90,
    rationale: 'Generic. The move waits on a server without saying which; the wording may tell more.',
    samples: [{ code: 'Stalled', message: 'Status detail: stalled' }]
  },
  {
    id: 'mrs.transient-failure',
    kind: 'code',
    match: { names: ['TransientFailure'] },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.generic + 90,
    rationale: 'Generic. MRS hit a failure it will retry; the error text usually names it.',
    samples: [{ code: 'TransientFailure', message: 'TransientFailure' }]
  },
  {
    id: 'mrs.network-failure',
    kind: 'code',
    match: { names: ['NetworkFailure', 'FailedNetwork'] },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.generic + 90,
    rationale: 'Generic. The network to the other side failed, usually to the on-premises MRS proxy; the wording may name the host.',
    samples: [{ code: 'FailedNetwork', message: 'FailedNetwork' }]
  },
  {
    id: 'mrs.failed',
    kind: 'code',
    match: { codes: ['Failed', 'IncrementalFailed', 'CompletionFailed', 'Corrupted'], names: ['FailedMAPI', 'FailedOther', 'FailedStuck'] },
    category: 'unclassified',
    side: 'unknown',
    strength: STRENGTH.generic + 80,
    rationale: 'Generic. A failed status says that it failed, not why; the error text decides when a rule knows it.',
    samples: [{ code: 'FailedOther', message: 'FailedOther' }, { code: 'IncrementalFailed', message: 'IncrementalFailed' }]
  },

  // HTTP statuses (Graph and other REST engines).
  {
    id: 'http.429',
    kind: 'code',
    match: { codes: ['429'] },
    category: 'throttled',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'HTTP 429 Too Many Requests: honour Retry-After.',
    samples: [{ code: '429', message: 'ApplicationThrottled' }]
  },
  {
    id: 'http.503',
    kind: 'code',
    match: { codes: ['503'] },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'HTTP 503 Service Unavailable: transient.',
    samples: [{ code: '503', message: 'upstream not ready' }]
  },

  // Socket error codes (Node.js and libc names).
  {
    id: 'socket.unreachable',
    kind: 'code',
    match: { codes: ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EAI_AGAIN'] },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.generic + 90,
    rationale: 'Generic. The connection failed, but the code does not say to which host; Host2 wording makes it the cloud.',
    samples: [{ code: 'EHOSTUNREACH', message: 'connect failed' }]
  },
  {
    id: 'socket.tls',
    kind: 'code',
    match: { codes: ['CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'EPROTO'] },
    category: 'source_tls_failed',
    side: 'source',
    strength: STRENGTH.generic + 90,
    rationale: 'Generic. The TLS layer refused the peer, which is usually the on-premises server.',
    samples: [{ code: 'CERT_HAS_EXPIRED', message: 'request failed' }]
  }
]

// IMAP response codes (RFC 5530, RFC 4469) in brackets in the message, or sent as the event's code.
const RESPONSE_CODE_RULES: readonly ClassifierRule[] = [
  {
    id: 'imap.code.sign-in.host2',
    kind: 'response-code',
    match: { responseCodes: ['AUTHENTICATIONFAILED', 'AUTHORIZATIONFAILED', 'EXPIRED'], host: 2 },
    category: 'cloud_sign_in_failed',
    side: 'cloud',
    strength: STRENGTH.responseCode + 10,
    rationale: 'A refused login reported against Host2/user2 (or the target) is the cloud account.',
    samples: [{ message: 'Host2 failure: Error login on [imap.example.net] with user [jo@example.net]: 1 NO [AUTHENTICATIONFAILED] Invalid login' }]
  },
  {
    id: 'imap.code.privacyrequired.host2',
    kind: 'response-code',
    match: { responseCodes: ['PRIVACYREQUIRED'], host: 2 },
    category: 'cloud_unreachable',
    side: 'cloud',
    strength: STRENGTH.responseCode + 10,
    rationale: 'RFC 5530 PRIVACYREQUIRED from Host2: the cloud endpoint needs TLS the sync did not use (there is no cloud TLS category).',
    samples: [{ message: 'Host2: 2 NO [PRIVACYREQUIRED] Use TLS first' }]
  },
  {
    id: 'imap.code.authenticationfailed',
    kind: 'response-code',
    match: { responseCodes: ['AUTHENTICATIONFAILED'] },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.responseCode,
    rationale: 'RFC 5530 AUTHENTICATIONFAILED: wrong user name or password.',
    samples: [{ message: 'A3 NO [AUTHENTICATIONFAILED] Bad username or password' }]
  },
  {
    id: 'imap.code.authorizationfailed',
    kind: 'response-code',
    match: { responseCodes: ['AUTHORIZATIONFAILED'] },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.responseCode,
    rationale: 'RFC 5530 AUTHORIZATIONFAILED: authenticated, but may not act as that user (the super-user or proxy rights).',
    samples: [{ message: '7 NO [AUTHORIZATIONFAILED] Proxy login not permitted' }]
  },
  {
    id: 'imap.code.expired',
    kind: 'response-code',
    match: { responseCodes: ['EXPIRED'] },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.responseCode,
    rationale: 'RFC 5530 EXPIRED: the password or account has expired.',
    samples: [{ message: 'x NO [EXPIRED] Account has lapsed' }]
  },
  {
    id: 'imap.code.privacyrequired',
    kind: 'response-code',
    match: { responseCodes: ['PRIVACYREQUIRED'] },
    category: 'source_tls_failed',
    side: 'source',
    strength: STRENGTH.responseCode,
    rationale: 'RFC 5530 PRIVACYREQUIRED: the server refuses to proceed without an encrypted connection.',
    samples: [{ message: 'b NO [PRIVACYREQUIRED] Connection is not secure' }]
  },
  {
    id: 'imap.code.inuse',
    kind: 'response-code',
    match: { responseCodes: ['INUSE'] },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.responseCode,
    rationale: 'RFC 5530 INUSE: another session holds the resource; it frees up by itself.',
    samples: [{ message: 'c NO [INUSE] Folder busy, retry' }]
  },
  {
    id: 'imap.code.toobig',
    kind: 'response-code',
    match: { responseCodes: ['TOOBIG'] },
    category: 'items_skipped',
    side: 'cloud',
    strength: STRENGTH.responseCode,
    rationale: 'RFC 4469 TOOBIG: the message exceeds the append limit; it is left out.',
    samples: [{ message: 'd NO [TOOBIG] Rejected' }]
  },
  {
    id: 'imap.code.corruption',
    kind: 'response-code',
    match: { responseCodes: ['CORRUPTION'] },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.responseCode,
    rationale: 'RFC 5530 CORRUPTION: the server found its own copy of a message or folder corrupt; that part is left out.',
    samples: [{ message: 'k NO [CORRUPTION] Index damaged, rebuilding' }]
  },
  {
    id: 'imap.code.overquota',
    kind: 'response-code',
    match: { responseCodes: ['OVERQUOTA'] },
    category: 'cloud_mailbox_full',
    side: 'cloud',
    strength: STRENGTH.generic + 80,
    rationale: 'Generic. RFC 5530 OVERQUOTA, but Gmail also sends it for bandwidth limits: wording decides when present.',
    samples: [{ message: 'e NO [OVERQUOTA] Rejected' }]
  },
  {
    id: 'imap.code.unavailable',
    kind: 'response-code',
    match: { responseCodes: ['UNAVAILABLE'] },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.generic + 80,
    rationale: 'Generic. RFC 5530 UNAVAILABLE is a temporary failure; servers also use it for connection limits, which the wording tells.',
    samples: [{ message: 'f NO [UNAVAILABLE] Backend down' }]
  },
  {
    id: 'imap.code.contactadmin.host2',
    kind: 'response-code',
    match: { responseCodes: ['CONTACTADMIN'], host: 2 },
    category: 'cloud_sign_in_failed',
    side: 'cloud',
    strength: STRENGTH.generic + 90,
    rationale: 'Generic. RFC 5530 CONTACTADMIN from Host2: the cloud account needs an administrator.',
    samples: [{ message: 'Host2: g NO [CONTACTADMIN] Ask your admin' }]
  },
  {
    id: 'imap.code.contactadmin',
    kind: 'response-code',
    match: { responseCodes: ['CONTACTADMIN'] },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.generic + 80,
    rationale: 'Generic. RFC 5530 CONTACTADMIN: the account needs an administrator, most often because it is blocked or disabled.',
    samples: [{ message: 'g NO [CONTACTADMIN] Please call the help desk' }]
  },
  {
    id: 'imap.code.limit',
    kind: 'response-code',
    match: { responseCodes: ['LIMIT'] },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.generic + 80,
    rationale: 'Generic. RFC 5530 LIMIT: an implementation limit (flags, folders, size) was hit for some items.',
    samples: [{ message: 'h NO [LIMIT] Too many keywords' }]
  },
  {
    id: 'imap.code.serverbug',
    kind: 'response-code',
    match: { responseCodes: ['SERVERBUG'] },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.generic + 70,
    rationale: 'Generic. RFC 5530 SERVERBUG: the server broke on the request; it often passes on a retry, else its administrator has to look.',
    samples: [{ message: 'i NO [SERVERBUG] Internal error, see the server log' }]
  },
  {
    id: 'imap.code.folder-refused',
    kind: 'response-code',
    match: { responseCodes: ['NONEXISTENT', 'NOPERM', 'CANNOT', 'ALREADYEXISTS', 'EXPUNGEISSUED'] },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.generic + 70,
    rationale: 'Generic. RFC 5530 NONEXISTENT, NOPERM, CANNOT, ALREADYEXISTS, EXPUNGEISSUED: one folder or message was refused (missing, no rights, bad name, expunged); the rest syncs.',
    samples: [{ message: 'j NO [NONEXISTENT] No such folder: Archive/2011' }, { message: 'j NO [NOPERM] You may not read Shared/Board' }]
  },
  {
    id: 'imap.code.clientbug',
    kind: 'response-code',
    match: { responseCodes: ['CLIENTBUG'] },
    category: 'unclassified',
    side: 'unknown',
    strength: STRENGTH.generic + 70,
    rationale: 'Generic. RFC 5530 CLIENTBUG: the server says the engine sent something wrong (a bug or an option); only the engine side can tell more.',
    samples: [{ message: 'l BAD [CLIENTBUG] Invalid sequence set' }]
  }
]

const LOGIN_TIMEOUT = /\b(?:error login on .{0,200}(?:timed? ?out|timeout)|(?:log ?in|authentication|authenticate) (?:timed out|timeout))\b/i
const M365_NOT_CONNECTED = /\bauthenticated but not connected\b/i
const MAILBOX_MISSING = /\b(?:(?:(?:target|destination|cloud|user|recipient'?s?|Exchange Online|Office 365|Microsoft 365) mailbox|recipient)s? (?:(?:wasn't|was not|isn't|is not|weren't|were not|could not be|couldn't be|can't be|cannot be|can not be|not) found|(?:doesn't|does not|didn't|did not|don't|do not) exist|no longer exists|(?:is|was) (?:missing|non-?existent))|(?:cannot|can ?not|can't|couldn't|could not|unable to|failed to) (?:find|locate) (?:a |the |any )?(?:recipient|(?:target |destination |cloud |user )?mailbox (?:for|with|that|of|GUID))|(?:no|there is no|there's no) (?:such )?(?:recipient|mailbox) (?:with|for|that|matching)|recipient (?:is not|isn't) a mailbox|has no mailbox associated with it|(?:mailbox|user|recipient)(?: .{1,60}?)? (?:is not|isn't|has not been|hasn't been|was not|wasn't) (?:yet )?licensed|mailbox (?:is not|isn't|wasn't|was not|hasn't been|has not been) (?:yet )?(?:provisioned|created)|RecipientNotFound|NonExistentMailbox)\b/i
const MAILBOX_FULL = /\b(?:over (?:the |its |their )?(?:storage |message |mailbox |disk |account )?quota|over (?:the |its |their )?(?:storage|size|mailbox size) limit|mailbox size limit (?:has been |was |is )?(?:reached|exceeded)|(?:mailbox|inbox|account|storage|folder) (?:is |has become |was |is now |has been )?(?:(?:completely|\d{1,3} ?%) )?full|exceed(?:s|ed|ing)? (?:the |its |their |your )?(?:maximum |max |allowed |target |destination |mailbox |storage |user )?(?:mailbox (?:size|quota|storage)|(?:storage |mailbox |disk )?quota|storage limit)|not enough (?:disk |storage )?(?:quota|space|storage)|insufficient (?:storage|quota|space)|free up (?:some )?space|out of (?:storage|quota)|(?:storage|quota) (?:limit )?(?:has been |will be |is |was )?(?:reached|exceeded)|time to find a bigger place)\b|quota ?exceeded/i
const DATABASE_FULL = /\b(?:(?:mailbox )?database(?: on the (?:target|source|destination|server))? (?:is |has become |was |is now )?(?:full|out of (?:disk )?space)|out of disk space on the (?:log|database|transaction log) (?:volume|disk|drive)|(?:database|log|transaction log) (?:disk|volume|drive) (?:is )?full|(?:database|log) (?:disk|volume) (?:has )?(?:run|ran) out of space)\b|JetError(?:Log)?DiskFull/i
const THROTTLED = /\b(?:throttl(?:ed|ing|e)|too many (?:simultaneous |concurrent |parallel |open )?(?:requests|connections|sessions|logins|commands)|rate[- ]?limit(?:ed|ing|s)?|back-?off time|retry-after|(?:bandwidth|download|upload|transfer) (?:limit|quota)s?|maximum number of (?:concurrent |simultaneous )?(?:connections|sessions|requests)|connection limit|more (?:concurrent |simultaneous )?(?:requests|connections|sessions) (?:against the server )?than (?:are )?allowed|maximum (?:bytes transferred|transfer size)|unfavorable server health|budget limitations|stalled due to|exceeded (?:the )?(?:allowed |maximum )?(?:number of )?(?:concurrent |simultaneous )?(?:connections|requests|sessions))\b/i
const TEMPORARY = /\b(?:temporar(?:y|ily) (?:authentication |system |server |local )?(?:failure|error|unavailable|not available)(?! in name resolution)|server (?:is )?(?:too )?busy|(?:service|server|system|account|mailbox store|backend) (?:is |was )?(?:temporarily )?(?:unavailable|not available|offline)|mailbox (?:is |was )?(?:currently )?(?:locked|in use|busy|being moved|in transit)|temporarily postponed|(?:database|server|copy|node) (?:has |have |is )?(?:failed|failing) over|(?:database|store) (?:is |was )?(?:temporarily )?(?:unavailable|offline|dismounted|not mounted|failing over)|(?:AD DS|Active Directory|domain controller) (?:is |was )?(?:unavailable|not available|offline))\b/i
const TOO_LARGE = /\b(?:(?:message|mail|item)s? (?:is |are )?too (?:big|large)|(?:item|message|mail)s? (?:size )?(?:is |are )?(?:larger|bigger|greater) than|maximum size of appendable message|(?:message|item) size exceeds|exceeds? (?:the )?(?:maximum|max|allowed) (?:message |item |allowed message |attachment )?size|maximum (?:message|item) size (?:has been |was )?exceeded|large items?|TooManyLargeItems)\b|MaxSubmissionExceeded/i
const CORRUPT = /\b(?:corrupt(?:ed)? (?:item|message|data)s?|(?:item|message|object|folder|data) (?:is |was |are )?corrupt(?:ed)?|bad items?|TooManyBadItems|contains (?:bare )?(?:NUL|null|invalid|illegal|8-?bit) (?:characters?|bytes?|headers?)|contains bare (?:newlines|CR|LF|carriage returns)|invalid (?:message )?header|(?:content|MIME) conversion failed|malformed (?:message|MIME))\b/i
const MRSPROXY = /\b(?:No MRSProxy (?:was )?found|MRSProxy (?:service )?(?:is )?(?:not|isn't) (?:enabled|running|available|reachable)|could not be determined from the autodiscover|autodiscover (?:failed|request failed|(?:did not|didn't) return))\b/i
const IMAPSYNC_CONNECT = /\bcan ?not open imap connection\b/i
const IMAPSYNC_RIGHT_SERVER = /\bis the right IMAP server to be contacted\b/i
const IMAPSYNC_ITEM = /\b(?:could not (?:be fetched|append|add flags|create folder|select))\b/i
const TRY_AGAIN_LATER = /\b(?:try (?:again|your request again|the request again|the operation again) later|retry later)\b/i

const WORDING_RULES: readonly ClassifierRule[] = [
  // Honest doubt first, so that the answer's rule id shows it.
  {
    id: 'text.login-timeout.host2.ambiguous',
    kind: 'wording',
    match: { pattern: LOGIN_TIMEOUT, host: 2 },
    category: 'cloud_sign_in_failed',
    side: 'cloud',
    alsoPossible: ['cloud_unreachable'],
    strength: STRENGTH.wording + 95,
    rationale: 'Ambiguous: the cloud login timed out; imapsync counts it as a refused login, but a slow or unreachable server gives the same line.',
    samples: [{ message: 'Host2 failure: Error login on [imap.example.net] with user [kit@example.net] auth [PLAIN]: timeout waiting 60s for data from server' }]
  },
  {
    id: 'text.login-timeout.ambiguous',
    kind: 'wording',
    match: { pattern: LOGIN_TIMEOUT },
    category: 'source_sign_in_failed',
    side: 'source',
    alsoPossible: ['source_unreachable'],
    strength: STRENGTH.wording + 94,
    rationale: 'Ambiguous: the login timed out; counted as a refused login, as imapsync does, but a slow or unreachable server gives the same line.',
    samples: [{ message: 'Authentication timeout: no answer from the IMAP backend' }]
  },
  {
    id: 'ms365.not-connected.host1.ambiguous',
    kind: 'wording',
    match: { pattern: M365_NOT_CONNECTED, host: 1 },
    category: 'source_sign_in_failed',
    side: 'source',
    alsoPossible: ['cloud_sign_in_failed'],
    strength: STRENGTH.wording + 86,
    rationale: "Ambiguous: Microsoft 365's answer when a login succeeds but the mailbox cannot be opened (IMAP off for it, no licence or mailbox, a shared-mailbox login); here on the source side.",
    samples: [{ message: 'Host1: 5 BAD User is authenticated but not connected.' }]
  },
  {
    id: 'ms365.not-connected.ambiguous',
    kind: 'wording',
    match: { pattern: M365_NOT_CONNECTED },
    category: 'cloud_sign_in_failed',
    side: 'cloud',
    alsoPossible: ['source_sign_in_failed'],
    strength: STRENGTH.wording + 85,
    rationale: "Ambiguous: Microsoft 365's answer when a login succeeds but the mailbox cannot be opened (IMAP off for it, no licence or mailbox, a shared-mailbox login); Microsoft 365 is usually the target, but it can be the source.",
    samples: [{ message: 'BAD User is authenticated but not connected' }]
  },

  // Wording: causes first.
  {
    id: 'text.database-full',
    kind: 'wording',
    match: { pattern: DATABASE_FULL },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.wording + 70,
    rationale: "A server's mailbox database or log disk is out of space, not the user's quota: its operator has to make room (or, online, the service moves the mailbox).",
    samples: [{ message: 'The mailbox database is full; the move will continue later' }, { message: 'MapiExceptionJetErrorLogDiskFull: Unable to save changes.' }]
  },
  {
    id: 'text.throttled',
    kind: 'wording',
    match: { pattern: THROTTLED },
    category: 'throttled',
    side: 'either',
    strength: STRENGTH.wording + 60,
    rationale: 'A server limits how fast or how many: back off and retry.',
    samples: [{ message: 'NO [OVERQUOTA] Account exceeded command or bandwidth limits. (Failure)' }, { message: '* BYE Too many concurrent sessions for this account' }, { message: 'Maximum bytes transferred reached, relaunch to go on' }]
  },
  {
    id: 'text.temporary-failure',
    kind: 'wording',
    match: { pattern: TEMPORARY },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.wording + 55,
    rationale: 'The server says the failure is temporary (busy, offline, failing over, mailbox locked): retry.',
    samples: [{ message: 'NO Temporary authentication failure. [host01:2024-03-01 10:00:00]' }, { message: 'The server is busy right now' }]
  },
  {
    id: 'text.tls.host2',
    kind: 'wording',
    match: { pattern: anyOf(TLS, PLAINTEXT), host: 2 },
    category: 'cloud_unreachable',
    side: 'cloud',
    strength: STRENGTH.wording + 52,
    rationale: 'A TLS failure reported against Host2 or the target: the cloud endpoint could not be reached securely.',
    samples: [{ message: 'Host2 failure: SSL connect attempt failed: certificate verify failed' }, { message: 'The certificate of the destination server is not trusted' }]
  },
  {
    id: 'text.tls',
    kind: 'wording',
    match: { pattern: TLS },
    category: 'source_tls_failed',
    side: 'source',
    strength: STRENGTH.wording + 50,
    rationale: 'Certificate or TLS handshake trouble: fix the certificate or the TLS settings.',
    samples: [{ message: 'self-signed certificate in certificate chain' }, { message: 'SSL routines:tls_process_server_hello:wrong version number' }]
  },
  {
    id: 'text.plaintext-login-disabled',
    kind: 'wording',
    match: { pattern: PLAINTEXT },
    category: 'source_tls_failed',
    side: 'source',
    strength: STRENGTH.wording + 50,
    rationale: 'The server only accepts a login over TLS: turn encryption on in the connection settings.',
    samples: [{ message: '* CAPABILITY IMAP4rev1 LOGINDISABLED STARTTLS' }, { message: 'NO Plain text login is not permitted without encryption' }]
  },
  {
    id: 'text.sign-in.host2',
    kind: 'wording',
    match: { pattern: anyOf(LOGIN_FAILED, ACCESS_DENIED, APP_PASSWORD, IMPERSONATION, PROTOCOL_OFF), host: 2 },
    category: 'cloud_sign_in_failed',
    side: 'cloud',
    strength: STRENGTH.wording + 46,
    rationale: 'A refused login reported against Host2/user2 or the target/destination is the cloud account.',
    samples: [{ message: 'Host2 failure: Error login on [imap.example.net] with user [kim@example.net]: NO Invalid credentials' }, { message: 'The destination account has been disabled' }]
  },
  {
    id: 'text.mailbox-full',
    kind: 'wording',
    match: { pattern: MAILBOX_FULL },
    category: 'cloud_mailbox_full',
    side: 'cloud',
    strength: STRENGTH.wording + 54,
    rationale: 'The mailbox copied into has no room left: free up space or raise the quota.',
    samples: [{ message: 'NO Not enough disk quota' }, { message: 'Item rejected: it exceeds target quota for lena@example.net' }]
  },
  {
    id: 'text.app-password',
    kind: 'wording',
    match: { pattern: APP_PASSWORD },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.wording + 45,
    rationale: 'The source provider refuses the ordinary password (two-step verification, basic auth off): use an app password.',
    samples: [{ message: 'NO [ALERT] Please log in via your web browser' }, { message: 'An app password is needed for this account' }]
  },
  {
    id: 'text.imap-disabled',
    kind: 'wording',
    match: { pattern: PROTOCOL_OFF },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.wording + 45,
    rationale: 'IMAP access is turned off for the account: enable it in the provider\'s settings for that user.',
    samples: [{ message: 'NO This account is not enabled for IMAP; ask your provider' }]
  },
  {
    id: 'text.impersonation-denied',
    kind: 'wording',
    match: { pattern: IMPERSONATION },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.wording + 45,
    rationale: 'The migration (super-user) account lacks the right to act as the mailbox owner.',
    samples: [{ message: 'The admin is not an administrator of that domain' }, { message: 'Impersonation denied for the service account' }]
  },
  {
    id: 'text.mailbox-missing',
    kind: 'wording',
    match: { pattern: MAILBOX_MISSING },
    category: 'cloud_mailbox_missing',
    side: 'cloud',
    strength: STRENGTH.wording + 40,
    rationale: 'The mailbox to copy into does not exist: provision it first.',
    samples: [{ message: 'The target mailbox does not exist for bob@fabrikam.com' }, { message: "Couldn't find a recipient with mailbox GUID 9b1d7c52-3f0a-4c6e-8d21-77a0b3c4e5f6" }]
  },
  {
    id: 'text.sign-in-failed',
    kind: 'wording',
    match: { pattern: LOGIN_FAILED },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.wording + 40,
    rationale: 'A refused login (bad password, expired, disabled or locked account), on the source unless the message names Host2 or the target.',
    samples: [{ message: 'LOGIN Authentication failed for user lee' }, { message: "We couldn't sign in with the credentials provided" }, { message: 'Your password had expired on Monday' }]
  },
  {
    id: 'text.access-denied',
    kind: 'wording',
    match: { pattern: ACCESS_DENIED },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.wording + 35,
    rationale: 'The migration account was refused access: credentials or permissions.',
    samples: [{ message: 'The remote server returned an error: (401) Unauthorized.' }]
  },
  {
    id: 'text.message-too-large',
    kind: 'wording',
    match: { pattern: TOO_LARGE },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.wording + 30,
    rationale: 'An item is too big for the target; it is left out and the rest keeps syncing.',
    samples: [{ message: 'NO Message too large for this folder' }, { message: 'The item exceeds the maximum message size' }]
  },
  {
    id: 'text.virus',
    kind: 'wording',
    match: { pattern: /\b(?:virus|malware|infected|contains a threat)\b/i },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.wording + 30,
    rationale: 'The target refused an infected item; it is left out.',
    samples: [{ message: 'NO Malware detected in attachment' }]
  },
  {
    id: 'text.corrupt-item',
    kind: 'wording',
    match: { pattern: CORRUPT },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.wording + 30,
    rationale: 'An item is corrupt or malformed (bad MIME, NUL bytes) and could not be copied; it is left out.',
    samples: [{ message: 'Skipping corrupted message in folder Inbox' }, { message: 'NO Body contains bare NUL bytes' }]
  },

  // Wording: imapsync's own lines and hints, then symptoms last.
  {
    id: 'text.mrsproxy-unreachable',
    kind: 'wording',
    match: { pattern: MRSPROXY },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.wording + 28,
    rationale: "The on-premises migration endpoint (MRS proxy, found by Autodiscover) can't be found or isn't enabled.",
    samples: [{ message: 'The MRSProxy service is not enabled on owa.fabrikam.lan' }]
  },
  {
    id: 'imapsync.line.connect.host2',
    kind: 'wording',
    match: { pattern: IMAPSYNC_CONNECT, host: 2 },
    category: 'cloud_unreachable',
    side: 'cloud',
    strength: STRENGTH.wording + 26,
    rationale: "imapsync's connection failure line for Host2: the cloud server could not be reached.",
    samples: [{ message: 'Host2 failure: can not open imap connection on host2 [imap.example.net] with user [lou@example.net]: Connection timed out' }]
  },
  {
    id: 'imapsync.line.connect',
    kind: 'wording',
    match: { pattern: IMAPSYNC_CONNECT },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.wording + 24,
    rationale: "imapsync's connection failure line, for Host1 unless it names Host2.",
    samples: [{ message: 'Host1 failure: can not open imap connection on host1 [10.4.0.9] with user [mo]: Network is unreachable' }]
  },
  {
    id: 'imapsync.hint.right-server.ambiguous',
    kind: 'wording',
    match: { pattern: IMAPSYNC_RIGHT_SERVER },
    category: 'source_unreachable',
    side: 'source',
    alsoPossible: ['cloud_unreachable'],
    strength: STRENGTH.wording + 22,
    rationale: "Ambiguous: imapsync's hint after a connection failure; its Host2 variant also says host1 (an upstream typo), so the side it names cannot be trusted.",
    samples: [{ message: 'Check that host1 imap.fabrikam.lan on port 143 is the right IMAP server to be contacted for your mailbox.' }]
  },
  {
    id: 'text.connection-closed.host2.ambiguous',
    kind: 'wording',
    match: { pattern: CLOSED, host: 2 },
    category: 'cloud_unreachable',
    side: 'cloud',
    alsoPossible: ['server_busy'],
    strength: STRENGTH.wording + 49,
    rationale: 'Ambiguous: Host2 or the target hung up (BYE, socket closed); a network failure or a server shedding load looks the same.',
    samples: [{ message: 'Host2: * BYE Server shutting down, closing connection' }]
  },
  {
    id: 'text.connection-closed.ambiguous',
    kind: 'wording',
    match: { pattern: CLOSED },
    category: 'source_unreachable',
    side: 'source',
    alsoPossible: ['server_busy'],
    strength: STRENGTH.wording + 48,
    rationale: 'Ambiguous: the server hung up (BYE, socket closed, connection lost); a network failure or a server shedding load looks the same.',
    samples: [{ message: '* BYE idle for too long, closing' }, { message: 'Connection closed by foreign host.' }]
  },
  {
    id: 'imapsync.line.item-failed',
    kind: 'wording',
    match: { pattern: IMAPSYNC_ITEM },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.wording + 47,
    rationale: "imapsync's per-message and per-folder lines (could not be fetched, append, add flags, create folder, select): that item was left out, the rest copied.",
    samples: [{ message: '- msg Projects/7 {1200} S[1200] F[] I[01-Mar-2024 10:00:00 +0000] could not be fetched: NO Server error' }, { message: 'Host2: Could not create folder [Old/2009]: NO Invalid mailbox name' }]
  },
  {
    id: 'text.unreachable.host2',
    kind: 'wording',
    match: { pattern: anyOf(DNS, REFUSED, TIMED_OUT, CANNOT_CONNECT), host: 2 },
    category: 'cloud_unreachable',
    side: 'cloud',
    strength: STRENGTH.wording + 18,
    rationale: 'A connection failure reported against Host2 or the target/destination is the cloud server.',
    samples: [{ message: 'Host2 failure: connect to [imap.example.net]: Connection timed out' }, { message: "Couldn't connect to the destination server" }]
  },
  {
    id: 'text.dns-failure',
    kind: 'wording',
    match: { pattern: DNS },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.wording + 16,
    rationale: 'The server name does not resolve: check the host name in the connection settings.',
    samples: [{ message: 'Temporary failure in name resolution' }, { message: 'imap.fabrikam.lan: Name or service not known' }]
  },
  {
    id: 'text.connection-refused',
    kind: 'wording',
    match: { pattern: REFUSED },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.wording + 14,
    rationale: 'Nothing accepts connections at that address: server down, wrong port or a firewall.',
    samples: [{ message: 'read ECONNRESET' }, { message: 'No route to host' }]
  },
  {
    id: 'text.timed-out',
    kind: 'wording',
    match: { pattern: TIMED_OUT },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.wording + 12,
    rationale: 'The server did not answer in time: down, overloaded or filtered.',
    samples: [{ message: 'Operation timed out after 60000 ms' }]
  },
  {
    id: 'text.cannot-connect',
    kind: 'wording',
    match: { pattern: CANNOT_CONNECT },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.wording + 4,
    rationale: 'The engine says it could not connect, without saying why.',
    samples: [{ message: 'Unable to connect to imap.fabrikam.lan:143' }, { message: "The connection to the server 'owa.fabrikam.lan' could not be established." }]
  },
  {
    id: 'text.mailbox-does-not-exist.ambiguous',
    kind: 'wording',
    match: { pattern: /\bmailbox (?:doesn't|does not|didn't|did not) exist\b/i },
    category: 'cloud_mailbox_missing',
    side: 'cloud',
    alsoPossible: ['items_skipped'],
    strength: STRENGTH.wording + 6,
    rationale: "Ambiguous: in Exchange and Graph a mailbox that does not exist is the user's, missing on the target; in IMAP a 'mailbox' is a folder, and then only that folder is skipped.",
    samples: [{ message: 'ServiceResponseException: Mailbox does not exist.' }]
  },
  {
    id: 'text.try-again-later',
    kind: 'wording',
    match: { pattern: TRY_AGAIN_LATER },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.wording + 1,
    rationale: 'The only hint is advice to try again later: read as a passing server condition, below any wording that names a cause.',
    samples: [{ message: 'Something went wrong. Please try again later.' }]
  }
]

export const CLASSIFIER_RULES: readonly ClassifierRule[] = Object.freeze([
  ...IMAPSYNC_RULES,
  ...EXCHANGE_RULES,
  ...RESPONSE_CODE_RULES,
  ...WORDING_RULES
])
