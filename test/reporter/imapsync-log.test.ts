import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { maskSecrets, readImapsyncArguments } from '../../src/reporter/imapsync-arguments.js'
import { imapsyncEvent } from '../../src/reporter/imapsync-event.js'
import { imapsyncErrorType, readImapsyncLog } from '../../src/reporter/imapsync-log.js'
import { PACKAGE_ROOT } from '../helpers/service-process.js'

const LOGS = join(PACKAGE_ROOT, 'test', 'fixtures', 'imapsync-logs')
const log = (name: string): string => readFileSync(join(LOGS, name), 'utf8')
const REPORT = { batchId: 'wave-1', mailbox: 'alice@contoso.com' }
const CONTEXT = { engine: 'imapsync', migrationType: 'imap', server: '127.0.0.1', credentialMode: 'user' }

// Every log of the shared corpus, and the event it must give.
const CORPUS = [
  {
    file: 'badpass1.log',
    run: { exitStatus: 161, pid: '10462', mostFrequentError: 'ERR_AUTHENTICATION_FAILURE_USER1', errorCounts: { ERR_AUTHENTICATION_FAILURE_USER1: 1 } },
    event: {
      occurredAt: '2026-11-23T23:46:02.000Z',
      outcome: 'failed',
      failure: { code: '161', message: 'Host1 failure: Error login on [127.0.0.1] with user [onprem-alice] auth [LOGIN]: 2 NO [AUTHENTICATIONFAILED] Authentication failed.' },
      context: CONTEXT
    }
  },
  {
    file: 'noconn1.log',
    run: { exitStatus: 101, pid: '10674', mostFrequentError: 'ERR_CONNECTION_FAILURE_HOST1', errorCounts: { ERR_CONNECTION_FAILURE_HOST1: 1 } },
    event: {
      occurredAt: '2026-11-23T23:46:27.000Z',
      outcome: 'failed',
      failure: { code: '101', message: 'Host1 failure: can not open imap connection on host1 [127.0.0.1] with user [onprem-alice]: Unable to connect to 127.0.0.1:  Connection refused' },
      context: CONTEXT
    }
  },
  {
    file: 'quota2.log',
    run: { exitStatus: 113, pid: '10853', mostFrequentError: 'ERR_OVERQUOTA', errorCounts: { ERR_OVERQUOTA: 5 } },
    event: {
      occurredAt: '2026-11-23T23:46:37.000Z',
      outcome: 'failed',
      failure: {
        code: '113',
        message: '- msg INBOX/1 {2092} could not append ( Subject:[msg 1], Date:["23-Nov-2026 23:45:56 +0000"], Size:[2066], Flags:[] ) to folder INBOX: ' +
          'Error sending \'18 APPEND INBOX () "23-Nov-2026 23:45:56 +0000" {2092}\': 18 NO [OVERQUOTA] Quota exceeded (mailbox for user is full) (0.001 + 0.000 secs).'
      },
      context: CONTEXT
    }
  },
  {
    file: 'ok.log',
    run: { exitStatus: 0, pid: '10431', mostFrequentError: null, errorCounts: {} },
    // The run's end ("Transfer ended on"), not its start.
    event: { occurredAt: '2026-11-23T23:46:01.000Z', outcome: 'synced' }
  }
]

for (const { file, run, event } of CORPUS) {
  t.test(`${file} gives the event of its run`, async (t) => {
    const parsed = readImapsyncLog(log(file))
    t.match(parsed, run)
    t.equal(parsed.commandLine?.[0], '--nolog')
    const reported = imapsyncEvent(parsed, REPORT, file)
    t.same({ ...reported, id: undefined }, { id: undefined, batchId: 'wave-1', mailbox: 'alice@contoso.com', ...event })
    t.match(reported.id, /^imapsync-[0-9a-f]{32}$/)
    t.equal(imapsyncEvent(readImapsyncLog(log(file)), REPORT, file).id, reported.id, 'reading the log again gives the same id')
    t.not(imapsyncEvent(parsed, { ...REPORT, batchId: 'wave-2' }, file).id, reported.id, 'another batch is another run')
  })
}

t.test('the wrapper and the log of the same run give the same event', async (t) => {
  const parsed = readImapsyncLog(log('badpass1.log'))
  const fromLog = imapsyncEvent(parsed, REPORT, 'log')
  const args = ['--host1', '127.0.0.1', '--user1', 'onprem-alice', '--password1', 'Secret-1', '--host2', '127.0.0.1', '--user2', 'cloud-alice', '--password2', 'Secret-2']
  const fromWrapper = imapsyncEvent(parsed, { ...REPORT, args, exitStatus: 161, pid: '999', startedAt: new Date(), endedAt: new Date() }, 'output')
  t.same(fromWrapper, fromLog)
})

