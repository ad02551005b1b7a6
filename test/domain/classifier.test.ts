import t from 'tap'
import {
  CLASSIFIER_RULES,
  EXPLICIT_RULE,
  FALLBACK_RULE,
  MESSAGE_LIMIT,
  NAME_IN_MESSAGE_DISCOUNT,
  STRENGTH,
  classifyFailure,
  classifyFailureByScan
} from '../../src/domain/classifier.js'
import type { ClassifierRule } from '../../src/domain/classifier.js'
import { CATEGORY_IDS, isCategoryId } from '../../src/domain/types.js'
import type { CategoryId } from '../../src/domain/types.js'

const SIDES = ['source', 'cloud', 'either', 'unknown']

function tierOf (rule: ClassifierRule): string {
  if (rule.strength < STRENGTH.generic + 100) return 'generic'
  return rule.kind
}

t.test('every rule id is unique, dotted and not a reserved id', async (t) => {
  const ids = CLASSIFIER_RULES.map((rule) => rule.id)
  t.same(ids.filter((id, index) => ids.indexOf(id) !== index), [], 'no duplicate ids')
  for (const id of ids) {
    t.match(id, /^[a-z0-9]+(?:[.-][a-z0-9]+){1,6}$/, `${id} is dotted lower case`)
    t.not(id, EXPLICIT_RULE)
    t.not(id, FALLBACK_RULE)
  }
})

t.test('every rule names a known category and side and sits in its kind\'s strength tier', async (t) => {
  const tiers: Record<string, [number, number]> = {
    code: [STRENGTH.code, STRENGTH.code + 99],
    'response-code': [STRENGTH.responseCode, STRENGTH.responseCode + 99],
    wording: [STRENGTH.wording, STRENGTH.wording + 99],
    generic: [STRENGTH.generic, STRENGTH.generic + 99]
  }
  for (const rule of CLASSIFIER_RULES) {
    t.ok(isCategoryId(rule.category), `${rule.id} category`)
    t.ok(SIDES.includes(rule.side), `${rule.id} side`)
    const [low, high] = tiers[tierOf(rule)]
    t.ok(rule.strength >= low && rule.strength <= high, `${rule.id} strength ${rule.strength} within ${low}-${high}`)
    t.ok(rule.rationale.length > 10, `${rule.id} explains itself`)
  }
})

t.test('generic rules say so in their rationale', async (t) => {
  for (const rule of CLASSIFIER_RULES) {
    t.equal(tierOf(rule) === 'generic', rule.rationale.startsWith('Generic.'), rule.id)
  }
})

t.test('doubt is visible: a rule with alsoPossible ends in .ambiguous and its rationale starts "Ambiguous:"', async (t) => {
  for (const rule of CLASSIFIER_RULES) {
    const also = rule.alsoPossible
    t.equal(rule.id.endsWith('.ambiguous'), also !== undefined, `${rule.id} id`)
    t.equal(rule.rationale.startsWith('Ambiguous:'), also !== undefined, `${rule.id} rationale`)
    if (also === undefined) continue
    t.ok(also.length > 0 && also.every(isCategoryId), `${rule.id} names known categories`)
    t.notOk(also.includes(rule.category), `${rule.id} does not list its own category`)
  }
  t.ok(CLASSIFIER_RULES.filter((rule) => rule.alsoPossible !== undefined).length >= 5, 'the honestly ambiguous messages have rules')
})

t.test('every rule decides each of its own samples', async (t) => {
  for (const rule of CLASSIFIER_RULES) {
    t.ok(rule.samples.length > 0, `${rule.id} has a sample`)
    for (const sample of rule.samples) {
      const result = classifyFailure({ code: sample.code, message: sample.message, context: { engine: sample.engine ?? guessEngine(rule) } })
      t.same(result, { category: rule.category, rule: rule.id, side: rule.side }, `${rule.id}: ${sample.message}`)
    }
  }
})

function guessEngine (rule: ClassifierRule): string | undefined {
  return rule.kind === 'code' ? rule.match.engines?.[0] : undefined
}

