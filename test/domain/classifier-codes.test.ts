import t from 'tap'
import type { Test } from 'tap'
import { CLASSIFIER_RULES, classifyFailure } from '../../src/domain/classifier.js'
import type { CategoryId } from '../../src/domain/types.js'

// Coverage by code, not by sentence: every code below decides on its own (an empty message),
// and a name also decides when it only appears inside the message.
const EWS: Record<string, CategoryId> = {
  ErrorAccessDenied: 'source_sign_in_failed',
  ErrorAccountDisabled: 'source_sign_in_failed',
  ErrorPasswordExpired: 'source_sign_in_failed',
  ErrorPasswordChangeRequired: 'source_sign_in_failed',
  ErrorMailboxLogonFailed: 'source_sign_in_failed',
  ErrorCallerIsInvalidADAccount: 'source_sign_in_failed',
  ErrorLogonAsNetworkServiceFailed: 'source_sign_in_failed',
  ErrorImpersonateUserDenied: 'source_sign_in_failed',
  ErrorImpersonationDenied: 'source_sign_in_failed',
  ErrorImpersonationFailed: 'source_sign_in_failed',
  ErrorQuotaExceeded: 'cloud_mailbox_full',
  ErrorQuotaExceededOnDelete: 'cloud_mailbox_full',
  ErrorServerBusy: 'throttled',
  ErrorExceededConnectionCount: 'throttled',
  ErrorExceededSubscriptionCount: 'throttled',
  ErrorExceededFindCountLimit: 'throttled',
  ErrorTooManyObjectsOpened: 'throttled',
  ErrorMailboxStoreUnavailable: 'server_busy',
  ErrorInternalServerTransientError: 'server_busy',
  ErrorMailboxMoveInProgress: 'server_busy',
  ErrorMailboxFailover: 'server_busy',
  ErrorADUnavailable: 'server_busy',
  ErrorADOperation: 'server_busy',
  ErrorInsufficientResources: 'server_busy',
  ErrorNotEnoughMemory: 'server_busy',
  ErrorNoRespondingCASInDestinationSite: 'server_busy',
  ErrorNoApplicableProxyCASServersAvailable: 'server_busy',
  ErrorNonExistentMailbox: 'cloud_mailbox_missing',
  ErrorMailRecipientNotFound: 'cloud_mailbox_missing',
  ErrorConnectionFailed: 'source_unreachable',
  ErrorTimeoutExpired: 'source_unreachable',
  ErrorMessageSizeExceeded: 'items_skipped',
  ErrorAttachmentSizeLimitExceeded: 'items_skipped',
  ErrorRequestStreamTooBig: 'items_skipped',
  ErrorItemCorrupt: 'items_skipped',
  ErrorCorruptData: 'items_skipped',
  ErrorFolderCorrupt: 'items_skipped',
  ErrorMimeContentConversionFailed: 'items_skipped',
  ErrorContentConversionFailed: 'items_skipped',
  ErrorMimeContentInvalid: 'items_skipped',
  ErrorVirusDetected: 'items_skipped',
  ErrorVirusMessageDeleted: 'items_skipped'
}

