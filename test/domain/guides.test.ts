import { isDeepStrictEqual } from 'node:util'
import t from 'tap'
import fc from 'fast-check'
import { guideCatalog, renderGuide, troubleshootingGuide } from '../../src/domain/guides.js'
import { CATEGORY_IDS, CREDENTIAL_MODES, MIGRATION_TYPES } from '../../src/domain/types.js'
import type { EventContext, Guide, GuideStep } from '../../src/domain/types.js'

function texts (guide: Guide): string[] {
  const walk = (steps: GuideStep[]): string[] => steps.flatMap((step) => [step.text, ...walk(step.steps)])
  return guide.tip === null ? walk(guide.steps) : [...walk(guide.steps), guide.tip]
}

// Every combination of known and unknown context values.
const CONTEXTS: EventContext[] = [undefined, ...CREDENTIAL_MODES].flatMap((credentialMode) =>
  [undefined, ...MIGRATION_TYPES].flatMap((migrationType) =>
    [undefined, 'imap.contoso.com'].map((server) => ({ credentialMode, migrationType, server }))))

const SUPER_USER_STEP: GuideStep = {
  text: 'If the batch signs in with an administrator account that has super-user rights:',
  steps: [
    { text: 'Check that the administrator\'s user name and password still match the ones in the migration CSV file used for the first migration.', steps: [] },
    { text: 'Check that the user name given for this mailbox still matches the one in that CSV file.', steps: [] },
    { text: 'Check that the administrator account still has the rights it needs to open this user\'s mailbox.', steps: [] }
  ]
}

t.test('every category has a guide with at least one step', async (t) => {
  for (const id of CATEGORY_IDS) {
    t.ok(troubleshootingGuide(id).steps.length > 0, id)
  }
})

t.test('every rendered step has text and a nested step list', async (t) => {
  const check = (steps: GuideStep[]): boolean => steps.every((step) =>
    typeof step.text === 'string' && step.text.length > 0 && Array.isArray(step.steps) && check(step.steps))
  for (const id of CATEGORY_IDS) {
    for (const context of CONTEXTS) t.ok(check(troubleshootingGuide(id, context).steps), id)
  }
})

t.test('no rendered text keeps a template placeholder', async (t) => {
  for (const id of CATEGORY_IDS) {
    for (const context of CONTEXTS) {
      t.same(texts(troubleshootingGuide(id, context)).filter((text) => /\{\w+\}/.test(text)), [], id)
    }
  }
})

t.test('the super-user checks are nested under one step, worded as a fact, when credentialMode is admin', async (t) => {
  t.same(troubleshootingGuide('source_sign_in_failed', { credentialMode: 'admin' }).steps[2],
    { ...SUPER_USER_STEP, text: 'The batch signs in with an administrator account that has super-user rights:' })
  t.equal(troubleshootingGuide('source_sign_in_failed', { credentialMode: 'admin', migrationType: 'imap' }).steps[2].text,
    'The batch signs in with an administrator account that has super-user (master user) rights:')
  t.equal(troubleshootingGuide('source_sign_in_failed', { credentialMode: 'admin', migrationType: 'exchange' }).steps[2].text,
    'The batch signs in with an administrator account that has full access to the users\' mailboxes:')
})

t.test('the super-user checks appear when credentialMode is unknown', async (t) => {
  t.same(troubleshootingGuide('source_sign_in_failed').steps[2], SUPER_USER_STEP)
  t.same(troubleshootingGuide('source_sign_in_failed', {}).steps[2], SUPER_USER_STEP)
})

t.test('the super-user checks are left out when credentialMode is user', async (t) => {
  const guide = troubleshootingGuide('source_sign_in_failed', { credentialMode: 'user' })
  t.same(guide.steps.map((step) => step.text), [
    'Check that the user\'s account still exists on the on-premises server and has not been disabled, locked out or renamed.',
    'Check that the account\'s user name and password still match the ones in the migration CSV file the mailbox was first migrated with; a password changed since then stops the sync.',
    'Sign in to the on-premises server with an IMAP or Exchange client using the same account and password to see the server\'s own error message.'
  ])
})

t.test('the connection tip names IMAP and the server for an IMAP migration', async (t) => {
  t.equal(troubleshootingGuide('source_unreachable', { migrationType: 'imap', server: 'imap.contoso.com' }).tip,
    'To test the connection yourself, connect to imap.contoso.com with an IMAP client using the same connection settings as the batch\'s first migration, or ping imap.contoso.com to see whether it answers at all (some servers ignore ping even when they are up).')
})