t.test('an explicit category wins over every signal', async (t) => {
  const result = classifyFailure({
    category: 'cloud_mailbox_full',
    code: '161',
    message: 'Host1 failure: NO [AUTHENTICATIONFAILED] Authentication failed'
  })
  t.same(result, { category: 'cloud_mailbox_full', rule: 'explicit', side: 'cloud' })
})

t.test('an explicit category takes the side of its category', async (t) => {
  for (const category of CATEGORY_IDS) {
    const result = classifyFailure({ category, message: '' })
    t.equal(result.rule, 'explicit', category)
    t.ok(SIDES.includes(result.side), category)
  }
  t.equal(classifyFailure({ category: 'throttled', message: '' }).side, 'either')
  t.equal(classifyFailure({ category: 'unclassified', message: '' }).side, 'unknown')
})

t.test('a category that is not a known id is ignored and the signals decide', async (t) => {
  const result = classifyFailure({ category: 'made_up' as CategoryId, message: 'connect ECONNREFUSED 10.9.8.7:143' })
  t.same(result, { category: 'source_unreachable', rule: 'text.connection-refused', side: 'source' })
})

t.test('an unknown signal is unclassified by the fallback', async (t) => {
  t.same(classifyFailure({ message: 'the flux capacitor overheated' }), { category: 'unclassified', rule: 'fallback', side: 'unknown' })
  t.same(classifyFailure({ message: '' }), { category: 'unclassified', rule: 'fallback', side: 'unknown' })
  t.same(classifyFailure({ code: 'E_SOMETHING', message: 'oops' }), { category: 'unclassified', rule: 'fallback', side: 'unknown' })
  t.same(classifyFailure({ code: null, message: 'oops', context: {} }), { category: 'unclassified', rule: 'fallback', side: 'unknown' })
})

t.test('precedence', async (t) => {
  t.test('an engine code beats a response code in the message', async (t) => {
    const result = classifyFailure({ code: '162', message: 'Host2 failure: NO [UNAVAILABLE] try later' })
    t.equal(result.rule, 'imapsync.exit.162')
  })

  t.test('a response code beats wording', async (t) => {
    const result = classifyFailure({ message: 'a NO [AUTHENTICATIONFAILED] Login timed out waiting for the password backend' })
    t.equal(result.rule, 'imap.code.authenticationfailed')
    t.equal(result.category, 'source_sign_in_failed')
  })

  t.test('specific wording beats a generic exception name', async (t) => {
    const tls = classifyFailure({ code: 'MigrationTransientException', message: 'The remote certificate is invalid according to the validation procedure.' })
    t.same(tls, { category: 'source_tls_failed', rule: 'text.tls', side: 'source' })
    const denied = classifyFailure({ code: 'CommunicationErrorTransientException', message: 'The remote server returned an error: (401) Unauthorized.' })
    t.same(denied, { category: 'source_sign_in_failed', rule: 'text.access-denied', side: 'source' })
  })

  t.test('a generic exception name decides when the wording says nothing more', async (t) => {
    const result = classifyFailure({ code: 'MigrationTransientException', message: 'MigrationTransientException: the operation will be retried' })
    t.same(result, { category: 'server_busy', rule: 'exchange.migration-transient', side: 'either' })
  })

  t.test('specific wording beats a generic response code', async (t) => {
    const gmail = classifyFailure({ message: 'NO [OVERQUOTA] Account exceeded command or bandwidth limits.' })
    t.equal(gmail.category, 'throttled')
    const dovecot = classifyFailure({ message: 'NO [UNAVAILABLE] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=20)' })
    t.equal(dovecot.category, 'throttled')
    const plain = classifyFailure({ message: 'NO [OVERQUOTA] Rejected' })
    t.equal(plain.rule, 'imap.code.overquota')
  })

  t.test('the cause beats the symptom when one message names both', async (t) => {
    const tls = classifyFailure({ message: "We weren't able to connect: the server certificate has expired" })
    t.equal(tls.rule, 'text.tls')
    const signIn = classifyFailure({ message: 'Could not connect to the mailbox: access is denied' })
    t.equal(signIn.rule, 'text.access-denied')
    const busy = classifyFailure({ message: 'NO [UNAVAILABLE] Temporary authentication failure' })
    t.equal(busy.rule, 'text.temporary-failure')
  })

  t.test('a name-resolution failure is not a temporary server failure', async (t) => {
    const result = classifyFailure({ message: 'getaddrinfo: Temporary failure in name resolution' })
    t.equal(result.category, 'source_unreachable')
  })
})

