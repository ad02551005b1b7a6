import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import { Webhook } from 'standardwebhooks'
import { buildTestApp, type TestApp } from './app.js'

// A real webhook receiver on loopback: records every request and checks its signature with
// the standardwebhooks library's own verify, as a customer's endpoint would.

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders
  body: string
  json: { type: string, timestamp: string, data: Record<string, unknown> }
  /** Which of the receiver's secrets verified the signature (null: none did). */
  verifiedWith: string | null
}

interface Answer { status: number, headers?: Record<string, string> }

/** Answers one request: a status and headers, later (a promise of them) or 'hang' to never answer. */
export type Responder = (request: ReceivedWebhook) => Answer | Promise<Answer> | 'hang'

export interface Receiver {
  url: string
  port: number
  received: ReceivedWebhook[]
  /** TCP connections accepted, requests or not. */
  connections: number
  /** Secrets to verify with; set once the webhook is created. */
  secrets: string[]
  /** Answers, in order, for the next requests; after them, 204. */
  responses: Array<Responder | number>
  /** Resolves once `count` requests arrived (polling; fails the test after timeoutMs). */
  waitFor: (count: number, timeoutMs?: number) => Promise<ReceivedWebhook[]>
  close: () => Promise<void>
}

export async function startReceiver (t: Test, host = '127.0.0.1'): Promise<Receiver> {
  const hanging = new Set<ServerResponse>()
  const receiver: Receiver = {
    url: '',
    port: 0,
    received: [],
    connections: 0,
    secrets: [],
    responses: [],
    waitFor: async (count, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs
      while (receiver.received.length < count) {
        if (Date.now() > deadline) throw new Error(`receiver got ${receiver.received.length} of ${count} webhooks within ${timeoutMs} ms`)
        await sleep(10)
      }
      return receiver.received
    },
    close: async () => {
      for (const response of hanging) response.destroy()
      await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    }
  }
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      let verifiedWith: string | null = null
      for (const secret of receiver.secrets) {
        try {
          new Webhook(secret).verify(body, request.headers as Record<string, string>)
          verifiedWith = secret
          break
        } catch {}
      }
      const received: ReceivedWebhook = { headers: request.headers, body, json: JSON.parse(body) as ReceivedWebhook['json'], verifiedWith }
      receiver.received.push(received)
      const next = receiver.responses.shift() ?? 204
      const answer = typeof next === 'number' ? { status: next } : next(received)
      if (answer === 'hang') {
        hanging.add(response)
        return
      }
      if (answer instanceof Promise) {
        hanging.add(response)
        answer.then((later) => {
          hanging.delete(response)
          if (!response.destroyed) response.writeHead(later.status, later.headers).end()
        }, () => { response.destroy() })
        return
      }
      response.writeHead(answer.status, answer.headers).end()
    })
  })
  server.on('connection', () => { receiver.connections += 1 })
  await new Promise<void>((resolve) => { server.listen(0, host, () => { resolve() }) })
  receiver.port = (server.address() as AddressInfo).port
  receiver.url = `http://${host.includes(':') ? `[${host}]` : host}:${receiver.port}/hooks`
  t.teardown(receiver.close)
  return receiver
}

export const PRIVATE_OK = { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' }

/** An app whose clock starts at the real now, so the receiver's verify accepts the signature's timestamp. */
export async function hooksApp (t: Parameters<typeof buildTestApp>[0], env: Record<string, string> = PRIVATE_OK): Promise<TestApp> {
  const ctx = await buildTestApp(t, env)
  ctx.clock.now = Date.now()
  return ctx
}

/** POST /webhooks to the receiver; its secret goes to the receiver's verify list. */
export async function subscribeWebhook (ctx: TestApp, receiver: Receiver, body: Record<string, unknown> = {}): Promise<{ id: string, secret: string }> {
  const response = await ctx.inject({ method: 'POST', url: '/webhooks', payload: { url: receiver.url, ...body } })
  if (response.statusCode !== 201) throw new Error(`POST /webhooks: ${response.statusCode} ${response.body}`)
  const created = response.json<{ id: string, secret: string }>()
  receiver.secrets.push(created.secret)
  return created
}
