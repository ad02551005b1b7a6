// The classifier's rule table: data only, read by the engine in classifier.ts.
import type { CategoryId, Side } from './types.js'

export type RuleKind = 'code' | 'response-code' | 'wording'

/**
 * imapsync's numbering: Host1/user1 is the on-premises source, Host2/user2 the cloud target.
 * A rule with `host` only applies when the first Host1/user1/Host2/user2 the message names is that one.
 */
export type Host = 1 | 2

export interface CodeMatch {
  /** Compared case-insensitively with the event's `code` (trimmed, namespace dropped). */
  codes: readonly string[]
  /** Engines that use these codes; the rule also applies when the event names no engine. */
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
  rationale: string
  samples: readonly [RuleSample, ...RuleSample[]]
}

export type ClassifierRule =
  | (RuleBase & { kind: 'code', match: CodeMatch })
  | (RuleBase & { kind: 'response-code', match: ResponseCodeMatch })
  | (RuleBase & { kind: 'wording', match: WordingMatch })

/**
 * Precedence, strongest first (an explicit `category` on the event beats all of these):
 *   code 500-599 > response code 400-499 > wording 300-399 > generic 100-199 > fallback.
 * Within a tier, a rule qualified by Host2 sits above its unqualified twin, and wording that names a
 * cause (certificate, throttling, credentials) sits above wording that only names a symptom
 * (timed out, could not connect), because engines often report both in one message.
 * Generic rules are codes and response codes that servers reuse for several causes
 * (MigrationTransientException, [UNAVAILABLE], Gmail's [OVERQUOTA] for bandwidth): they only
 * decide when no specific rule, wording included, matches.
 */
export const STRENGTH = {
  code: 500,
  responseCode: 400,
  wording: 300,
  generic: 100
} as const

const IMAPSYNC = ['imapsync'] as const

function anyOf (...patterns: readonly RegExp[]): RegExp {
  return new RegExp(patterns.map((pattern) => pattern.source).join('|'), 'i')
}