t.test('side: Host1 is the on-premises source, Host2 the cloud target', async (t) => {
  t.test('an imapsync code that names no host takes the side from the message', async (t) => {
    t.equal(classifyFailure({ code: '16', message: 'Host1 failure: Error login on [imap.northwind.lan] with user [ola]' }).category, 'source_sign_in_failed')
    t.equal(classifyFailure({ code: '16', message: 'Host2 failure: Error login on [imap.example.org] with user [ola@example.org]' }).category, 'cloud_sign_in_failed')
    t.equal(classifyFailure({ code: '16', message: 'login refused' }).category, 'source_sign_in_failed')
    t.equal(classifyFailure({ code: '10', message: 'Host2 failure: can not open imap connection on host2 [imap.example.org]' }).category, 'cloud_unreachable')
    t.equal(classifyFailure({ code: '12', message: 'Host2 failure: Can not go to tls encryption on host2 [imap.example.org]' }).category, 'cloud_unreachable')
  })

  t.test('user1 and user2 count like Host1 and Host2', async (t) => {
    t.equal(classifyFailure({ code: '16', message: 'Authentication failed for user2 [pat@example.org]' }).category, 'cloud_sign_in_failed')
    t.equal(classifyFailure({ code: '16', message: 'Authentication failed for user1 [pat]' }).category, 'source_sign_in_failed')
  })

  t.test('the first host the message names decides', async (t) => {
    const result = classifyFailure({ message: 'Host2 failure: Error login with user [quinn@example.org] (Host1 was fine): NO Invalid credentials' })
    t.equal(result.category, 'cloud_sign_in_failed')
  })

  t.test('response codes and wording follow Host2 too', async (t) => {
    t.same(
      classifyFailure({ message: 'Host2: 3 NO [AUTHENTICATIONFAILED] Invalid credentials' }),
      { category: 'cloud_sign_in_failed', rule: 'imap.code.sign-in.host2', side: 'cloud' }
    )
    t.equal(classifyFailure({ message: 'Host2 failure: getaddrinfo ENOTFOUND imap.example.org' }).category, 'cloud_unreachable')
    t.equal(classifyFailure({ message: 'Host1 failure: getaddrinfo ENOTFOUND imap.northwind.lan' }).category, 'source_unreachable')
  })

  t.test('a server whose name starts with host2 is not imapsync\'s Host2', async (t) => {
    const result = classifyFailure({ message: 'Connection refused by host2.northwind.lan' })
    t.same(result, { category: 'source_unreachable', rule: 'text.connection-refused', side: 'source' })
    t.equal(classifyFailure({ message: 'Connection refused by host2-mail' }).category, 'source_unreachable')
  })

  t.test('codes that name the host ignore the message', async (t) => {
    t.equal(classifyFailure({ code: '101', message: 'Host2 mentioned in passing' }).category, 'source_unreachable')
    t.equal(classifyFailure({ code: '161', message: 'Host2 mentioned in passing' }).category, 'source_sign_in_failed')
  })
})

t.test('side markers beyond Host1/Host2', async (t) => {
  const cases: Array<[string, CategoryId]> = [
    ['Authentication failed on the target', 'cloud_sign_in_failed'],
    ['The destination account has been locked', 'cloud_sign_in_failed'],
    ['Login failed for the source account', 'source_sign_in_failed'],
    ["Couldn't connect to the target server: connection refused", 'cloud_unreachable'],
    ['The source server timed out', 'source_unreachable'],
    ['Target: certificate verify failed', 'cloud_unreachable'],
    ['Connection refused by the target', 'cloud_unreachable']
  ]
  for (const [message, category] of cases) t.equal(classifyFailure({ message }).category, category, message)
  t.equal(classifyFailure({ code: '16', message: 'Authentication failed on the destination' }).category, 'cloud_sign_in_failed', 'an imapsync status takes the side marker too')
  t.equal(classifyFailure({ message: 'Connection refused by resource-gw.northwind.lan' }).category, 'source_unreachable', 'resource is not source, and no marker means the source')
})

