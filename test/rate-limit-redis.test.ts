import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { Redis } from 'ioredis'
import { buildTestApp, type TestApp } from './helpers/app.js'

// Two instances against the Redis this machine runs (127.0.0.1:6379), each test with a key
// prefix of its own; the outage test runs a redis-server of its own on a free loopback port.

const REDIS_URL = 'redis://127.0.0.1:6379'

async function reachable (url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null })
  client.on('error', () => {})
  try {
    await client.connect()
    return await client.ping() === 'PONG'
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}

const haveRedis = await reachable(REDIS_URL)
if (!haveRedis) console.error('SKIPPED: no Redis on 127.0.0.1:6379; the shared rate limit is not tested here (.ci/run starts one)')

async function refused (ctx: TestApp): Promise<number> {
  // Without a key: 401, counted by the rate limit (per client address) before it is refused.
  return (await ctx.inject({ method: 'GET', url: '/batches', auth: false })).statusCode
}

async function metric (ctx: TestApp, name: string): Promise<number> {
  const sample = (await ctx.app.metrics.registry.getSingleMetric(name)?.get())?.values[0]
  return sample?.value ?? 0
}

t.test('two instances hold one limit per client in Redis', { skip: haveRedis ? false : 'no Redis on 127.0.0.1:6379' }, async (t) => {
  const prefix = `test-${randomBytes(6).toString('hex')}:`
  t.teardown(async () => {
    const client = new Redis(REDIS_URL)
    const keys = await client.keys(`${prefix}*`)
    if (keys.length > 0) await client.del(...keys)
    client.disconnect()
  })
  const env = { RATE_LIMIT_MAX: '4', RATE_LIMIT_REDIS_URL: REDIS_URL, RATE_LIMIT_REDIS_PREFIX: prefix }
  const a = await buildTestApp(t, env)
  const b = await buildTestApp(t, env)
  await Promise.all([a.app.ready(), b.app.ready()])
  while (await metric(a, 'sfr_rate_limit_store_up') !== 1 || await metric(b, 'sfr_rate_limit_store_up') !== 1) await sleep(20)
  t.same([await refused(a), await refused(b), await refused(a), await refused(b)], [401, 401, 401, 401], 'four requests, two on each')
  t.equal(await refused(a), 429, 'the fifth is over the shared limit on one instance')
  t.equal(await refused(b), 429, 'and on the other')
  t.equal(await metric(a, 'sfr_rate_limit_store_errors_total'), 0)
})

async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

async function startRedis (port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  for (let tries = 0; tries < 100; tries++) {
    if (await reachable(`redis://127.0.0.1:${port}`)) return child
    await sleep(50)
  }
  child.kill()
  throw new Error('redis-server did not start')
}

const haveRedisServer = await new Promise<boolean>((resolve) => {
  const child = spawn('redis-server', ['--version'], { stdio: 'ignore' })
  child.on('error', () => { resolve(false) })
  child.on('exit', (code) => { resolve(code === 0) })
})
if (!haveRedisServer) console.error('SKIPPED: no redis-server binary; failing open while Redis is down is not tested here')

t.test('Redis down: requests are served, warned about and counted; counting resumes when it is back', { skip: haveRedisServer ? false : 'no redis-server binary' }, async (t) => {
  const port = await freePort()
  let redis = await startRedis(port)
  t.teardown(() => { redis.kill('SIGKILL') })
  const ctx = await buildTestApp(t, { RATE_LIMIT_MAX: '2', RATE_LIMIT_REDIS_URL: `redis://127.0.0.1:${port}` })
  await ctx.app.ready()
  while (await metric(ctx, 'sfr_rate_limit_store_up') !== 1) await sleep(20)
  t.same([await refused(ctx), await refused(ctx), await refused(ctx)], [401, 401, 429], 'counted in Redis')

  redis.kill('SIGKILL')
  await once(redis, 'exit')
  while (await metric(ctx, 'sfr_rate_limit_store_up') !== 0) await sleep(20)
  t.same([await refused(ctx), await refused(ctx), await refused(ctx)], [401, 401, 401], 'served (fails open) while Redis is down')
  t.equal(await metric(ctx, 'sfr_rate_limit_store_errors_total'), 3, 'each request served unlimited is counted')

  redis = await startRedis(port)
  while (await metric(ctx, 'sfr_rate_limit_store_up') !== 1) await sleep(20)
  t.same([await refused(ctx), await refused(ctx), await refused(ctx)], [401, 401, 429], 'counting resumes on the new server')
})
