import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { exceptionName, exchangeEvents, exportRecords, type ExchangeReading } from '../../src/reporter/exchange-export.js'
import { exportTimeZone, luxonFormat, readExportDate } from '../../src/reporter/export-dates.js'
import { PACKAGE_ROOT } from '../helpers/service-process.js'

const FIXTURES = join(PACKAGE_ROOT, 'test', 'fixtures', 'exchange')
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name))
// The fixtures' culture dates are Vienna's local time; the failed user without any time gets the export's.
const READING: ExchangeReading = { timeZone: 'Europe/Vienna', exportedAt: new Date('2023-08-30T10:00:00Z') }
const read = (bytes: Buffer, reading: Partial<ExchangeReading> = {}) => exchangeEvents(exportRecords(bytes), { ...READING, ...reading })

const JANE_MESSAGE = 'Error MigrationPermanentExeption: Special credentials are required in order to access this IMAP account. --> ' +
  'Special credentials are required in order to access this IMAP account. --> Imap server reported an error during LoginCommand ' +
  "with the following alert: 'Application-specific password required: https://support.google.com/accounts/answer/185833 (failure)."
const ENGINE = 'exchange'

// The mapping table of the README, applied to the six users every fixture holds.
const EXPECTED = [
  {
    batchId: 'IMAP-Wave2',
    mailbox: 'jane.doe@contoso.com',
    occurredAt: '2023-08-30T10:00:00.000Z',
    outcome: 'failed',
    failure: { code: 'MigrationPermanentExeption', message: JANE_MESSAGE },
    context: { engine: ENGINE, migrationType: 'imap' }
  },
  { batchId: 'Hybrid-Wave1', mailbox: 'john.roe@contoso.com', occurredAt: '2023-08-29T12:14:05.000Z', outcome: 'synced' },
  {
    batchId: 'Hybrid-Wave1',
    mailbox: 'john.roe@contoso.com',
    occurredAt: '2023-08-29T12:14:05.000Z',
    outcome: 'failed',
    failure: { category: 'items_skipped', message: '22 items skipped; DataConsistencyScore Good' },
    context: { engine: ENGINE, migrationType: 'exchange' }
  },
  {
    batchId: 'Move-users-DAG1-1',
    mailbox: 'uwe.egly@tuwien.ac.at',
    occurredAt: '2021-08-25T13:06:09.000Z',
    outcome: 'failed',
    failure: {
      code: 'CommunicationErrorTransientException',
      message: "CommunicationErrorTransientException: The call to 'https://mail.tuwien.ac.at/EWS/mrsproxy.svc' failed. Error details: The operation has timed out."
    },
    context: { engine: ENGINE, migrationType: 'exchange' }
  },
  {
    batchId: 'Hybrid-Wave-1-Sales',
    mailbox: 'maria.garcia@contoso.com',
    occurredAt: '2023-08-30T07:00:00.000Z',
    outcome: 'failed',
    failure: { code: 'StalledDueToTarget_MdbAvailability', message: 'Status Syncing, StatusDetail StalledDueToTarget_MdbAvailability' },
    context: { engine: ENGINE, migrationType: 'exchange' }
  },
  { batchId: 'Hybrid-Wave1', mailbox: 'ana.silva@contoso.com', occurredAt: '2023-08-28T21:30:00.000Z', outcome: 'synced' }
]

function withoutIds (events: Array<{ id: string }>): unknown[] {
  return events.map(({ id, ...rest }) => rest)
}

t.test('PowerShell 7 JSON maps as the table says', async (t) => {
  const report = read(fixture('ps7.json'))
  t.same(withoutIds(report.events), EXPECTED)
  t.match(report, { users: 6, failed: 3, synced: 2, itemsSkipped: 1, notReported: { Queued: 1 } })
  t.ok(report.events.every((event) => /^exo-[0-9a-f]{32}$/.test(event.id)))
  t.equal(new Set(report.events.map((event) => event.id)).size, report.events.length, 'every event has its own id')
})