t.test('the connection tip names Exchange for an Exchange migration', async (t) => {
  t.equal(troubleshootingGuide('source_unreachable', { migrationType: 'exchange' }).tip,
    'To test the connection yourself, connect to the on-premises server with an Exchange client using the same connection settings as the batch\'s first migration, or ping the on-premises server to see whether it answers at all (some servers ignore ping even when they are up).')
})

t.test('the connection tip names both clients when the migration type is unknown', async (t) => {
  t.equal(troubleshootingGuide('source_unreachable').tip,
    'To test the connection yourself, connect to the on-premises server with an IMAP or Exchange client using the same connection settings as the batch\'s first migration, or ping the on-premises server to see whether it answers at all (some servers ignore ping even when they are up).')
})

t.test('sync_stalled has the same connection tip as source_unreachable', async (t) => {
  const context: EventContext = { migrationType: 'imap', server: 'mail.fabrikam.com' }
  t.equal(troubleshootingGuide('sync_stalled', context).tip, troubleshootingGuide('source_unreachable', context).tip)
})

t.test('sync_stalled checks the service and the server, then starts a new migration batch', async (t) => {
  t.same(troubleshootingGuide('sync_stalled', { migrationType: 'imap', server: 'imap.contoso.com' }).steps, [
    { text: 'Check that the IMAP service is running on imap.contoso.com.', steps: [] },
    { text: 'Check that imap.contoso.com is up and that you can connect to it from wherever the sync engine runs.', steps: [] },
    { text: 'Check that the sync engine for this batch is still running and scheduled: a mailbox also counts as stalled when the engine itself stops reporting.', steps: [] },
    { text: 'If the service runs and the server answers, start a new migration batch containing only the mailboxes that stopped synchronizing; the migration system then tries to sync them again.', steps: [] }
  ])
})

t.test('cloud_mailbox_full starts by freeing up space in the cloud mailbox', async (t) => {
  t.equal(troubleshootingGuide('cloud_mailbox_full').steps[0].text,
    'Free up space in the user\'s cloud mailbox: delete or move mail they no longer need, and empty Deleted Items.')
})

t.test('items_skipped says that nothing is blocked', async (t) => {
  t.equal(troubleshootingGuide('items_skipped').steps[0].text,
    'Nothing is blocked: the sync left out some items, copied everything else, and keeps running.')
})

t.test('a blank server name counts as unknown', async (t) => {
  t.same(troubleshootingGuide('source_unreachable', { server: '  ' }), troubleshootingGuide('source_unreachable'))
})

t.test('a server name is inserted verbatim, never read as a pattern or placeholder', async (t) => {
  const server = '$& {client} $1 .*'
  t.equal(troubleshootingGuide('sync_stalled', { migrationType: 'imap', server }).steps[0].text,
    'Check that the IMAP service is running on $& {client} $1 .*.')
})

t.test('no guide text contains a sentence copied from the seed article', async (t) => {
  const seedSentences = [
    'Confirm that the account on the on-premises messaging system still exists.',
    'Verify that the current user name and password for the account are the same as those used in the CSV file when the mailbox was initially migrated.',
    'Verify that the current user name and password for the administrator account are the same as those used in the CSV file when the mailbox was initially migrated.',
    'Verify that current user name for the mailbox is the same as the one used in the CSV file when the mailbox was initially migrated.',
    'Verify that the administrator account has the necessary permissions to access the user account.',
    'Verify that the messaging system service is running on the on-premises server.',
    'Verify that the on-premises server is available and that you can connect to it.',
    'Use an IMAP or Exchange client to connect to the on-premises server, depending on the type of migration you are running.',
    'Use the same connection settings that you used when you ran the initial migration batch.',
    'Or use the PING command to test whether you can communicate with the on-premises messaging server.',
    'Free up space in the user\'s cloud-based mailbox.',
    'start a new migration batch for the mailboxes that aren\'t being synchronized',
    'This will cause the migration system to try to synchronize the mailboxes again.'
  ].map((sentence) => sentence.toLowerCase())
  for (const id of CATEGORY_IDS) {
    for (const context of CONTEXTS) {
      const copied = texts(troubleshootingGuide(id, context))
        .filter((text) => seedSentences.some((sentence) => text.toLowerCase().includes(sentence)))
      t.same(copied, [], id)
    }
  }
})

