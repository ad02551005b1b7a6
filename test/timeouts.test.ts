import { connect, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { connectionsCheckingInterval } from '../src/app.js'
import { buildTestApp } from './helpers/app.js'

// A client that never finishes its request is cut off within REQUEST_TIMEOUT and about one
// connection check more, not after Node's default 30 s check interval. The client below keeps
// sending a byte now and then, so the idle-socket timeout never fires: only the request
// deadline can end it. The bound asserted is loose (several seconds past the deadline) and
// far below what the default interval gave.

const REQUEST_TIMEOUT_MS = 2000
const BOUND_MS = REQUEST_TIMEOUT_MS + 6000

async function listening (t: Test): Promise<{ port: number, key: string }> {
  const ctx = await buildTestApp(t, { REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_MS}ms` })
  await ctx.app.listen({ host: '127.0.0.1', port: 0 })
  const address = ctx.app.server.address()
  return { port: typeof address === 'object' && address !== null ? address.port : 0, key: ctx.key }
}

/** Opens a connection, writes `head`, then drips `drip` every 300 ms; resolves with what the server answered once it closes. */
async function dripUntilClosed (port: number, head: string, drip: string): Promise<{ answer: string, closed: boolean }> {
  const socket: Socket = connect(port, '127.0.0.1')
  let answer = ''
  socket.on('data', (chunk) => { answer += chunk.toString('latin1') })
  socket.on('error', () => undefined)
  socket.write(head)
  const timer = setInterval(() => { if (socket.writable) socket.write(drip) }, 300)
  const closed = await new Promise<boolean>((resolve) => {
    const give = setTimeout(() => { resolve(false) }, BOUND_MS)
    socket.on('close', () => { clearTimeout(give); resolve(true) })
  })
  clearInterval(timer)
  socket.destroy()
  return { answer, closed }
}

t.test('a chunked body that never ends is cut off soon after REQUEST_TIMEOUT, with a 408 problem', async (t) => {
  const { port, key } = await listening(t)
  const { answer, closed } = await dripUntilClosed(port,
    `POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n`, '1\r\n \r\n')
  t.ok(closed, `the connection was closed within ${BOUND_MS} ms`)
  t.match(answer, /^HTTP\/1\.1 408 /)
  t.match(answer, /application\/problem\+json/)
})

t.test('headers sent a byte at a time are cut off soon after REQUEST_TIMEOUT', async (t) => {
  const { port } = await listening(t)
  const { closed } = await dripUntilClosed(port, 'GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ', 'a')
  t.ok(closed, `the connection was closed within ${BOUND_MS} ms`)
})

t.test('connections are checked often enough for the deadline', async (t) => {
  t.equal(connectionsCheckingInterval(30_000), 1000)
  t.equal(connectionsCheckingInterval(2000), 200)
  t.equal(connectionsCheckingInterval(1000), 100)
})
