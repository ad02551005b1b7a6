import type { AddressInfo } from 'node:net'
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server'
import { simpleParser, type ParsedMail } from 'mailparser'
import type { Test } from 'tap'
import { buildTestApp, type TestApp } from './app.js'

// A real SMTP server on loopback for e-mail tests: it parses what it accepts with mailparser
// and answers as the test says (an error with a code, or accept).

export interface ReceivedMail {
  parsed: ParsedMail
  /** The raw message as it arrived (headers and body). */
  raw: string
  envelopeTo: string[]
}

/** What the server answers one message: null accepts (250), an Error with responseCode refuses. */
export type SmtpAnswer = (raw: string, session: SMTPServerSession) => (Error & { responseCode?: number }) | null | Promise<(Error & { responseCode?: number }) | null>

export interface TestSmtpServer {
  url: string
  port: number
  received: ReceivedMail[]
  /** Every DATA the server read, accepted or not. */
  attempts: number
  answer: SmtpAnswer
  /** Resolves once `count` mails have been accepted. */
  waitFor: (count: number) => Promise<void>
  close: () => Promise<void>
}

export function smtpError (code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code })
}

export async function startSmtpServer (): Promise<TestSmtpServer> {
  const waiters: Array<{ count: number, resolve: () => void }> = []
  const state: TestSmtpServer = {
    url: '',
    port: 0,
    received: [],
    attempts: 0,
    answer: () => null,
    waitFor: async (count) => {
      if (state.received.length >= count) return
      await new Promise<void>((resolve) => { waiters.push({ count, resolve }) })
    },
    close: async () => { await new Promise<void>((resolve) => { server.close(() => { resolve() }) }) }
  }
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData (stream: SMTPServerDataStream, session: SMTPServerSession, callback: (error?: Error | null) => void) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => { chunks.push(chunk) })
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        state.attempts += 1
        const handle = async (): Promise<void> => {
          const refusal = await state.answer(raw, session)
          if (refusal !== null) { callback(refusal); return }
          state.received.push({ parsed: await simpleParser(raw), raw, envelopeTo: session.envelope.rcptTo.map((rcpt) => rcpt.address) })
          callback(null)
          for (const waiter of [...waiters]) {
            if (state.received.length >= waiter.count) {
              waiters.splice(waiters.indexOf(waiter), 1)
              waiter.resolve()
            }
          }
        }
        handle().catch((error: Error) => { callback(error) })
      })
    }
  })
  server.on('error', () => {})
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', () => { resolve() }) })
  state.port = (server.server.address() as AddressInfo).port
  state.url = `smtp://127.0.0.1:${state.port}`
  return state
}

/** A header's value as it arrived (unfolded), or undefined. */
export function rawHeader (mail: ReceivedMail, name: string): string | undefined {
  const line = mail.parsed.headerLines.find((header) => header.key === name.toLowerCase())?.line
  return line?.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, '').trim()
}

export const PUBLIC_URL = 'https://sfr.example.test/'

export interface EmailTestApp extends TestApp {
  smtp: TestSmtpServer
  /** Runs the digester, then the sender, once. */
  tick: () => Promise<void>
}

/** An app with e-mail on, sending to a fresh SMTP server on loopback (closed at the test's end). */
export async function emailApp (t: Test, env: Record<string, string> = {}): Promise<EmailTestApp> {
  const smtp = await startSmtpServer()
  t.teardown(async () => { await smtp.close() })
  const ctx = await buildTestApp(t, {
    SMTP_URL: smtp.url,
    SMTP_FROM: 'Sync failures <sfr@example.test>',
    PUBLIC_URL,
    // The test drives the loop itself.
    EMAIL_POLL_INTERVAL: '1h',
    ...env
  })
  const { digester, sender } = ctx.app.emailDigests
  return {
    ...ctx,
    smtp,
    tick: async () => {
      await digester!.runOnce()
      await sender!.runOnce()
    }
  }
}

/** POST /email-subscriptions (admin@contoso.com unless the body says otherwise). */
export async function subscribeEmail (ctx: TestApp, body: Record<string, unknown> = {}): Promise<{ id: string }> {
  const response = await ctx.inject({ method: 'POST', url: '/email-subscriptions', payload: { recipients: ['admin@contoso.com'], ...body } })
  if (response.statusCode !== 201) throw new Error(`subscribe: ${response.statusCode} ${response.body}`)
  return response.json<{ id: string }>()
}