t.test('tenses, contractions and word orders', async (t) => {
  const cases: Array<[string, CategoryId]> = [
    ['The password has expired.', 'source_sign_in_failed'],
    ['Password expired', 'source_sign_in_failed'],
    ['The credentials for svc-imap have expired', 'source_sign_in_failed'],
    ['The account has been disabled.', 'source_sign_in_failed'],
    ['The account is disabled', 'source_sign_in_failed'],
    ['This account was locked out after too many attempts', 'source_sign_in_failed'],
    ["We weren't able to log on to the server", 'source_sign_in_failed'],
    ["The target mailbox wasn't found", 'cloud_mailbox_missing'],
    ["The destination mailbox doesn't exist", 'cloud_mailbox_missing'],
    ['The target mailbox does not exist', 'cloud_mailbox_missing'],
    ['Cannot find a recipient that has mailbox GUID 6a8f4a3b-2b1c-4d5e-9f60-718293a4b5c6', 'cloud_mailbox_missing'],
    ["Couldn't find the target mailbox for kim@example.org", 'cloud_mailbox_missing'],
    ['The message exceeds target quota', 'cloud_mailbox_full'],
    ['The mailbox has exceeded its quota', 'cloud_mailbox_full'],
    ['Quota exceeded', 'cloud_mailbox_full'],
    ["The server didn't respond in time", 'source_unreachable'],
    ['Request is throttled. Suggested Backoff Time: 5000 milliseconds', 'throttled']
  ]
  for (const [message, category] of cases) t.equal(classifyFailure({ message }).category, category, message)
})

t.test('a mailbox-database-full stall is not a full user mailbox', async (t) => {
  const stall = classifyFailure({ code: 'StalledDueToTarget_MDBFull', message: 'StalledDueToTarget_MDBFull' })
  t.same(stall, { category: 'throttled', rule: 'mrs.stalled.target-mdb-full', side: 'cloud' })
  t.equal(classifyFailure({ message: 'The move stalled: StalledDueToTarget_MDBFull' }).rule, 'mrs.stalled.target-mdb-full', 'named in the message')
  t.equal(classifyFailure({ message: 'The mailbox database is full.' }).category, 'server_busy')
  t.equal(classifyFailure({ message: 'The mailbox is full.' }).category, 'cloud_mailbox_full')
  t.not(classifyFailure({ code: 'StalledDueToTarget_DiskLatency', message: 'StalledDueToTarget_DiskLatency' }).category, 'cloud_mailbox_full')
})

t.test('names', async (t) => {
  t.test('count in the code field or, a tier weaker, in the message', async (t) => {
    t.equal(classifyFailure({ message: 'Error: ErrorExceededConnectionCount' }).rule, 'ews.throttling-policy')
    t.equal(classifyFailure({ code: 'ErrorAccessDenied', message: 'then ErrorServerBusy' }).rule, 'ews.access-denied', 'the code field beats a name in the message')
    t.equal(classifyFailure({ message: 'Fatal error RecipientNotFoundPermanentException has occurred. [AUTHENTICATIONFAILED]' }).rule, 'exchange.recipient-not-found', 'a name in the message beats a response code')
    t.equal(NAME_IN_MESSAGE_DISCOUNT, STRENGTH.code - STRENGTH.responseCode - 100)
  })

  t.test('the most specific wrapped exception decides', async (t) => {
    const message = 'MigrationServerConnectionFailedException: could not be completed. RemoteNetworkErrorTransientException: unable to reach. SslStreamFailureException: TLS negotiation failed.'
    t.equal(classifyFailure({ message }).rule, 'exchange.ssl-stream-failure')
    t.equal(classifyFailure({ code: 'MigrationServerConnectionFailedException', message }).rule, 'exchange.ssl-stream-failure', 'a generic code loses to a specific name')
  })

  t.test('are whole identifiers, and only known ones count', async (t) => {
    t.equal(classifyFailure({ message: 'ErrorServerBusyness happened' }).rule, 'fallback')
    t.equal(classifyFailure({ message: 'StalledDueToTarget_SomethingNew' }).rule, 'mrs.stalled.resource-health', 'a new member of a StalledDueTo family')
  })
})

