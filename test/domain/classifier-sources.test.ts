import { existsSync, readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { classifyFailure } from '../../src/domain/classifier.js'
import type { CategoryId } from '../../src/domain/types.js'

// What the two engines the reporter reads actually write: imapsync's logs and failure lines, and
// Exchange Online's migration statistics (shared/reference, shared/corpus/imapsync-logs).
const LOGS = new URL('../fixtures/imapsync-logs/', import.meta.url)
const REFERENCE = new URL('../../../shared/reference/', import.meta.url)

/** Each recorded run and the category its failure is (README of the shared corpus). */
const LOG_EXPECT: Record<string, CategoryId | null> = {
  'ok.log': null,
  'badpass1.log': 'source_sign_in_failed',
  'noconn1.log': 'source_unreachable',
  'quota2.log': 'cloud_mailbox_full'
}

// The lines a reporter can pick as the failure's message: error lines, the errors dump, the verdict.
const FAILURE_LINE = /^(?:Err \d+\/\d+: |Host[12] failure: |- msg |Host[12]: .{0,40}(?:Quota limit|% full)|The most frequent error is |Exiting with return value )/

function classify (message: string, code?: string): string {
  const result = classifyFailure({ code, message, context: { engine: 'imapsync' } })
  return `${result.category} (${result.rule})`
}

t.test('every recorded imapsync log has its expectation', async (t) => {
  t.same(readdirSync(LOGS).filter((name) => name.endsWith('.log')).sort(), Object.keys(LOG_EXPECT).sort())
})

for (const [name, expected] of Object.entries(LOG_EXPECT)) {
  t.test(`imapsync log ${name}: every failure line classifies as ${expected ?? 'nothing'}`, async (t) => {
    const lines = readFileSync(new URL(name, LOGS), 'utf8').split('\n')
    const status = /Exiting with return value (\d+)/.exec(lines.join('\n'))?.[1]
    t.ok(status !== undefined, 'the log has its exit status')
    const failures = lines.filter((line) => FAILURE_LINE.test(line) && !line.includes('(EX_OK'))
    if (expected === null) {
      t.equal(status, '0')
      t.same(failures, [], 'a successful run has no failure line')
      return
    }
    t.ok(failures.length >= 3, `${failures.length} failure lines`)
    for (const line of failures) {
      t.match(classify(line, status), new RegExp(`^${expected} `), `with exit ${status}: ${line.slice(0, 90)}`)
      t.match(classify(line), new RegExp(`^${expected} `), `message alone: ${line.slice(0, 90)}`)
    }
  })
}

// imapsync 2.229's failure line formats (reference: imapsync-exit-codes-and-log-lines.md) with values filled in.
const IMAPSYNC_LINES: Array<[string, CategoryId]> = [
  ['Host1 failure: can not open imap connection on host1 [mx1.lakeside.example] with user [tom]: Unable to connect to mx1.lakeside.example:  No route to host', 'source_unreachable'],
  ['Host2 failure: can not open imap connection on host2 [imap.example.org] with user [tom@example.org]: Unable to connect to imap.example.org:  Connection timed out', 'cloud_unreachable'],
  ['Host1 failure: Can not go to tls encryption on host1 [mx1.lakeside.example]: SSL connect attempt failed error:0A000410:SSL routines::sslv3 alert handshake failure', 'source_tls_failed'],
  ['Host2 failure: Can not go to tls encryption on host2 [imap.example.org]: ', 'cloud_unreachable'],
  ['Host1 failure: Error login on [mx1.lakeside.example] with user [tom] auth [LOGIN]: 3 NO [AUTHENTICATIONFAILED] Authentication failed.', 'source_sign_in_failed'],
  ['Host1 failure: Error login on [mx1.lakeside.example] with user [tom] auth [PLAIN] using proxy-login as [admin]: 3 NO [AUTHORIZATIONFAILED] Not allowed', 'source_sign_in_failed'],
  ['Host2 failure: Error login on [imap.example.org] with user [tom@example.org] auth [LOGIN]: 2 NO LOGIN failed.', 'cloud_sign_in_failed'],
  ['- msg INBOX/41 {8812} S[8812] F[\\Seen] I[03-Feb-2021 09:12:44 +0000] could not be fetched: 77 NO Message not found', 'items_skipped'],
  ['- msg Sent/9 {48000000} could not append ( Subject:[scan], Date:["03-Feb-2021 09:12:44 +0000"], Size:[48000000], Flags:[] ) to folder Sent: 90 BAD maximum message size exceeded', 'items_skipped'],
  ['- msg Sent/9 {48000000} could not append ( Subject:[scan] ) to folder Sent: Maximum size of appendable message has been exceeded', 'items_skipped'],
  ['- msg INBOX/3 {2000} could not append ( Subject:[hi] ) to folder INBOX: 21 NO [OVERQUOTA] Quota exceeded', 'cloud_mailbox_full'],
  ['- msg INBOX/3 {2000} could not append ( Subject:[hi] ) to folder INBOX: 21 NO Message rejected: virus found', 'items_skipped'],
  ['- msg INBOX/3 {2000} could not append ( Subject:[hi] ) to folder INBOX: 21 NO Invalid date', 'items_skipped'],
  ['Host2: Quota limit will be exceeded! Over 112 % ( 5600000000 bytes / 5000000000 bytes )', 'cloud_mailbox_full'],
  ['Host2: 99 % full: it is time to find a bigger place! ( 4950000000 bytes / 5000000000 bytes )', 'cloud_mailbox_full'],
  ['Host2: msg INBOX/3 could not add flags [\\Flagged $Work]: 5 NO Invalid flag', 'items_skipped'],
  ['Host2 folder Old/Projects: Could not create folder [Old/Projects] from [Old.Projects]: 9 NO Invalid mailbox name', 'items_skipped'],
  ['Host1 folder Shared/Board: Could not select: 12 NO Permission denied', 'items_skipped'],
  ['Maximum bytes transferred reached, 10000000000 >= 9000000000, ending sync', 'throttled'],
  ['The most frequent error is ERR_OVERQUOTA. The destination mailbox is 100% full, get free space on it and then resume the sync.', 'cloud_mailbox_full'],
  ['The most frequent error is ERR_APPEND_SIZE. The destination server refuses too big messages. Use --truncmess option.', 'items_skipped'],
  ['The most frequent error is ERR_AUTHENTICATION_FAILURE_USER2. Check the credentials for tom@example.org.', 'cloud_sign_in_failed'],
  ['The most frequent error is ERR_CONNECTION_FAILURE_HOST2. Check that host1 imap.example.org on port 993 is the right IMAP server to be contacted for your mailbox.', 'cloud_unreachable'],
  ['The most frequent error is ERR_TRANSFER_EXCEEDED. The maximum transfer size for a single sync is reached ( over 9000000000 ). Relaunch the sync to sync more.', 'throttled'],
  ['The most frequent error is ERR_FLAGS. Many STORE errors with FLAGS. Retry with the option --noresyncflags', 'items_skipped'],
  ['Exiting with return value 12 (EXIT_TLS_FAILURE) 1/50 nb_errors/max_errors PID 2208', 'source_tls_failed']
]

t.test("imapsync's failure line formats, filled in", async (t) => {
  for (const [line, expected] of IMAPSYNC_LINES) {
    t.match(classify(line), new RegExp(`^${expected} `), line.slice(0, 100))
    t.match(classify(`Err 1/3: ${line}`), new RegExp(`^${expected} `), 'in the errors dump too')
  }
})

// Get-MigrationUserStatistics Error and ErrorSummary as the reference shows them, with the exception
// name as the reporter sends it as the code (the reference spells it "Exeption", as Exchange does).
const EXCHANGE_ERRORS: Array<[string, CategoryId]> = [
  ['Error MigrationPermanentExeption: Special credentials are required in order to access this IMAP account.', 'source_sign_in_failed'],
  ["Error MigrationPermanentExeption: Special credentials are required in order to access this IMAP account. --> Special credentials are required in order to access this IMAP account. --> Imap server reported an error during LoginCommand with the following alert: 'Application-specific password required: https://support.google.com/accounts/answer/185833 (failure).", 'source_sign_in_failed']
]

t.test('Exchange Error and ErrorSummary texts of the reference', async (t) => {
  for (const [message, expected] of EXCHANGE_ERRORS) {
    for (const code of [undefined, 'MigrationPermanentException', 'MigrationPermanentExeption', 'Failed']) {
      t.equal(classifyFailure({ code, message, context: { engine: 'exchange' } }).category, expected, `code ${String(code)}: ${message.slice(0, 60)}`)
    }
  }
})

t.test('the shared reference, when it sits beside the repository, has nothing this test misses', async (t) => {
  const exchange = new URL('exchange-migration-statistics.md', REFERENCE)
  if (!existsSync(exchange)) {
    t.comment('no shared reference beside this clone')
    return
  }
  const text = readFileSync(exchange, 'utf8')
  const errors = [...text.matchAll(/"(?:Error|ErrorSummary)": "([^"]{10,2000})"/g)].map((found) => found[1])
  t.ok(errors.length >= 2, 'the reference shows Error texts')
  for (const error of errors) t.ok(EXCHANGE_ERRORS.some(([known]) => known === error), `covered: ${error.slice(0, 60)}`)
  const statusSection = text.slice(text.indexOf('StatusDetail'), text.indexOf('Per-user status meanings'))
  const failureStates = new Set([...statusSection.matchAll(/\b(?:Stalled|Relinquished|Failed)\w{0,40}|\b(?:TransientFailure|NetworkFailure|MDBOffline|ProxyBackoff|ServerBusyBackoff)\b/g)].map((found) => found[0]))
  t.ok(failureStates.size >= 25, `${failureStates.size} failure states listed`)
  for (const state of failureStates) {
    const result = classifyFailure({ code: state, message: state, context: { engine: 'exchange' } })
    t.not(result.rule, 'fallback', `${state} is decided by ${result.rule}`)
  }
  const imapsync = readFileSync(new URL('imapsync-exit-codes-and-log-lines.md', REFERENCE), 'utf8')
  for (const found of imapsync.matchAll(/\b(\d{1,3}) (EXIT?_[A-Z0-9_]{2,40}|EX_[A-Z]{2,20})\b/g)) {
    if (found[1] === '0') continue
    t.not(classifyFailure({ code: found[1], message: '', context: { engine: 'imapsync' } }).rule, 'fallback', `exit ${found[1]} ${found[2]}`)
    t.not(classifyFailure({ code: found[2], message: '' }).rule, 'fallback', found[2])
  }
  // ERR_..._USERn and ERR_..._HOSTn are the reference's placeholders for 1 and 2.
  for (const found of imapsync.matchAll(/\bERR_[A-Za-z0-9_]{2,40}(?<![A-Z]n)\b/g)) {
    t.not(classifyFailure({ message: `The most frequent error is ${found[0]}` }).rule, 'fallback', found[0])
  }
})
