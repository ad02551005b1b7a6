import { request, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'

export interface SseEvent { id: string | null, event: string | null, data: string }

/** An open event stream read with node:http, event by event; comments counted apart. */
export interface SseReader {
  status: number
  headers: IncomingMessage['headers']
  /** Resolves with the next event, or rejects after `timeoutMs`. */
  next: (timeoutMs?: number) => Promise<SseEvent>
  comments: string[]
  /** What a non-stream answer said. */
  body: () => Promise<string>
  close: () => void
}

export async function listenOnLoopback (app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

export async function openStream (base: string, path: string, headers: Record<string, string>): Promise<SseReader> {
  return await new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      res.setEncoding('utf8')
      const events: SseEvent[] = []
      const waiting: Array<(event: SseEvent) => void> = []
      const comments: string[] = []
      let buffer = ''
      let raw = ''
      res.on('data', (chunk: string) => {
        raw += chunk
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const event: SseEvent = { id: null, event: null, data: '' }
          let isEvent = false
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) { comments.push(line.slice(1).trim()); continue }
            const colon = line.indexOf(':')
            const field = line.slice(0, colon)
            const value = line.slice(colon + 1).replace(/^ /, '')
            if (field === 'id') event.id = value
            else if (field === 'event') event.event = value
            else if (field === 'data') event.data += (event.data === '' ? '' : '\n') + value
            isEvent = true
          }
          if (!isEvent) continue
          const waiter = waiting.shift()
          if (waiter !== undefined) waiter(event)
          else events.push(event)
        }
      })
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        comments,
        next: async (timeoutMs = 5000) => {
          const ready = events.shift()
          if (ready !== undefined) return ready
          return await new Promise((resolve, reject) => {
            const timer = setTimeout(() => { reject(new Error(`no event within ${timeoutMs} ms`)) }, timeoutMs)
            waiting.push((event) => { clearTimeout(timer); resolve(event) })
          })
        },
        body: async () => await new Promise((resolve) => { if (res.complete) resolve(raw); else res.on('end', () => { resolve(raw) }) }),
        close: () => { req.destroy() }
      })
    })
    req.on('error', reject)
    req.end()
  })
}