const MRS_EXCEPTIONS: Record<string, CategoryId> = {
  TooManyLargeItemsPermanentException: 'items_skipped',
  TooManyBadItemsPermanentException: 'items_skipped',
  TooManyMissingItemsPermanentException: 'items_skipped',
  MapiExceptionMaxSubmissionExceeded: 'items_skipped',
  RecipientNotFoundPermanentException: 'cloud_mailbox_missing',
  SslStreamFailureException: 'source_tls_failed',
  RemoteNetworkErrorTransientException: 'source_unreachable',
  ConnectionFailedTransientException: 'source_unreachable',
  ConnectionFailedPermanentException: 'source_unreachable',
  MapiExceptionNetworkError: 'source_unreachable',
  MapiExceptionShutoffQuotaExceeded: 'cloud_mailbox_full',
  MapiExceptionQuotaExceeded: 'cloud_mailbox_full',
  MapiExceptionMdbOffline: 'server_busy',
  MapiExceptionRpcServerTooBusy: 'server_busy',
  MapiExceptionADUnavailable: 'server_busy',
  MapiExceptionMailboxInTransit: 'server_busy',
  MapiExceptionSessionLimit: 'throttled',
  MapiExceptionLogonFailed: 'source_sign_in_failed',
  MapiExceptionNoAccess: 'source_sign_in_failed',
  DatabaseNotFoundException: 'cloud_mailbox_missing',
  // Generic: they decide only when the wording names nothing more specific.
  CommunicationErrorTransientException: 'source_unreachable',
  CommunicationErrorPermanentException: 'source_unreachable',
  MigrationServerConnectionFailedException: 'source_unreachable',
  MigrationTransientException: 'server_busy',
  StorageTransientException: 'server_busy',
  MailboxReplicationTransientException: 'server_busy',
  DataExportTransientException: 'server_busy',
  MapiFxProxyTransientException: 'server_busy',
  RemoteTransientException: 'server_busy',
  MigrationPermanentException: 'unclassified',
  StoragePermanentException: 'unclassified',
  MailboxReplicationPermanentException: 'unclassified',
  RemotePermanentException: 'unclassified',
  UpdateMovedMailboxPermanentException: 'unclassified'
}

/** Every Stalled*, Relinquished* and Failed* StatusDetail value the reference lists, and the other failure states. */
const STATUS_DETAIL: Record<string, CategoryId> = {
  Stalled: 'throttled',
  StalledDueToHA: 'throttled',
  StalledDueToCI: 'throttled',
  StalledDueToMailboxLock: 'server_busy',
  StalledDueToReadThrottle: 'throttled',
  StalledDueToWriteThrottle: 'throttled',
  StalledDueToReadCpu: 'throttled',
  StalledDueToWriteCpu: 'throttled',
  StalledDueToReadUnknown: 'throttled',
  StalledDueToWriteUnknown: 'throttled',
  StalledDueToTarget_MdbAvailability: 'throttled',
  StalledDueToTarget_MdBReplication: 'throttled',
  StalledDueToTarget_DiskLatency: 'throttled',
  StalledDueToTarget_Processor: 'throttled',
  StalledDueToTarget_MDBFull: 'throttled',
  StalledDueToSource_Processor: 'throttled',
  TransientFailure: 'server_busy',
  NetworkFailure: 'source_unreachable',
  MDBOffline: 'server_busy',
  ProxyBackoff: 'throttled',
  ServerBusyBackoff: 'throttled',
  Relinquished: 'throttled',
  RelinquishedMDBFailover: 'server_busy',
  RelinquishedDataGuarantee: 'throttled',
  RelinquishedHAStall: 'throttled',
  RelinquishedCIStall: 'throttled',
  RelinquishedWlmStall: 'throttled',
  Failed: 'unclassified',
  FailedBadItemLimit: 'items_skipped',
  FailedNetwork: 'source_unreachable',
  FailedStallDueToHA: 'throttled',
  FailedStallDueToCI: 'throttled',
  FailedMAPI: 'unclassified',
  FailedOther: 'unclassified',
  FailedStuck: 'unclassified'
}

/** Get-MigrationUserStatistics Status values that mean failure: they say that, not why. */
const MIGRATION_USER_STATUS: Record<string, CategoryId> = {
  Failed: 'unclassified',
  IncrementalFailed: 'unclassified',
  CompletionFailed: 'unclassified',
  Corrupted: 'unclassified'
}

// Plain English words are only read from the code field, never from the message.
const CODE_ONLY = new Set(['Stalled', 'Relinquished', 'Failed'])

