// The framework's ceiling: a bare Fastify route, same version and host as the service, logger off.
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.get('/', async () => ({ hello: 'world' }))
app.post('/', async () => ({ hello: 'world' }))
await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.stdout.write(`listening ${app.server.address().port}\n`)