t.test('the indexed lookup decides exactly as trying every rule in order', async (t) => {
  const inputs = [
    ...CLASSIFIER_RULES.flatMap((rule) => rule.samples.map((sample) => ({ code: sample.code, message: sample.message }))),
    ...CLASSIFIER_RULES.flatMap((rule) => rule.samples.map((sample) => ({ code: '16', message: `Host2: ${sample.message}` }))),
    { code: 'Failed', message: 'NO [UNAVAILABLE] StalledDueToCI then ErrorServerBusy' },
    { code: 'MigrationTransientException', message: 'ErrorQuotaExceeded [LIMIT] certificate' }
  ]
  for (const input of inputs) t.same(classifyFailure(input), classifyFailureByScan(input), `${input.code ?? ''} ${input.message.slice(0, 60)}`)
})

t.test('codes', async (t) => {
  t.test('are compared without regard to case or surrounding space', async (t) => {
    t.equal(classifyFailure({ code: ' errorquotaexceeded ', message: '' }).rule, 'ews.quota-exceeded')
  })

  t.test('may be the symbolic imapsync name', async (t) => {
    t.equal(classifyFailure({ code: 'EXIT_OVERQUOTA', message: '' }).rule, 'imapsync.exit.113')
  })

  t.test('may be a fully qualified exception name', async (t) => {
    const result = classifyFailure({ code: 'Microsoft.Exchange.MailboxReplicationService.TooManyLargeItemsPermanentException', message: '' })
    t.equal(result.rule, 'exchange.too-many-large-items')
  })

  t.test('imapsync exit statuses only apply to imapsync or to an unnamed engine', async (t) => {
    t.equal(classifyFailure({ code: '113', message: 'boom', context: { engine: 'graph' } }).rule, 'fallback')
    t.equal(classifyFailure({ code: '113', message: 'boom', context: { engine: 'IMAPSync' } }).rule, 'imapsync.exit.113')
    t.equal(classifyFailure({ code: '113', message: 'boom', context: { engine: '' } }).rule, 'imapsync.exit.113')
    t.equal(classifyFailure({ code: '113', message: 'boom' }).rule, 'imapsync.exit.113')
  })

  t.test('an empty code counts as no code', async (t) => {
    t.equal(classifyFailure({ code: '   ', message: 'timed out' }).rule, 'text.timed-out')
  })
})

t.test('wording', async (t) => {
  t.test('is matched whatever the case', async (t) => {
    t.equal(classifyFailure({ message: 'QUOTA EXCEEDED' }).rule, 'text.mailbox-full')
    t.equal(classifyFailure({ message: 'connection REFUSED' }).rule, 'text.connection-refused')
  })

  t.test('reads typographic apostrophes as plain ones', async (t) => {
    t.equal(classifyFailure({ message: 'We couldn’t sign in to this account.' }).rule, 'text.sign-in-failed')
    t.equal(classifyFailure({ message: 'A recipient wasn’t found on the target.' }).rule, 'text.mailbox-missing')
  })

  t.test('reads line breaks and runs of spaces as one space', async (t) => {
    t.equal(classifyFailure({ message: 'Unable to connect to imap.northwind.lan:\n\n  Connection\trefused' }).rule, 'text.connection-refused')
    t.equal(classifyFailure({ message: 'Quota\r\nexceeded' }).rule, 'text.mailbox-full')
  })

  t.test('needs whole words', async (t) => {
    t.equal(classifyFailure({ message: 'proxycertificates' }).rule, 'fallback')
    t.equal(classifyFailure({ message: 'timeouts' }).rule, 'fallback')
  })

  t.test('past the 8 KiB message limit is ignored', async (t) => {
    const padding = 'x'.repeat(MESSAGE_LIMIT)
    t.equal(classifyFailure({ message: `${padding} Connection refused` }).rule, 'fallback')
    t.equal(classifyFailure({ message: `Connection refused ${padding}` }).rule, 'text.connection-refused')
  })
})

t.test('classification of a category-less event never picks sync_stalled, which only the service detects', async (t) => {
  t.notOk(CLASSIFIER_RULES.some((rule) => rule.category === 'sync_stalled'))
})
