import t from 'tap'
import { buildTestApp, failedEvent, postEvent, syncedEvent, type TestApp } from './helpers/app.js'

/** Parses RFC 4180 CSV (quoted cells with "" and line breaks) into rows of cells. */
function parseCsv (text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') { cell += '"'; i++ } else if (char === '"') quoted = false
      else cell += char
    } else if (char === '"') quoted = true
    else if (char === ',') { row.push(cell); cell = '' } else if (char === '\r' && text[i + 1] === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; i++ } else cell += char
  }
  return rows
}

async function errorCsv (ctx: TestApp, query = ''): Promise<{ raw: Buffer, rows: Array<Record<string, string>> }> {
  const response = await ctx.inject({ method: 'GET', url: `/batches/batch-1/errors?format=csv${query}` })
  const raw = response.rawPayload
  const [header, ...rows] = parseCsv(raw.subarray(3).toString('utf8'))
  return { raw, rows: rows.map((cells) => Object.fromEntries(header.map((name, index) => [name, cells[index]]))) }
}

t.test('the error-report CSV starts with a UTF-8 BOM and keeps non-ASCII text intact', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, failedEvent({ mailbox: 'uni@contoso.com', failure: { code: '161', message: 'Ünïcødé 日本語: Anmeldung fehlgeschlagen' } }))
  const { raw, rows } = await errorCsv(ctx)
  t.same([...raw.subarray(0, 3)], [0xef, 0xbb, 0xbf])
  t.equal(rows[0].lastMessage, 'Ünïcødé 日本語: Anmeldung fehlgeschlagen')
  t.equal(rows[0].mailbox, 'uni@contoso.com')
})

t.test('the error-report CSV carries the troubleshooting steps, numbered and flattened, and the held-up-since time', async (t) => {
  const ctx = await buildTestApp(t)
  await postEvent(ctx, syncedEvent({ occurredAt: '2026-11-23T08:00:00Z' }))
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T06:00:00Z' }))
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T10:00:00Z' }))
  await postEvent(ctx, failedEvent({ occurredAt: '2026-11-23T11:00:00Z', failure: { category: 'items_skipped', message: '3 items' } }))
  await postEvent(ctx, failedEvent({ mailbox: 'bob@contoso.com', occurredAt: '2026-11-23T09:00:00Z', failure: { category: 'throttled', message: '=1+1' } }))
  await postEvent(ctx, syncedEvent({ mailbox: 'bob@contoso.com', occurredAt: '2026-11-23T09:30:00Z' }))
  const { rows } = await errorCsv(ctx, '&status=all')
  const by = Object.fromEntries(rows.map((row) => [`${row.mailbox} ${row.category}`, row]))
  // Reopened after the 08:00 sync: mail is held up since that sync, not since the first sighting at 06:00.
  t.equal(by['alice@contoso.com source_sign_in_failed'].heldUpSince, '2026-11-23T08:00:00.000Z')
  t.equal(by['alice@contoso.com items_skipped'].heldUpSince, '', 'a non-blocking failure holds nothing up')
  t.equal(by['bob@contoso.com throttled'].heldUpSince, '', 'a resolved failure holds nothing up')
  t.equal(by['bob@contoso.com throttled'].lastMessage, "'=1+1", 'the error report keeps the formula guard')

  const guide = (await ctx.inject({ method: 'GET', url: '/troubleshooting/source_sign_in_failed?migrationType=imap&credentialMode=user&server=imap.contoso.com' }))
    .json<{ steps: Array<{ text: string, steps: Array<{ text: string, steps: unknown[] }> }>, tip: string | null }>()
  const lines = by['alice@contoso.com source_sign_in_failed'].troubleshooting.split('\n')
  t.equal(lines[0], `1. ${guide.steps[0].text}`)
  const nested = guide.steps.findIndex((step) => step.steps.length > 0)
  if (nested >= 0) t.ok(lines.includes(`${nested + 1}.1. ${guide.steps[nested].steps[0].text}`), 'nested steps are numbered under their step')
  t.equal(lines.filter((line) => /^\d+\. /.test(line)).length, guide.steps.length)
  if (guide.tip !== null) t.equal(lines[lines.length - 1], `Tip: ${guide.tip}`)
})

t.test('the retry list writes addresses as they are, with no formula guard', async (t) => {
  const ctx = await buildTestApp(t)
  for (const mailbox of ['-dash@contoso.com', '+plus@contoso.com', '=eq@contoso.com', 'plain@contoso.com']) {
    await postEvent(ctx, failedEvent({ mailbox }))
  }
  const response = await ctx.inject({ method: 'GET', url: '/batches/batch-1/retry-list?category=source_sign_in_failed' })
  t.equal(response.body, 'EmailAddress\r\n+plus@contoso.com\r\n-dash@contoso.com\r\n=eq@contoso.com\r\nplain@contoso.com\r\n')
})
