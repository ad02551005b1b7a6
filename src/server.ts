import './heap.js'
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, loadEnvFile, type Config } from './config.js'

let config: Config
try {
  // ./.env, when there is one, fills in what the environment does not set.
  loadEnvFile('.env')
  config = loadConfig()
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`sync-failure-reports: ${error.message}\n`)
    process.exit(1)
  }
  throw error
}

const app = await buildApp(config)

// On SIGINT/SIGTERM: stop accepting, let in-flight requests finish, then close the database.
closeWithGrace({ delay: config.shutdownGraceMs }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
  else app.log.info({ signal }, 'shutting down')
  await app.close()
})

try {
  await app.listen({ host: config.host, port: config.port })
} catch (error) {
  app.log.fatal({ err: error }, 'could not start')
  await app.close()
  process.exit(1)
}