const LOGIN_FAILED = /\b(?:authentication (?:failed|failure|unsuccessful)|log ?in (?:failed|failure|denied|incorrect|rejected)|logon failure|error login|invalid (?:credentials|password|user ?name or password|login)|(?:wrong|incorrect|bad) (?:user ?name or )?(?:password|credentials)|password (?:is )?(?:incorrect|expired|wrong)|(?:trouble|problem) signing in|(?:couldn't|could not|unable to|can ?not|can't|failed to) (?:sign|log) ?(?:in|on)|correct user ?name and password|account (?:is )?(?:disabled|locked))\b/i
const ACCESS_DENIED = /\b(?:access (?:is )?denied|unauthori[sz]ed|not authori[sz]ed|permission denied)\b/i
const APP_PASSWORD = /\b(?:app(?:lication)?[- ]specific password|app password|special credentials are required|log ?in via your web browser|basic authentication (?:is )?(?:disabled|blocked|not supported))\b/i
const IMPERSONATION = /\b(?:does not have permission to impersonate|(?:is )?not allowed to impersonate|impersonat(?:e|ion) (?:user )?(?:is )?denied|(?:authenticator|admin|administrator|super ?user|master user) is not an? (?:admin|administrator|master user))\b/i
const TLS = /\b(?:certificates?|x\.?509|SSL (?:connect|handshake|routines|error|negotiation)|TLS (?:handshake|negotiation|failure|error|alert)|handshake (?:failed|failure)|self[- _]signed|can ?not go to tls|starttls (?:failed|failure|error)|unknown ca|wrong version number|no shared cipher|ERR_TLS_CERT\w{1,40})\b/i
const PLAINTEXT = /\b(?:plain ?text (?:authentication|login|auth) (?:is )?(?:disallowed|not allowed|disabled|not permitted)|LOGINDISABLED|(?:ssl|tls|starttls|encryption) (?:is )?required|must issue a STARTTLS)\b/i
const DNS = /\b(?:ENOTFOUND|EAI_AGAIN|getaddrinfo|name or service not known|(?:could not|couldn't|unable to|failed to) resolve|no such host|unknown host|host not found|(?:name|DNS) resolution|nodename nor servname)\b/i
const REFUSED = /\b(?:connection (?:was )?(?:refused|reset|aborted|closed by (?:the )?(?:remote )?(?:host|server|peer))|ECONNREFUSED|ECONNRESET|ECONNABORTED|EHOSTUNREACH|ENETUNREACH|no route to host|(?:network|host) is unreachable)\b/i
const TIMED_OUT = /\b(?:timed? ?out|timeout|ETIMEDOUT|ESOCKETTIMEDOUT)\b/i
const CANNOT_CONNECT = /\b(?:(?:could not|couldn't|can ?not|can't|unable to|failed to|(?:were|was)(?: not|n't) able to) (?:connect|reach (?:the )?(?:remote )?server|open (?:an? )?(?:imap |network |tcp )?connection|establish (?:a )?connection)|connection to the server .{0,160}could not be (?:completed|established)|connection failed)\b/i

export const CLASSIFIER_RULES: readonly ClassifierRule[] = Object.freeze([
  // imapsync exit statuses (imapsync's own EXIT_* constants; the symbolic name is accepted as code too).
  {
    id: 'imapsync.exit.10.host2',
    kind: 'code',
    match: { codes: ['10', 'EXIT_CONNECTION_FAILURE'], engines: IMAPSYNC, host: 2 },
    category: 'cloud_unreachable',
    side: 'cloud',
    strength: STRENGTH.code + 10,
    rationale: 'EXIT_CONNECTION_FAILURE does not say which host; the message blames Host2, the cloud target.',
    samples: [{ code: '10', message: 'Host2 failure: can not open imap connection on host2 [imap.example.net] with user [dan@example.net]: Network unreachable' }]
  },
  {
    id: 'imapsync.exit.10',
    kind: 'code',
    match: { codes: ['10', 'EXIT_CONNECTION_FAILURE'], engines: IMAPSYNC },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.code,
    rationale: 'EXIT_CONNECTION_FAILURE: imapsync could not connect; it opens Host1, the source, first.',
    samples: [{ code: '10', message: 'Host1: connection to [192.168.4.10] lost while reading the greeting' }, { code: 'EXIT_CONNECTION_FAILURE', message: 'could not reach the server' }]
  },
  {
    id: 'imapsync.exit.12.host2',
    kind: 'code',
    match: { codes: ['12', 'EXIT_TLS_FAILURE'], engines: IMAPSYNC, host: 2 },
    category: 'cloud_unreachable',
    side: 'cloud',
    strength: STRENGTH.code + 10,
    rationale: 'EXIT_TLS_FAILURE on Host2: the cloud endpoint could not be reached securely (there is no cloud TLS category).',
    samples: [{ code: '12', message: 'Host2 failure: Can not go to tls encryption on host2 [imap.example.net]' }]
  },
  {
    id: 'imapsync.exit.12',
    kind: 'code',
    match: { codes: ['12', 'EXIT_TLS_FAILURE'], engines: IMAPSYNC },
    category: 'source_tls_failed',
    side: 'source',
    strength: STRENGTH.code,
    rationale: 'EXIT_TLS_FAILURE: the TLS negotiation failed, on Host1 unless the message names Host2.',
    samples: [{ code: '12', message: 'Host1 failure: STARTTLS negotiation with [imap.fabrikam.lan] failed' }]
  },
  {
    id: 'imapsync.exit.16.host2',
    kind: 'code',
    match: { codes: ['16', 'EXIT_AUTHENTICATION_FAILURE'], engines: IMAPSYNC, host: 2 },
    category: 'cloud_sign_in_failed',
    side: 'cloud',
    strength: STRENGTH.code + 10,
    rationale: 'EXIT_AUTHENTICATION_FAILURE does not say which account; the message blames Host2/user2, the cloud account.',
    samples: [{ code: '16', message: 'Host2 failure: Error login on [imap.example.net] with user [erin@example.net] auth [PLAIN]: 3 NO bad password' }]
  },
  {
    id: 'imapsync.exit.16',
    kind: 'code',
    match: { codes: ['16', 'EXIT_AUTHENTICATION_FAILURE'], engines: IMAPSYNC },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.code,
    rationale: 'EXIT_AUTHENTICATION_FAILURE: a login was refused, on Host1 unless the message names Host2.',
    samples: [{ code: '16', message: 'Host1 failure: Error login on [imap.fabrikam.lan] with user [frank] auth [LOGIN]' }, { code: '16', message: 'login refused' }]
  },
  {
    id: 'imapsync.exit.101',
    kind: 'code',
    match: { codes: ['101', 'EXIT_CONNECTION_FAILURE_HOST1'], engines: IMAPSYNC },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.code,
    rationale: 'EXIT_CONNECTION_FAILURE_HOST1: no connection to the on-premises server.',
    samples: [{ code: '101', message: 'Host1 failure: can not open imap connection on host1 [imap.fabrikam.lan] with user [gina]: No route to host' }]
  },
  {
    id: 'imapsync.exit.102',
    kind: 'code',
    match: { codes: ['102', 'EXIT_CONNECTION_FAILURE_HOST2'], engines: IMAPSYNC },
    category: 'cloud_unreachable',
    side: 'cloud',
    strength: STRENGTH.code,
    rationale: 'EXIT_CONNECTION_FAILURE_HOST2: no connection to the cloud server.',
    samples: [{ code: '102', message: 'Host2 failure: can not open imap connection on host2 [imap.example.net]: Connection reset by peer' }]
  },
  {
    id: 'imapsync.exit.111',
    kind: 'code',
    match: { codes: ['111', 'EXIT_WITH_ERRORS'], engines: IMAPSYNC },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.generic + 90,
    rationale: 'Generic. EXIT_WITH_ERRORS: the sync finished but some messages failed; the error lines, when present, say why.',
    samples: [{ code: '111', message: 'Exiting with return value 111 (EXIT_WITH_ERRORS) 3/50 nb_errors/max_errors' }]
  },
  {
    id: 'imapsync.exit.112',
    kind: 'code',
    match: { codes: ['112', 'EXIT_WITH_ERRORS_MAX'], engines: IMAPSYNC },
    category: 'unclassified',
    side: 'unknown',
    strength: STRENGTH.generic + 90,
    rationale: 'Generic. EXIT_WITH_ERRORS_MAX: imapsync gave up after too many errors; only its error lines tell the cause.',
    samples: [{ code: '112', message: 'Maximum number of errors 50 reached, stopping' }]
  },
  {
    id: 'imapsync.exit.113',
    kind: 'code',
    match: { codes: ['113', 'EXIT_OVERQUOTA'], engines: IMAPSYNC },
    category: 'cloud_mailbox_full',
    side: 'cloud',
    strength: STRENGTH.code,
    rationale: 'EXIT_OVERQUOTA: Host2, the cloud mailbox, refused messages for lack of space.',
    samples: [{ code: '113', message: '- msg Archive/2019/77 could not append to folder Archive/2019: NO storage exhausted' }]
  },
  {
    id: 'imapsync.exit.114',
    kind: 'code',
    match: { codes: ['114', 'EXIT_ERR_APPEND'], engines: IMAPSYNC },
    category: 'items_skipped',
    side: 'cloud',
    strength: STRENGTH.code,
    rationale: 'EXIT_ERR_APPEND: Host2 refused some messages (mostly too big); the others were copied.',
    samples: [{ code: '114', message: '- msg Drafts/9 could not append to folder Drafts: NO message rejected' }]
  },
  {
    id: 'imapsync.exit.115',
    kind: 'code',
    match: { codes: ['115', 'EXIT_ERR_FETCH'], engines: IMAPSYNC },
    category: 'items_skipped',
    side: 'source',
    strength: STRENGTH.code,
    rationale: 'EXIT_ERR_FETCH: some messages could not be read from Host1 and were left out.',
    samples: [{ code: '115', message: 'Host1: could not fetch message UID 3390 in folder Projects' }]
  },
  {
    id: 'imapsync.exit.116',
    kind: 'code',
    match: { codes: ['116', 'EXIT_ERR_CREATE'], engines: IMAPSYNC },
    category: 'items_skipped',
    side: 'cloud',
    strength: STRENGTH.code,
    rationale: 'EXIT_ERR_CREATE: some folders could not be created on Host2; their messages were left out.',
    samples: [{ code: '116', message: 'Host2: could not create folder [Old/Stuff]' }]
  },
  {
    id: 'imapsync.exit.117',
    kind: 'code',
    match: { codes: ['117', 'EXIT_ERR_SELECT'], engines: IMAPSYNC },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'EXIT_ERR_SELECT: some folders could not be opened; their messages were left out.',
    samples: [{ code: '117', message: 'could not select folder Shared/Team' }]
  },
  {
    id: 'imapsync.exit.118',
    kind: 'code',
    match: { codes: ['118', 'EXIT_TRANSFER_EXCEEDED'], engines: IMAPSYNC },
    category: 'throttled',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'EXIT_TRANSFER_EXCEEDED: the transfer cap (--exitwhenover, set for provider daily limits) was reached; the next run continues.',
    samples: [{ code: '118', message: 'Stopping: transferred 2.4 GiB, more than asked' }]
  },
  {
    id: 'imapsync.exit.119',
    kind: 'code',
    match: { codes: ['119', 'EXIT_ERR_APPEND_VIRUS'], engines: IMAPSYNC },
    category: 'items_skipped',
    side: 'cloud',
    strength: STRENGTH.code,
    rationale: 'EXIT_ERR_APPEND_VIRUS: Host2 refused messages it flagged as infected; the others were copied.',
    samples: [{ code: '119', message: '- msg Junk/4 could not append to folder Junk: NO rejected by content scanner' }]
  },
  {
    id: 'imapsync.exit.120',
    kind: 'code',
    match: { codes: ['120', 'EXIT_ERR_FLAGS'], engines: IMAPSYNC },
    category: 'items_skipped',
    side: 'cloud',
    strength: STRENGTH.code,
    rationale: 'EXIT_ERR_FLAGS: flags could not be stored on Host2; the messages themselves were copied.',
    samples: [{ code: '120', message: 'Host2: STORE +FLAGS (\\Seen $Label1) failed' }]
  },
  {
    id: 'imapsync.exit.161',
    kind: 'code',
    match: { codes: ['161', 'EXIT_AUTHENTICATION_FAILURE_USER1'], engines: IMAPSYNC },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.code,
    rationale: 'EXIT_AUTHENTICATION_FAILURE_USER1: the on-premises account was refused.',
    samples: [{ code: '161', message: 'Host1 failure: Error login on [imap.fabrikam.lan] with user [hugo]: NO LOGIN Invalid login' }]
  },
  {
    id: 'imapsync.exit.162',
    kind: 'code',
    match: { codes: ['162', 'EXIT_AUTHENTICATION_FAILURE_USER2'], engines: IMAPSYNC },
    category: 'cloud_sign_in_failed',
    side: 'cloud',
    strength: STRENGTH.code,
    rationale: 'EXIT_AUTHENTICATION_FAILURE_USER2: the cloud account was refused.',
    samples: [{ code: '162', message: 'Host2 failure: Error login on [imap.example.net] with user [ivy@example.net]: NO AUTHENTICATE failed' }]
  },

  // EWS response codes.
  {
    id: 'ews.quota-exceeded',
    kind: 'code',
    match: { codes: ['ErrorQuotaExceeded'] },
    category: 'cloud_mailbox_full',
    side: 'cloud',
    strength: STRENGTH.code,
    rationale: 'ErrorQuotaExceeded: the target mailbox has no room left.',
    samples: [{ code: 'ErrorQuotaExceeded', message: 'The item could not be saved.' }]
  },
  {
    id: 'ews.access-denied',
    kind: 'code',
    match: { codes: ['ErrorAccessDenied'] },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.code,
    rationale: 'ErrorAccessDenied: the migration account lacks rights to the source mailbox.',
    samples: [{ code: 'ErrorAccessDenied', message: 'The request failed.' }]
  },
  {
    id: 'ews.impersonation-denied',
    kind: 'code',
    match: { codes: ['ErrorImpersonateUserDenied', 'ErrorImpersonationDenied'] },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.code,
    rationale: 'The migration (super-user) account may not impersonate the mailbox owner: a permission to grant.',
    samples: [{ code: 'ErrorImpersonationDenied', message: 'The server rejected the request.' }]
  },
  {
    id: 'ews.server-busy',
    kind: 'code',
    match: { codes: ['ErrorServerBusy'] },
    category: 'throttled',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'ErrorServerBusy is how EWS throttles: it comes with a back-off time.',
    samples: [{ code: 'ErrorServerBusy', message: 'BackOffMilliseconds: 120000' }]
  },
  {
    id: 'ews.store-unavailable',
    kind: 'code',
    match: { codes: ['ErrorMailboxStoreUnavailable', 'ErrorInternalServerTransientError', 'ErrorMailboxMoveInProgress'] },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'The mailbox database is offline, failing over or being moved: transient.',
    samples: [{ code: 'ErrorInternalServerTransientError', message: 'An internal server error occurred. Try again.' }]
  },
  {
    id: 'ews.non-existent-mailbox',
    kind: 'code',
    match: { codes: ['ErrorNonExistentMailbox'] },
    category: 'cloud_mailbox_missing',
    side: 'cloud',
    strength: STRENGTH.code,
    rationale: 'ErrorNonExistentMailbox: the mailbox the sync writes to does not exist.',
    samples: [{ code: 'ErrorNonExistentMailbox', message: 'The SMTP address has no mailbox associated with it.' }]
  },
  {
    id: 'ews.connection-failed',
    kind: 'code',
    match: { codes: ['ErrorConnectionFailed', 'ErrorTimeoutExpired'] },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.code,
    rationale: 'The EWS endpoint of the source did not answer in time or at all.',
    samples: [{ code: 'ErrorConnectionFailed', message: 'The request failed.' }]
  },
  {
    id: 'ews.message-size-exceeded',
    kind: 'code',
    match: { codes: ['ErrorMessageSizeExceeded'] },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'An item is larger than the server accepts; it is left out.',
    samples: [{ code: 'ErrorMessageSizeExceeded', message: 'The message exceeds the limit.' }]
  },

  // Exchange (MRS) exception names.
  {
    id: 'exchange.too-many-large-items',
    kind: 'code',
    match: { codes: ['TooManyLargeItemsPermanentException', 'TooManyBadItemsPermanentException'] },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.code,
    rationale: 'Items over the size limit, or corrupt, exceeded the allowed count: they have to be handled or allowed by hand.',
    samples: [{ code: 'TooManyBadItemsPermanentException', message: 'FailureType : TooManyBadItemsPermanentException' }]
  },
  {
    id: 'exchange.recipient-not-found',
    kind: 'code',
    match: { codes: ['RecipientNotFoundPermanentException'] },
    category: 'cloud_mailbox_missing',
    side: 'cloud',
    strength: STRENGTH.code,
    rationale: 'The target recipient the migration writes to was never created.',
    samples: [{ code: 'RecipientNotFoundPermanentException', message: 'Error: RecipientNotFoundPermanentException' }]
  },
  {
    id: 'exchange.communication-error',
    kind: 'code',
    match: { codes: ['CommunicationErrorTransientException', 'CommunicationErrorPermanentException'] },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.generic + 90,
    rationale: 'Generic. MRS wraps every failed call to the source endpoint in it, refused credentials included; the wording says which.',
    samples: [{ code: 'CommunicationErrorTransientException', message: "The call to 'https://owa.fabrikam.lan/EWS/mrsproxy.svc' failed." }]
  },
  {
    id: 'exchange.migration-transient',
    kind: 'code',
    match: { codes: ['MigrationTransientException', 'StorageTransientException'] },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.generic + 90,
    rationale: 'Generic. Only says the failure may pass; the wording usually names the real cause.',
    samples: [{ code: 'MigrationTransientException', message: 'MigrationTransientException: An error occurred. The operation will be retried.' }]
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
  },

  // IMAP response codes (RFC 5530, RFC 4469) found in the message.
  {
    id: 'imap.code.sign-in.host2',
    kind: 'response-code',
    match: { responseCodes: ['AUTHENTICATIONFAILED', 'AUTHORIZATIONFAILED', 'EXPIRED'], host: 2 },
    category: 'cloud_sign_in_failed',
    side: 'cloud',
    strength: STRENGTH.responseCode + 10,
    rationale: 'A refused login reported against Host2/user2 is the cloud account.',
    samples: [{ message: 'Host2 failure: Error login on [imap.example.net] with user [jo@example.net]: 1 NO [AUTHENTICATIONFAILED] Invalid login' }]
  },
  {
    id: 'imap.code.authenticationfailed',
    kind: 'response-code',
    match: { responseCodes: ['AUTHENTICATIONFAILED'] },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.responseCode,
    rationale: 'RFC 5530: wrong user name or password.',
    samples: [{ message: 'A3 NO [AUTHENTICATIONFAILED] Bad username or password' }]
  },
  {
    id: 'imap.code.authorizationfailed',
    kind: 'response-code',
    match: { responseCodes: ['AUTHORIZATIONFAILED'] },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.responseCode,
    rationale: 'RFC 5530: authenticated, but may not act as that user (the super-user or proxy rights).',
    samples: [{ message: '7 NO [AUTHORIZATIONFAILED] Proxy login not permitted' }]
  },
  {
    id: 'imap.code.expired',
    kind: 'response-code',
    match: { responseCodes: ['EXPIRED'] },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.responseCode,
    rationale: 'RFC 5530: the password or account has expired.',
    samples: [{ message: 'x NO [EXPIRED] Account has lapsed' }]
  },
  {
    id: 'imap.code.privacyrequired',
    kind: 'response-code',
    match: { responseCodes: ['PRIVACYREQUIRED'] },
    category: 'source_tls_failed',
    side: 'source',
    strength: STRENGTH.responseCode,
    rationale: 'RFC 5530: the server refuses to proceed without an encrypted connection.',
    samples: [{ message: 'b NO [PRIVACYREQUIRED] Connection is not secure' }]
  },
  {
    id: 'imap.code.inuse',
    kind: 'response-code',
    match: { responseCodes: ['INUSE'] },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.responseCode,
    rationale: 'RFC 5530: another session holds the resource; it frees up by itself.',
    samples: [{ message: 'c NO [INUSE] Folder busy, retry' }]
  },
  {
    id: 'imap.code.toobig',
    kind: 'response-code',
    match: { responseCodes: ['TOOBIG'] },
    category: 'items_skipped',
    side: 'cloud',
    strength: STRENGTH.responseCode,
    rationale: 'RFC 4469: the message exceeds the append limit; it is left out.',
    samples: [{ message: 'd NO [TOOBIG] Rejected' }]
  },
  {
    id: 'imap.code.overquota',
    kind: 'response-code',
    match: { responseCodes: ['OVERQUOTA'] },
    category: 'cloud_mailbox_full',
    side: 'cloud',
    strength: STRENGTH.generic + 80,
    rationale: 'Generic. RFC 5530 over quota, but Gmail also sends it for bandwidth limits: wording decides when present.',
    samples: [{ message: 'e NO [OVERQUOTA] Rejected' }]
  },
  {
    id: 'imap.code.unavailable',
    kind: 'response-code',
    match: { responseCodes: ['UNAVAILABLE'] },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.generic + 80,
    rationale: 'Generic. RFC 5530 temporary failure; servers also use it for connection limits, which the wording tells.',
    samples: [{ message: 'f NO [UNAVAILABLE] Backend down' }]
  },
  {
    id: 'imap.code.contactadmin',
    kind: 'response-code',
    match: { responseCodes: ['CONTACTADMIN'] },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.generic + 80,
    rationale: 'Generic. RFC 5530: the account needs an administrator, most often because it is blocked or disabled.',
    samples: [{ message: 'g NO [CONTACTADMIN] Please call the help desk' }]
  },
  {
    id: 'imap.code.limit',
    kind: 'response-code',
    match: { responseCodes: ['LIMIT'] },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.generic + 80,
    rationale: 'Generic. RFC 5530: an implementation limit (flags, folders, size) was hit for some items.',
    samples: [{ message: 'h NO [LIMIT] Too many keywords' }]
  },

  // imapsync's summary lines: "The most frequent error is ERR_..." and "Exiting with return value N (EXIT_...)".
  {
    id: 'imapsync.name.auth-user2',
    kind: 'wording',
    match: { pattern: /\b(?:EXIT|ERR)_AUTHENTICATION_FAILURE_USER2\b/i },
    category: 'cloud_sign_in_failed',
    side: 'cloud',
    strength: STRENGTH.wording + 90,
    rationale: "imapsync's own verdict: the cloud account was refused.",
    samples: [{ message: 'Exiting with return value 162 (EXIT_AUTHENTICATION_FAILURE_USER2) 0/50 nb_errors/max_errors' }]
  },
  {
    id: 'imapsync.name.auth-user1',
    kind: 'wording',
    match: { pattern: /\b(?:EXIT|ERR)_AUTHENTICATION_FAILURE(?:_USER1)?\b/i },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.wording + 90,
    rationale: "imapsync's own verdict: the on-premises account was refused.",
    samples: [{ message: 'Exiting with return value 161 (EXIT_AUTHENTICATION_FAILURE_USER1) 1/50 nb_errors/max_errors PID 912' }]
  },
  {
    id: 'imapsync.name.connection-host2',
    kind: 'wording',
    match: { pattern: /\b(?:EXIT|ERR)_CONNECTION_FAILURE_HOST2\b/i },
    category: 'cloud_unreachable',
    side: 'cloud',
    strength: STRENGTH.wording + 90,
    rationale: "imapsync's own verdict: the cloud server could not be reached.",
    samples: [{ message: 'The most frequent error is ERR_CONNECTION_FAILURE_HOST2.' }]
  },
  {
    id: 'imapsync.name.connection-host1',
    kind: 'wording',
    match: { pattern: /\b(?:EXIT|ERR)_CONNECTION_FAILURE(?:_HOST1)?\b/i },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.wording + 90,
    rationale: "imapsync's own verdict: the on-premises server could not be reached.",
    samples: [{ message: 'The most frequent error is ERR_CONNECTION_FAILURE_HOST1. Check the host and port.' }]
  },
  {
    id: 'imapsync.name.tls',
    kind: 'wording',
    match: { pattern: /\b(?:EXIT|ERR)_TLS_FAILURE\b/i },
    category: 'source_tls_failed',
    side: 'source',
    strength: STRENGTH.wording + 90,
    rationale: "imapsync's own verdict: TLS could not be set up.",
    samples: [{ message: 'Exiting with return value 12 (EXIT_TLS_FAILURE) 1/50 nb_errors/max_errors' }]
  },
  {
    id: 'imapsync.name.overquota',
    kind: 'wording',
    match: { pattern: /\b(?:EXIT|ERR)_OVERQUOTA\b/i },
    category: 'cloud_mailbox_full',
    side: 'cloud',
    strength: STRENGTH.wording + 90,
    rationale: "imapsync's own verdict: the cloud mailbox is over quota.",
    samples: [{ message: 'The most frequent error is ERR_OVERQUOTA. The destination mailbox is 100% full.' }]
  },
  {
    id: 'imapsync.name.transfer-exceeded',
    kind: 'wording',
    match: { pattern: /\b(?:EXIT|ERR)_TRANSFER_EXCEEDED\b/i },
    category: 'throttled',
    side: 'either',
    strength: STRENGTH.wording + 90,
    rationale: "imapsync's own verdict: it stopped at the transfer cap set for provider limits.",
    samples: [{ message: 'Exiting with return value 118 (EXIT_TRANSFER_EXCEEDED) 0/50 nb_errors/max_errors' }]
  },
  {
    id: 'imapsync.name.item-errors',
    kind: 'wording',
    match: { pattern: /\b(?:EXIT_)?ERR_(?:APPEND(?:_SIZE|_VIRUS)?|FETCH|CREATE|SELECT|FLAGS)\b/i },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.wording + 90,
    rationale: "imapsync's own verdict: some messages, folders or flags were not copied; the rest was.",
    samples: [{ message: 'The most frequent error is ERR_APPEND_SIZE. Use --truncmess to copy them truncated.' }, { message: 'Exiting with return value 119 (EXIT_ERR_APPEND_VIRUS) 2/50 nb_errors/max_errors' }]
  },

  // Wording: causes first.
  {
    id: 'text.throttled',
    kind: 'wording',
    match: { pattern: /\b(?:throttl(?:ed|ing|e)|too many requests|rate[- ]?limit(?:ed|ing)?|back-?off time|retry-after|(?:bandwidth|download|upload|transfer) (?:limit|quota)s?|too many (?:simultaneous |concurrent |parallel |open )?(?:connections|sessions)|maximum number of (?:connections|sessions)|connection limit)\b/i },
    category: 'throttled',
    side: 'either',
    strength: STRENGTH.wording + 60,
    rationale: 'A server limits how fast or how many: back off and retry.',
    samples: [{ message: 'NO [OVERQUOTA] Account exceeded command or bandwidth limits. (Failure)' }, { message: '* BYE Too many concurrent sessions for this account' }]
  },
  {
    id: 'text.temporary-failure',
    kind: 'wording',
    match: { pattern: /\b(?:temporar(?:y|ily) (?:authentication |system |server )?(?:failure|error|unavailable)(?! in name resolution)|server (?:is )?(?:too )?busy|service (?:is )?(?:temporarily )?unavailable|try again later|mailbox (?:is )?(?:locked|in use|busy)|(?:database|store) (?:is )?(?:temporarily )?(?:unavailable|offline))\b/i },
    category: 'server_busy',
    side: 'either',
    strength: STRENGTH.wording + 55,
    rationale: 'The server says the failure is temporary: retry.',
    samples: [{ message: 'NO Temporary authentication failure. [host01:2024-03-01 10:00:00]' }, { message: 'The server is busy right now' }]
  },
  {
    id: 'text.tls.host2',
    kind: 'wording',
    match: { pattern: anyOf(TLS, PLAINTEXT), host: 2 },
    category: 'cloud_unreachable',
    side: 'cloud',
    strength: STRENGTH.wording + 52,
    rationale: 'A TLS failure reported against Host2: the cloud endpoint could not be reached securely.',
    samples: [{ message: 'Host2 failure: SSL connect attempt failed: certificate verify failed' }]
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
    match: { pattern: anyOf(LOGIN_FAILED, ACCESS_DENIED, APP_PASSWORD, IMPERSONATION), host: 2 },
    category: 'cloud_sign_in_failed',
    side: 'cloud',
    strength: STRENGTH.wording + 48,
    rationale: 'A refused login reported against Host2/user2 is the cloud account.',
    samples: [{ message: 'Host2 failure: Error login on [imap.example.net] with user [kim@example.net]: NO Invalid credentials' }]
  },
  {
    id: 'text.mailbox-full',
    kind: 'wording',
    match: { pattern: /\b(?:over quota|(?:mailbox|inbox|account|storage) (?:is |has become )?full|exceeded (?:the |its |their )?(?:maximum |max )?(?:mailbox (?:size|quota|storage)|(?:storage |mailbox )?quota|storage limit)|not enough (?:disk |storage )?(?:quota|space|storage)|insufficient (?:storage|quota|space)|free up (?:some )?space|out of (?:storage|quota)|storage (?:quota|limit) (?:reached|exceeded))\b|quota ?exceeded/i },
    category: 'cloud_mailbox_full',
    side: 'cloud',
    strength: STRENGTH.wording + 45,
    rationale: 'The mailbox copied into has no room left: free up space or raise the quota.',
    samples: [{ message: 'NO Not enough disk quota' }, { message: 'MapiExceptionShutoffQuotaExceeded: Unable to save changes.' }]
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
    match: { pattern: /\b(?:recipient (?:wasn't|was not|could not be|couldn't be|can't be|cannot be) found|no mailbox with such guid|RecipientNotFound|(?:target|destination|cloud) mailbox (?:doesn't|does not|wasn't|was not|could not be) (?:exist|found)|mailbox (?:is not|isn't|wasn't|was not) provisioned)\b|NonExistentMailbox/i },
    category: 'cloud_mailbox_missing',
    side: 'cloud',
    strength: STRENGTH.wording + 40,
    rationale: 'The mailbox to copy into does not exist: provision it first.',
    samples: [{ message: 'The target mailbox does not exist for bob@fabrikam.com' }, { message: 'Recipient could not be found in the destination tenant' }]
  },
  {
    id: 'text.sign-in-failed',
    kind: 'wording',
    match: { pattern: LOGIN_FAILED },
    category: 'source_sign_in_failed',
    side: 'source',
    strength: STRENGTH.wording + 40,
    rationale: 'A refused login, on the source unless the message names Host2.',
    samples: [{ message: 'LOGIN Authentication failed for user lee' }, { message: "We couldn't sign in with the credentials provided" }]
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
    match: { pattern: /\b(?:message (?:is )?too (?:big|large)|(?:item|message)s? (?:is |are )?(?:larger|bigger) than|maximum size of appendable message|message size exceeds|exceeds? (?:the )?maximum (?:message|item|allowed message) size|large items?|TooManyLargeItems)\b|MaxSubmissionExceeded/i },
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
    match: { pattern: /\b(?:corrupt(?:ed)? (?:item|message)s?|bad items?|TooManyBadItems)\b/i },
    category: 'items_skipped',
    side: 'either',
    strength: STRENGTH.wording + 30,
    rationale: 'A corrupt item could not be copied; it is left out.',
    samples: [{ message: 'Skipping corrupted message in folder Inbox' }]
  },

  // Wording: symptoms last.
  {
    id: 'text.unreachable.host2',
    kind: 'wording',
    match: { pattern: anyOf(DNS, REFUSED, TIMED_OUT, CANNOT_CONNECT), host: 2 },
    category: 'cloud_unreachable',
    side: 'cloud',
    strength: STRENGTH.wording + 18,
    rationale: 'A connection failure reported against Host2 is the cloud server.',
    samples: [{ message: 'Host2 failure: can not open imap connection on host2 [imap.example.net]: Connection timed out' }]
  },
  {
    id: 'text.dns-failure',
    kind: 'wording',
    match: { pattern: DNS },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.wording + 14,
    rationale: 'The server name does not resolve: check the host name in the connection settings.',
    samples: [{ message: 'Temporary failure in name resolution' }, { message: 'imap.fabrikam.lan: Name or service not known' }]
  },
  {
    id: 'text.connection-refused',
    kind: 'wording',
    match: { pattern: REFUSED },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.wording + 12,
    rationale: 'Nothing accepts connections at that address: server down, wrong port or a firewall.',
    samples: [{ message: 'read ECONNRESET' }, { message: 'No route to host' }]
  },
  {
    id: 'text.timed-out',
    kind: 'wording',
    match: { pattern: TIMED_OUT },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.wording + 10,
    rationale: 'The server did not answer in time: down, overloaded or filtered.',
    samples: [{ message: 'Operation timed out after 60000 ms' }]
  },
  {
    id: 'text.cannot-connect',
    kind: 'wording',
    match: { pattern: CANNOT_CONNECT },
    category: 'source_unreachable',
    side: 'source',
    strength: STRENGTH.wording,
    rationale: 'The engine says it could not connect, without saying why.',
    samples: [{ message: 'Unable to connect to imap.fabrikam.lan:143' }, { message: "The connection to the server 'owa.fabrikam.lan' could not be established." }]
  }
] satisfies ClassifierRule[])