t.test('the line the most frequent error names explains the run, not the last error line', async (t) => {
  const lines = [
    'Transfer started at Monday 23 November 2026-11-23 10:00:00 +0100 CET',
    'PID is 42 my PPID is 1',
    '++++ Listing 4 errors encountered during the sync ( avoid this listing with --noerrorsdump ).',
    'Err 1/4: Could not create folder [Archiv/2019] from [Archiv/2019]: 12 NO Mailbox exists',
    'Err 2/4: - msg INBOX/7 {100} S[100] F[] I[x] could not be fetched: 13 NO Server Unavailable',
    'Err 3/4: - msg INBOX/8 {100} S[100] F[] I[x] could not be fetched: 14 NO Server Unavailable',
    'Err 4/4: Could not select: 15 NO folder gone',
    'The most frequent error is ERR_Host1_FETCH. ',
    'Exiting with return value 115 (EXIT_ERR_FETCH) 4/50 nb_errors/max_errors PID 42'
  ]
  const run = readImapsyncLog(lines.join('\n'))
  t.equal(run.explainingLine, '- msg INBOX/7 {100} S[100] F[] I[x] could not be fetched: 13 NO Server Unavailable')
  t.same(run.errorCounts, { ERR_CREATE: 1, ERR_Host1_FETCH: 2, ERR_SELECT: 1 })
  t.same(run.startedAt, new Date('2026-11-23T09:00:00Z'), 'the log\'s offset counts')
  // Without imapsync's verdict (an older imapsync), the most frequent type is counted here.
  const older = readImapsyncLog(lines.filter((line) => !line.startsWith('The most frequent')).join('\n'))
  t.equal(older.explainingLine, run.explainingLine)
})

t.test('with --noerrorsdump the inline error lines explain the run', async (t) => {
  const trimmed = log('quota2.log').split('\n').filter((line) => !/^(Err [0-9]|\+\+\+\+ Listing)/.test(line)).join('\r\n')
  const run = readImapsyncLog(trimmed)
  t.match(run, { exitStatus: 113, errorCounts: { ERR_OVERQUOTA: 5 } })
  t.match(run.explainingLine, /^- msg INBOX\/1 \{2092\} could not append .*\[OVERQUOTA\]/)
})

t.test('error types follow imapsync\'s own order and case', async (t) => {
  t.equal(imapsyncErrorType('Host2 failure: Error login on [h] with user [u] auth [PLAIN]: NO'), 'ERR_AUTHENTICATION_FAILURE_USER2')
  t.equal(imapsyncErrorType('Host1 failure: error login on [h] with user [u] (PREAUTH)'), 'ERR_UNCLASSIFIED', 'the PREAUTH path in lower case')
  t.equal(imapsyncErrorType('Host1 failure: Can not go to tls encryption on host1 [h]: x'), 'ERR_EXIT_TLS_FAILURE')
  t.equal(imapsyncErrorType('- msg A/1 {9} could not append ( x ) to folder A: BAD maximum message size exceeded'), 'ERR_APPEND_SIZE')
  t.equal(imapsyncErrorType('- msg A/1 {9} could not append ( x ) to folder A: NO virus found'), 'ERR_APPEND_VIRUS')
  t.equal(imapsyncErrorType('- msg A/1 {9} could not append ( x ) to folder A: NO'), 'ERR_APPEND')
  t.equal(imapsyncErrorType('Host2: 99.10 % full: it is time to find a bigger place! ( 1 bytes / 2 bytes )'), 'ERR_OVERQUOTA')
  t.equal(imapsyncErrorType('- msg A/1 could not add flags [\\Seen]'), 'ERR_FLAGS')
  t.equal(imapsyncErrorType('Maximum bytes transferred reached, 10 >= 5, ending sync'), 'ERR_TRANSFER_EXCEEDED')
  t.equal(imapsyncErrorType('Host2 failure: can not open imap connection on host2 [h] with user [u]: timeout'), 'ERR_CONNECTION_FAILURE_HOST2')
})

t.test('a log whose run has not ended gives no event', async (t) => {
  const cut = log('quota2.log').split('\n').slice(0, 120).join('\n')
  const run = readImapsyncLog(cut)
  t.equal(run.exitStatus, null)
  t.throws(() => imapsyncEvent(run, REPORT, 'cut.log'), { name: 'ReportInputError', message: /cut\.log: not a finished imapsync run/ })
})