t.test('any context renders every guide without throwing, the same way each time', async (t) => {
  const context = fc.record({
    engine: fc.string(),
    migrationType: fc.constantFrom(...MIGRATION_TYPES),
    server: fc.string({ unit: 'binary', maxLength: 255 }),
    credentialMode: fc.constantFrom(...CREDENTIAL_MODES)
  }, { requiredKeys: [] })
  t.doesNotThrow(() => fc.assert(fc.property(fc.constantFrom(...CATEGORY_IDS), context, (id, ctx) =>
    isDeepStrictEqual(troubleshootingGuide(id, ctx), troubleshootingGuide(id, ctx)))))
})

t.test('a remembered guide is exactly what rendering afresh gives, whatever was rendered before it', async (t) => {
  const context = fc.record({
    migrationType: fc.constantFrom(...MIGRATION_TYPES),
    server: fc.oneof(fc.constantFrom('imap.contoso.com', 'mail.fabrikam.com', ' ', 'the on-premises server', '<host>'), fc.string({ maxLength: 20 })),
    credentialMode: fc.constantFrom(...CREDENTIAL_MODES)
  }, { requiredKeys: [] })
  t.doesNotThrow(() => fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom(...CATEGORY_IDS), context), { minLength: 1, maxLength: 30 }), (renders) =>
    renders.every(([id, ctx]) => isDeepStrictEqual(troubleshootingGuide(id, ctx), renderGuide(id, ctx))))))
})

t.test('a remembered guide is frozen, so no caller can change it for the next one', async (t) => {
  const guide = troubleshootingGuide('source_unreachable', { server: 'imap.contoso.com' })
  t.ok(Object.isFrozen(guide) && Object.isFrozen(guide.steps) && Object.isFrozen(guide.steps[0]))
  t.throws(() => { (guide.steps as GuideStep[]).push({ text: 'x', steps: [] }) })
  t.equal(troubleshootingGuide('source_unreachable', { server: 'imap.contoso.com' }), guide, 'the same object is handed out again')
})

t.test('a known server appears verbatim in the connection tip', async (t) => {
  t.doesNotThrow(() => fc.assert(fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 255 }), (server) => {
    fc.pre(server.trim() !== '')
    return troubleshootingGuide('source_unreachable', { server }).tip?.includes(`ping ${server.trim()} `) === true
  })))
})

t.test('the catalog lists every category in order with its personalised guide', async (t) => {
  const context: EventContext = { credentialMode: 'user', migrationType: 'exchange', server: 'mail.contoso.com' }
  const catalog = guideCatalog(context)
  t.same(catalog.map((entry) => entry.id), [...CATEGORY_IDS])
  for (const entry of catalog) t.same(entry.guide, troubleshootingGuide(entry.id, context), entry.id)
})

// Advice that only fits one kind of migration, and must not reach the other.
const IMAP_ONLY = [/\b993\b/, /\b143\b/, /-starttls imap/i, /\bIMAP\b/, /Dovecot/i, /master user/i]
const EXCHANGE_ONLY = [/\bEWS\b/, /Outlook Anywhere/i, /Exchange throttling/i, /Exchange client/i, /Exchange service/i, /:443 -servername/]

t.test('every guide reads right for each migrationType x credentialMode', async (t) => {
  for (const id of CATEGORY_IDS) {
    for (const migrationType of MIGRATION_TYPES) {
      for (const credentialMode of CREDENTIAL_MODES) {
        for (const server of [undefined, 'mail.contoso.com']) {
          const label = `${id} ${migrationType} ${credentialMode} ${server ?? '-'}`
          const all = texts(troubleshootingGuide(id, { migrationType, credentialMode, server })).join('\n')
          const wrong = migrationType === 'exchange' ? IMAP_ONLY : EXCHANGE_ONLY
          t.same(wrong.filter((pattern) => pattern.test(all)).map(String), [], `${label}: no advice for the other migration type`)
          t.notMatch(all, /\bIf the batch signs in with an administrator\b/, `${label}: the credential mode is known, so no "if"`)
          if (credentialMode === 'user') t.notMatch(all, /administrator account that has/, `${label}: no administrator checks`)
          t.notMatch(all, /\{\w+\}/, `${label}: no placeholder left`)
        }
      }
    }
  }
  // The TLS guide names the right port and command for each type.
  t.match(troubleshootingGuide('source_tls_failed', { migrationType: 'exchange', server: 'mail.contoso.com' }).tip, /openssl s_client -connect mail\.contoso\.com:443/)
  t.match(troubleshootingGuide('source_tls_failed', { migrationType: 'imap', server: 'imap.contoso.com' }).tip, /-connect imap\.contoso\.com:143 -starttls imap/)
  t.match(texts(troubleshootingGuide('source_tls_failed')).join('\n'), /993.*443/s)
})
