// npm run screenshot: the README's picture of the batch page (docs/batch-page.png). Starts the
// built service in this process on an in-memory database, posts the demo batch, signs in with
// Chromium (playwright-core, Debian's chromium) and takes the page. Nothing leaves loopback.
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { buildApp } from '../dist/src/app.js'
import { loadConfig } from '../dist/src/config.js'
import { demoEvents, postDemo } from '../dist/scripts/demo.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const KEY = 'sfr_' + 'd'.repeat(43)
const app = await buildApp(loadConfig({ DATABASE_URL: ':memory:', LOG_LEVEL: 'warn', BOOTSTRAP_ADMIN_KEY: KEY, MAX_EVENT_LOOP_DELAY: '0' }))
await app.listen({ host: '127.0.0.1', port: 0 })
const base = `http://127.0.0.1:${app.server.address().port}`
const events = demoEvents(Date.now())
await postDemo(base, KEY, events)
await app.stallSweep.runOnce()
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
})
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  await context.route('**/*', (route) => new URL(route.request().url()).origin === base ? route.continue() : route.abort())
  const page = await context.newPage()
  await page.goto(`${base}/ui/batches/${events[0].batchId}`)
  await page.getByLabel('API key').fill(KEY)
  await page.keyboard.press('Enter')
  await page.waitForURL(/\/ui\/batches\//)
  const out = join(ROOT, 'docs', 'batch-page.png')
  await page.screenshot({ path: out, fullPage: true, clip: { x: 0, y: 0, width: 1280, height: 1400 } })
  console.log(`wrote ${out}`)
} finally {
  await browser.close()
  await app.close()
}