t.test('the mailbox is --mailbox, else --user1 when it is an address, else a usage error', async (t) => {
  const run = readImapsyncLog(log('badpass1.log'))
  t.throws(() => imapsyncEvent(run, { batchId: 'b' }, 'badpass1.log'), {
    message: 'badpass1.log: --user1 "onprem-alice" is not an e-mail address; give the migrated mailbox with --mailbox ADDR'
  })
  t.throws(() => imapsyncEvent(run, { batchId: 'b', mailbox: 'alice' }, 'x'), { message: '--mailbox "alice" is not an e-mail address' })
  t.equal(imapsyncEvent(run, { batchId: 'b', args: ['--user1', 'Alice@Contoso.com'] }, 'x').mailbox, 'alice@contoso.com')
  t.throws(() => imapsyncEvent(run, { batchId: 'b', args: [] }, 'x'), { message: /--user1 is missing/ })
})

t.test('arguments: values in every Getopt::Long form, admin credentials, passwords kept out', async (t) => {
  const args = readImapsyncArguments(['-host1=mail.contoso.local', '--user1', 'alice', '--authuser1', 'admin', '--password1=p@ss word', '--oauthaccesstoken2', 'tok-123456', '--justlogin'])
  t.same(args, { host1: 'mail.contoso.local', user1: 'alice', authuser1: 'admin', proxyauth1: false, secrets: ['p@ss word', 'tok-123456'] })
  t.equal(readImapsyncArguments(['--proxyauth1']).proxyauth1, true)
  t.equal(maskSecrets('login p@ss word failed, token tok-123456', args.secrets), 'login MASKED failed, token MASKED')
  t.equal(maskSecrets('a short one: ab', ['ab']), 'a short one: ab', 'values too short to hide are left')

  const run = readImapsyncLog(log('badpass1.log').replaceAll('auth [LOGIN]: 2 NO', 'auth [LOGIN]: 2 NO p@ss word'))
  const event = imapsyncEvent(run, { batchId: 'b', mailbox: 'alice@contoso.com', args: ['--host1', 'mail.contoso.local', '--authuser1', 'admin', '--password1', 'p@ss word'], exitStatus: 161 }, 'x')
  t.match(event, { failure: { message: /2 NO MASKED/ }, context: { server: 'mail.contoso.local', credentialMode: 'admin' } })
  t.notOk(JSON.stringify(event).includes('p@ss word'))
  const proxy = readImapsyncLog('Transfer started at x 2026-11-23 10:00:00 +0000 UTC\nErr 1/1: Host1 failure: Error login on [h] with user [alice] auth [PLAIN] using proxy-login as [admin]: NO\nExiting with return value 161')
  t.equal(imapsyncEvent(proxy, { batchId: 'b', mailbox: 'alice@contoso.com', args: [] }, 'x').context?.credentialMode, 'admin')
})

t.test('a run ended by a signal is a failure named by the signal', async (t) => {
  const run = readImapsyncLog('Transfer started at x 2026-11-23 10:00:00 +0000 UTC\nPID is 7\n')
  const event = imapsyncEvent(run, { batchId: 'b', mailbox: 'alice@contoso.com', args: [], signal: 'SIGKILL', endedAt: new Date() }, 'x')
  t.match(event, { outcome: 'failed', occurredAt: '2026-11-23T10:00:00.000Z', failure: { code: 'SIGKILL', message: 'imapsync was ended by SIGKILL' } })
})

t.test('a failed run without error lines is explained by its last words', async (t) => {
  const died = readImapsyncLog('Transfer started at x 2026-11-23 10:00:00 +0000 UTC\nCan\'t locate Mail/IMAPClient.pm in @INC\n')
  t.match(imapsyncEvent(died, { batchId: 'b', mailbox: 'alice@contoso.com', args: [], exitStatus: 2 }, 'x').failure,
    { code: '2', message: "Can't locate Mail/IMAPClient.pm in @INC" })
  const exited = readImapsyncLog('Transfer started at x 2026-11-23 10:00:00 +0000 UTC\nExiting with return value 64 (EX_USAGE) 0/50 nb_errors/max_errors PID 1\nbye\n')
  t.match(imapsyncEvent(exited, { batchId: 'b', mailbox: 'alice@contoso.com', args: [] }, 'x').failure,
    { code: '64', message: 'Exiting with return value 64 (EX_USAGE) 0/50 nb_errors/max_errors PID 1' })
})