t.test('every export form of the same users gives the same events, ids included', async (t) => {
  const reference = read(fixture('ps7.json')).events
  t.same(read(fixture('ps51.json')).events, reference, 'Windows PowerShell 5.1 JSON: \\/Date(ms)\\/, one wrapped as { value, DisplayHint, DateTime }')
  t.same(read(fixture('with-type.csv')).events, reference, 'Export-Csv with the #TYPE line, en-US dates')
  t.same(read(fixture('no-type.csv')).events, reference, 'Export-Csv -NoTypeInformation')
  t.same(read(fixture('de-at.csv')).events, reference, 'Export-Csv -UseCulture in de-AT: ";" and dd.MM.yyyy HH:mm:ss')
  t.same(read(fixture('fr-fr.csv'), { dateFormat: 'dd/MM/yyyy HH:mm:ss' }).events, reference, 'fr-FR dates with --date-format')
  const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(fixture('ps7.json').toString('utf8'), 'utf16le')])
  t.same(read(utf16).events, reference, 'UTF-16LE with a BOM, as Out-File writes in 5.1')
  const wrapped = Buffer.from(JSON.stringify({ value: JSON.parse(fixture('ps7.json').toString('utf8')), Count: 6 }))
  t.same(read(wrapped).events, reference, 'ConvertTo-Json -InputObject in 5.1: { value: [...], Count }')
})

t.test('reading the same export again gives the same ids; the export time only moves failures without a time', async (t) => {
  const first = read(fixture('ps7.json')).events
  t.same(read(fixture('ps7.json')).events, first)
  const later = read(fixture('ps7.json'), { exportedAt: new Date('2023-08-31T10:00:00Z') }).events
  t.not(later[0].id, first[0].id, 'jane has no time of her own: a later export is a later failure')
  t.equal(later[0].occurredAt, '2023-08-31T10:00:00.000Z')
  t.same(later.slice(1), first.slice(1), 'records with their own times are unchanged')
})

t.test('a nested Error object gives its messages joined and the exception name as code', async (t) => {
  const report = read(fixture('nested-error.json'))
  t.same(withoutIds(report.events), [{
    batchId: 'IMAP-Wave2',
    mailbox: 'jane.doe@contoso.com',
    occurredAt: '2023-08-30T10:00:00.000Z',
    outcome: 'failed',
    failure: {
      code: 'MigrationPermanentExeption',
      message: 'Error MigrationPermanentExeption: Special credentials are required in order to access this IMAP account. --> ' +
        'Special credentials are required in order to access this IMAP account. --> Microsoft.Exchange.Migration.ImapServerException: ' +
        "Imap server reported an error during LoginCommand with the following alert: 'Application-specific password required: " +
        'https://support.google.com/accounts/answer/185833 (failure).'
    },
    context: { engine: ENGINE, migrationType: 'imap' }
  }])
  const named = exchangeEvents([{ identity: 'a@contoso.com', batchid: 'b', status: 'Failed', error: { Message: 'Mailbox locked.', ClassName: 'Microsoft.Exchange.MailboxReplicationService.MailboxIsLockedTransientException' } }], READING)
  t.match(named.events[0].failure, { code: 'MailboxIsLockedTransientException', message: 'Mailbox locked.' }, 'a type name field wins over the text')
})

t.test('a culture date without --date-format is refused, naming the record and the way out', async (t) => {
  t.throws(() => read(fixture('fr-fr.csv')), {
    name: 'ReportInputError',
    message: /record 2 \(john\.roe@contoso\.com\): "29\/08\/2023 14:14:05" is not a date form this reader knows; give the export's form with --date-format/
  })
  t.throws(() => read(fixture('de-at.csv'), { dateFormat: 'M/d/yyyy h:mm:ss tt' }), { message: /"29\.08\.2023 14:14:05" is not a date of the form "M\/d\/yyyy h:mm:ss tt"/ })
})

t.test('records the reader cannot map are all named, and nothing is returned', async (t) => {
  const records = [
    { identity: 'not-an-address', batchid: 'b', status: 'Failed' },
    { identity: 'a@contoso.com', status: 'Synced' },
    { identity: 'b@contoso.com', batchid: 'b', status: 4 }
  ]
  t.throws(() => exchangeEvents(records, READING), {
    message: 'record 1 (not-an-address): no e-mail address in Identity, MailboxEmailAddress or EmailAddress\n' +
      'record 2 (a@contoso.com): no BatchId; give the batch with --batch\n' +
      'record 3 (b@contoso.com): Status is 4, not a name; export it as text (ConvertTo-Json -EnumsAsStrings, or select @{n=\'Status\';e={"$($_.Status)"}})'
  })
  t.equal(exchangeEvents(records.slice(1, 2), { ...READING, batchId: 'given' }).events[0].batchId, 'given', '--batch fills in and overrides BatchId')
})

