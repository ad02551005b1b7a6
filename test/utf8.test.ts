import t from 'tap'
import { buildTestApp, failedEvent, report } from './helpers/app.js'

/** The JSON of an event whose message holds `bytes` raw, spliced in where the text MARK stood. */
function withRawBytes (event: Record<string, unknown>, bytes: number[]): Buffer {
  const [before, after] = JSON.stringify(event).split('MARK')
  return Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)])
}

t.test('a body that is not valid UTF-8 is refused with 400 naming the problem, and nothing is stored', async (t) => {
  const ctx = await buildTestApp(t)
  const invalid = [[0xff], [0xc3], [0xc3, 0x28], [0xe6, 0x97], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc0, 0xaf]]
  for (const bytes of invalid) {
    for (const [url, wrap] of [['/events', (e: Record<string, unknown>) => e], ['/events/bulk', (e: Record<string, unknown>) => ({ events: [failedEvent(), e] })]] as const) {
      const event = failedEvent({ failure: { code: '161', message: 'Login failed for user MARK' } })
      const response = await ctx.inject({ method: 'POST', url, body: withRawBytes(wrap(event) as Record<string, unknown>, bytes), headers: { 'content-type': 'application/json' } })
      t.equal(response.statusCode, 400, `${url} ${bytes.map((b) => b.toString(16)).join(' ')}`)
      t.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8')
      t.match(response.json(), { status: 400, detail: /UTF-8/, errors: [{ in: 'body', detail: /not valid UTF-8/ }] })
    }
  }
  t.equal((await ctx.inject({ method: 'GET', url: '/batches' })).json<{ items: unknown[] }>().items.length, 0)
})

t.test('valid UTF-8 beyond ASCII is stored exactly as sent', async (t) => {
  const ctx = await buildTestApp(t)
  const message = 'Ünïcødé 日本語 — 🙂 Anmeldung fehlgeschlagen'
  const response = await ctx.inject({ method: 'POST', url: '/events', body: Buffer.from(JSON.stringify(failedEvent({ failure: { message } }))), headers: { 'content-type': 'application/json; charset=utf-8' } })
  t.equal(response.statusCode, 201)
  t.equal((await report(ctx)).body.items[0].lastMessage, message)
})
