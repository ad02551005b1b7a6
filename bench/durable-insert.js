// The durable-write reference: a bare Fastify route (no auth, no validation, no security
// headers) that stores each request's body as one row in SQLite with the service's durability
// (WAL, synchronous = FULL) and its group commit: requests that arrive together share one
// transaction, and each is answered after the shared COMMIT. Nothing acknowledged is lost, and
// nothing else is done: what any endpoint with that promise costs at least, on this machine.
// POST /events/bulk does the same for a bulk body: one row per event, all in one job.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import Fastify from 'fastify'

const dir = mkdtempSync(join(tmpdir(), 'sfr-durable-'))
const db = new Database(join(dir, 'durable.db'))
db.pragma('journal_mode = WAL')
db.pragma('synchronous = FULL')
db.pragma('temp_store = MEMORY')
db.exec('create table events (seq integer primary key, id text not null unique, body text not null)')
const insert = db.prepare('insert into events (id, body) values (?, ?) on conflict do nothing')
const begin = db.prepare('BEGIN IMMEDIATE')
const commit = db.prepare('COMMIT')

let pending = []
function commitPending () {
  const group = pending
  pending = []
  begin.run()
  for (const job of group) {
    job.changes = job.events === undefined
      ? insert.run(job.id, job.body).changes
      : job.events.map((event) => ({ id: event.id, duplicate: insert.run(event.id, JSON.stringify(event)).changes === 0 }))
  }
  commit.run()
  for (const job of group) job.resolve(job.changes)
}

const app = Fastify({ logger: false })
app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => { done(null, body) })
app.post('/events', async (request, reply) => {
  const body = request.body
  const id = JSON.parse(body).id
  const changes = await new Promise((resolve) => {
    pending.push({ id, body, resolve })
    if (pending.length === 1) setImmediate(commitPending)
  })
  return await reply.code(changes === 1 ? 201 : 200).send({ id, duplicate: changes === 0 })
})
app.post('/events/bulk', async (request) => {
  const { events } = JSON.parse(request.body)
  // All or nothing, in the shared transaction like the rest: one job that stores every row.
  const results = await new Promise((resolve) => {
    pending.push({ events, resolve })
    if (pending.length === 1) setImmediate(commitPending)
  })
  return { results }
})
app.get('/', async () => ({ hello: 'world' }))
process.once('SIGTERM', async () => {
  await app.close()
  db.close()
  rmSync(dir, { recursive: true, force: true })
})
await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 0) })