const RFC_5530: Record<string, CategoryId> = {
  AUTHENTICATIONFAILED: 'source_sign_in_failed',
  AUTHORIZATIONFAILED: 'source_sign_in_failed',
  EXPIRED: 'source_sign_in_failed',
  PRIVACYREQUIRED: 'source_tls_failed',
  CONTACTADMIN: 'source_sign_in_failed',
  INUSE: 'server_busy',
  UNAVAILABLE: 'server_busy',
  SERVERBUG: 'server_busy',
  OVERQUOTA: 'cloud_mailbox_full',
  LIMIT: 'items_skipped',
  CORRUPTION: 'items_skipped',
  NONEXISTENT: 'items_skipped',
  NOPERM: 'items_skipped',
  CANNOT: 'items_skipped',
  ALREADYEXISTS: 'items_skipped',
  EXPUNGEISSUED: 'items_skipped',
  CLIENTBUG: 'unclassified',
  TOOBIG: 'items_skipped'
}

/** imapsync 2.229's exit statuses with their EXIT_ names (shared/reference/imapsync-exit-codes-and-log-lines.md). */
const IMAPSYNC_EXIT: Array<[string, string, CategoryId]> = [
  ['1', 'EXIT_CATCH_ALL', 'unclassified'],
  ['6', 'EXIT_BY_SIGNAL', 'unclassified'],
  ['7', 'EXIT_BY_FILE', 'unclassified'],
  ['8', 'EXIT_PID_FILE_ERROR', 'unclassified'],
  ['10', 'EXIT_CONNECTION_FAILURE', 'source_unreachable'],
  ['12', 'EXIT_TLS_FAILURE', 'source_tls_failed'],
  ['16', 'EXIT_AUTHENTICATION_FAILURE', 'source_sign_in_failed'],
  ['21', 'EXIT_SUBFOLDER1_NO_EXISTS', 'unclassified'],
  ['64', 'EX_USAGE', 'unclassified'],
  ['66', 'EX_NOINPUT', 'unclassified'],
  ['69', 'EX_UNAVAILABLE', 'unclassified'],
  ['70', 'EX_SOFTWARE', 'unclassified'],
  ['101', 'EXIT_CONNECTION_FAILURE_HOST1', 'source_unreachable'],
  ['102', 'EXIT_CONNECTION_FAILURE_HOST2', 'cloud_unreachable'],
  ['111', 'EXIT_WITH_ERRORS', 'items_skipped'],
  ['112', 'EXIT_WITH_ERRORS_MAX', 'unclassified'],
  ['113', 'EXIT_OVERQUOTA', 'cloud_mailbox_full'],
  ['114', 'EXIT_ERR_APPEND', 'items_skipped'],
  ['115', 'EXIT_ERR_FETCH', 'items_skipped'],
  ['116', 'EXIT_ERR_CREATE', 'items_skipped'],
  ['117', 'EXIT_ERR_SELECT', 'items_skipped'],
  ['118', 'EXIT_TRANSFER_EXCEEDED', 'throttled'],
  ['119', 'EXIT_ERR_APPEND_VIRUS', 'items_skipped'],
  ['120', 'EXIT_ERR_FLAGS', 'items_skipped'],
  ['161', 'EXIT_AUTHENTICATION_FAILURE_USER1', 'source_sign_in_failed'],
  ['162', 'EXIT_AUTHENTICATION_FAILURE_USER2', 'cloud_sign_in_failed'],
  ['254', 'EXIT_TESTS_FAILED', 'unclassified']
]

/** The ERR_ types imapsync's "The most frequent error is ERR_..." line can name. */
const IMAPSYNC_ERR: Record<string, CategoryId> = {
  ERR_AUTHENTICATION_FAILURE_USER1: 'source_sign_in_failed',
  ERR_AUTHENTICATION_FAILURE_USER2: 'cloud_sign_in_failed',
  ERR_EXIT_TLS_FAILURE: 'source_tls_failed',
  ERR_Host1_FETCH: 'items_skipped',
  ERR_APPEND_SIZE: 'items_skipped',
  ERR_OVERQUOTA: 'cloud_mailbox_full',
  ERR_APPEND_VIRUS: 'items_skipped',
  ERR_APPEND: 'items_skipped',
  ERR_FLAGS: 'items_skipped',
  ERR_CREATE: 'items_skipped',
  ERR_SELECT: 'items_skipped',
  ERR_TRANSFER_EXCEEDED: 'throttled',
  ERR_CONNECTION_FAILURE_HOST1: 'source_unreachable',
  ERR_CONNECTION_FAILURE_HOST2: 'cloud_unreachable',
  ERR_UNCLASSIFIED: 'unclassified'
}