t.test('status words are read case-insensitively, and MailboxEmailAddress beats Identity', async (t) => {
  const { events, notReported } = exchangeEvents([
    { identity: 'X/1', mailboxemailaddress: 'Carol@Contoso.com', batchid: 'b', status: 'incrementalsynced', lastsuccessfulsynctime: '2023-08-01T00:00:00Z' },
    { identity: 'd@contoso.com', batchid: 'b', status: 'CompletionFailed', errorsummary: 'Error: MigrationTransientException: try again' },
    { identity: 'e@contoso.com', batchid: 'b' }
  ], READING)
  t.match(events, [
    { mailbox: 'carol@contoso.com', outcome: 'synced', occurredAt: '2023-08-01T00:00:00.000Z' },
    { mailbox: 'd@contoso.com', outcome: 'failed', failure: { code: 'MigrationTransientException', message: 'Error: MigrationTransientException: try again' } }
  ])
  t.same(notReported, { 'no Status': 1 })
})

t.test('exception names as Exchange writes them', async (t) => {
  t.equal(exceptionName('Error MigrationPermanentExeption: Special credentials'), 'MigrationPermanentExeption')
  t.equal(exceptionName('Microsoft.Exchange.Migration.MigrationTransientException: x'), 'MigrationTransientException')
  t.equal(exceptionName('Error: TooManyLargeItemsPermanentException: x'), 'TooManyLargeItemsPermanentException')
  t.equal(exceptionName('The connection to the server could not be completed.'), null)
})

t.test('dates in every PowerShell form', async (t) => {
  const reading = { timeZone: 'UTC' }
  t.same(readExportDate('/Date(1693311245000)/', reading), new Date('2023-08-29T12:14:05Z'))
  t.same(readExportDate('/Date(1693311245000+0200)/', reading), new Date('2023-08-29T12:14:05Z'), 'the offset of the WCF form is only a hint')
  t.same(readExportDate('2023-08-29T14:14:05.1234567+02:00', reading), new Date('2023-08-29T12:14:05.123Z'), 'seven fraction digits')
  t.same(readExportDate('2023-08-29T14:14:05', { timeZone: 'UTC+2' }), new Date('2023-08-29T12:14:05Z'), 'no zone: --time-zone')
  t.same(readExportDate('8/29/2023 2:14:05 PM', reading), new Date('2023-08-29T14:14:05Z'))
  t.same(readExportDate('2023-08-29 14:14:05', reading), new Date('2023-08-29T14:14:05Z'), 'sortable, as sv-SE writes it')
  t.same(readExportDate('2023/08/29 14:14:05', { ...reading, dateFormat: 'yyyy/MM/dd H:mm:ss' }), new Date('2023-08-29T14:14:05Z'), 'ja-JP')
  t.equal(readExportDate('', reading), null)
  t.equal(readExportDate(null, reading), null)
  t.throws(() => readExportDate(1693311245000, reading), { name: 'ExportDateError' })
  t.throws(() => exportTimeZone('Mars/Olympus'), { message: /--time-zone "Mars\/Olympus" is not a time zone/ })
  t.equal(exportTimeZone(undefined), 'local')
})

t.test('.NET date formats become luxon formats', async (t) => {
  t.equal(luxonFormat('M/d/yyyy h:mm:ss tt'), 'M/d/yyyy h:mm:ss a')
  t.equal(luxonFormat('dd.MM.yyyy HH:mm:ss'), 'dd.MM.yyyy HH:mm:ss')
  t.equal(luxonFormat("dddd, dd 'de' MMMM yyyy HH:mm:ss.fff zzz"), "EEEE, dd 'de' MMMM yyyy HH:mm:ss.S ZZ")
})

t.test('an export that is neither JSON nor CSV with records is refused', async (t) => {
  t.throws(() => exportRecords(Buffer.from('')), { message: 'the export is empty' })
  t.throws(() => exportRecords(Buffer.from('[{"Identity": ')), { message: /^not valid JSON/ })
  t.throws(() => exportRecords(Buffer.from('[1]')), { message: 'record 1 is not an object' })
  t.throws(() => exportRecords(Buffer.from('"Identity","Status"\n"a@b.c","Failed","extra"\n')), { message: /^not a CSV export/ })
  t.same(exportRecords(Buffer.from('Identity;Status\r\nA@b.co;Failed\r\n', 'latin1')), [{ identity: 'A@b.co', status: 'Failed' }], 'unquoted, ";"')
  t.same(exportRecords(Buffer.from('"Identity","Error"\n"a@b.co","Caf\xe9 ferm\xe9"\n', 'latin1')), [{ identity: 'a@b.co', error: 'Café fermé' }], 'ANSI code page')
})