function byCode (code: string, engine?: string): string {
  const result = classifyFailure({ code, message: '', context: { engine } })
  return `${result.category} (${result.rule})`
}

function byMessage (message: string): string {
  const result = classifyFailure({ message })
  return `${result.category} (${result.rule})`
}

function decided (t: Test, actual: string, expected: CategoryId, what: string): void {
  t.match(actual, new RegExp(`^${expected} \\((?!fallback)`), what)
}

t.test('EWS response codes', async (t) => {
  for (const [code, category] of Object.entries(EWS)) {
    decided(t, byCode(code, 'ews'), category, `${code} as the code`)
    decided(t, byMessage(`The EWS call GetItem failed: ${code}.`), category, `${code} in the message`)
  }
})

t.test('Exchange MRS exception names, bare or with their namespace', async (t) => {
  for (const [name, category] of Object.entries(MRS_EXCEPTIONS)) {
    decided(t, byCode(name, 'exchange'), category, `${name} as the code`)
    decided(t, byCode(`Microsoft.Exchange.MailboxReplicationService.${name}`), category, `${name} with its namespace`)
    decided(t, byMessage(`Error: ${name}: the request could not continue`), category, `${name} in the message`)
  }
})

t.test('Exchange StatusDetail values', async (t) => {
  for (const [value, category] of Object.entries(STATUS_DETAIL)) {
    decided(t, byCode(value, 'exchange'), category, `${value} as the code`)
    if (!CODE_ONLY.has(value)) decided(t, byMessage(`StatusDetail: ${value}`), category, `${value} in the message`)
  }
})

t.test('Get-MigrationUserStatistics failure statuses', async (t) => {
  for (const [value, category] of Object.entries(MIGRATION_USER_STATUS)) decided(t, byCode(value, 'exchange'), category, value)
})

t.test('plain-word statuses are not read from a message', async (t) => {
  t.equal(classifyFailure({ message: 'The job Failed and was Relinquished' }).rule, 'fallback')
})

t.test('RFC 5530 response codes, in the message or as the code', async (t) => {
  for (const [code, category] of Object.entries(RFC_5530)) {
    decided(t, byMessage(`a12 NO [${code}] x`), category, `[${code}] in the message`)
    decided(t, byCode(code), category, `${code} as the code`)
  }
})

t.test('imapsync exit statuses and their EXIT_ names', async (t) => {
  for (const [status, name, category] of IMAPSYNC_EXIT) {
    decided(t, byCode(status, 'imapsync'), category, `exit ${status}`)
    decided(t, byCode(name), category, `${name} as the code`)
    decided(t, byMessage(`Exiting with return value ${status} (${name}) 1/50 nb_errors/max_errors PID 4711`), category, `${name} in the Exiting line`)
  }
})

t.test("imapsync's ERR_ types", async (t) => {
  for (const [name, category] of Object.entries(IMAPSYNC_ERR)) {
    decided(t, byCode(name), category, `${name} as the code`)
    decided(t, byMessage(`The most frequent error is ${name}.`), category, `${name} in the most-frequent line`)
  }
})

t.test('every code and name of the table is covered by this test or decides its samples', async (t) => {
  const listed = new Set([...Object.keys(EWS), ...Object.keys(MRS_EXCEPTIONS), ...Object.keys(STATUS_DETAIL), ...Object.keys(MIGRATION_USER_STATUS), ...Object.keys(IMAPSYNC_ERR), ...IMAPSYNC_EXIT.flatMap(([status, name]) => [status, name])].map((code) => code.toLowerCase()))
  const http = ['429', '503']
  for (const rule of CLASSIFIER_RULES) {
    if (rule.kind !== 'code' || rule.id.startsWith('socket.')) continue
    for (const code of [...(rule.match.codes ?? []), ...(rule.match.names ?? [])]) {
      t.ok(listed.has(code.toLowerCase()) || http.includes(code), `${rule.id}: ${code}`)
    }
  }
})
