/// <reference lib="dom" />
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import t from 'tap'
import { buildTestApp, failedEvent, postEvent, syncedEvent, type TestApp } from './helpers/app.js'
import { listenOnLoopback } from './helpers/sse.js'

// The pages in a real browser: Debian's chromium driven by playwright-core, axe-core for
// accessibility. Where no browser can be had the whole file says it is skipped.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const SKIP = existsSync(CHROMIUM)
  ? false
  : `SKIPPED: no Chromium at ${CHROMIUM}; install it (apt-get install -y chromium, as .ci/run does) or set CHROMIUM_PATH`
if (SKIP !== false) console.error(`# ${SKIP}`)

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
const XSS = '<img src=x onerror=alert(1)>'

interface AxeViolation { id: string, impact: string | null, help: string, nodes: Array<{ target: unknown }> }

async function seed (ctx: TestApp): Promise<void> {
  await postEvent(ctx, failedEvent({ mailbox: 'xss@contoso.com', failure: { message: XSS } }))
  await postEvent(ctx, failedEvent({ mailbox: 'full@contoso.com', failure: { category: 'cloud_mailbox_full', message: 'Mailbox size limit exceeded' } }))
  await postEvent(ctx, syncedEvent({ mailbox: 'ok@contoso.com' }))
}

t.test('the pages in Chromium: sign in, report, steps, filter, CSV, live row, keyboard, sign out, XSS, axe', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const { chromium } = await import('playwright-core')
  const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
  const ctx = await buildTestApp(t)
  await seed(ctx)
  const base = await listenOnLoopback(ctx.app)
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS })
  t.teardown(async () => { await browser.close() })
  const context = await browser.newContext({ acceptDownloads: true })
  // Nothing leaves the machine: every request but to the service on loopback is refused.
  await context.route('**/*', async (route) => {
    if (new URL(route.request().url()).origin === base) await route.continue()
    else await route.abort()
  })
  const page = await context.newPage()
  const problems: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()) })
  page.on('pageerror', (error) => { problems.push(error.message) })
  const dialogs: string[] = []
  page.on('dialog', async (dialog) => { dialogs.push(dialog.message()); await dialog.dismiss() })

  async function accessible (name: string): Promise<void> {
    await page.evaluate(axeSource)
    const violations = await page.evaluate(async () => {
      const result = await (window as unknown as { axe: { run: () => Promise<{ violations: AxeViolation[] }> } }).axe.run()
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }))
    })
    const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    t.same(serious, [], `${name}: no serious or critical accessibility violation`)
  }

  await page.goto(`${base}/ui/batches/batch-1`)
  t.match(page.url(), /\/\?next=/, 'a page sends an anonymous browser to sign in')
  await accessible('sign-in page')
  await page.getByLabel('API key').fill('sfr_' + 'A'.repeat(43))
  await page.getByRole('button', { name: 'Sign in' }).click()
  t.match(await page.getByRole('alert').textContent(), /not valid/)
  await page.getByLabel('API key').fill(ctx.key)
  await page.keyboard.press('Enter')
  await page.waitForURL(`${base}/ui/batches/batch-1`)
  t.notOk((await page.content()).includes(ctx.key), 'the key is not on the page')
  const cookies = await context.cookies()
  t.same(cookies.map((c) => [c.name, c.httpOnly, c.sameSite]), [['sfr_session', true, 'Strict']])

  // The XSS probe shows as text and runs nothing.
  const message = page.locator('tr', { hasText: 'xss@contoso.com' }).locator('td.message')
  t.equal(await message.textContent(), XSS)
  t.equal(await page.locator('img[src="x"]').count(), 0)
  await accessible('batch page')

  // Steps open from the row.
  const row = page.locator('tr', { hasText: 'full@contoso.com' })
  const steps = row.locator('details.steps')
  t.equal(await steps.getAttribute('open'), null)
  await row.locator('summary').click()
  t.equal(await steps.getAttribute('open'), '')
  t.ok(await row.locator('details.steps ol li').first().isVisible(), 'the steps show')

  // Keyboard: the skip link comes first, then the page can be walked with Tab and a row's steps opened with Enter.
  await page.keyboard.press('Tab')
  await page.goto(`${base}/ui/batches/batch-1`)
  await page.keyboard.press('Tab')
  t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content')
  await page.keyboard.press('Enter')
  t.equal(await page.evaluate(() => document.activeElement?.id), 'main')
  let reached = false
  for (let i = 0; i < 60 && !reached; i++) {
    await page.keyboard.press('Tab')
    reached = await page.evaluate(() => document.activeElement?.tagName === 'SUMMARY' && document.activeElement.closest('tr') !== null)
  }
  t.ok(reached, 'Tab reaches a row\'s steps')
  await page.keyboard.press('Enter')
  t.ok(await page.evaluate(() => (document.activeElement?.closest('details') as HTMLDetailsElement | null)?.open === true), 'Enter opens them')

  // Filter by category.
  await page.getByLabel('Category', { exact: true }).selectOption('cloud_mailbox_full')
  await page.getByRole('button', { name: 'Filter' }).click()
  await page.waitForURL(/category=cloud_mailbox_full/)
  t.equal(await page.locator('#report-rows tr[data-key]').count(), 1)
  t.equal(await page.locator('tr', { hasText: 'xss@contoso.com' }).count(), 0)

  // Download the CSV of what the filter shows.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /Download the report/ }).click()])
  const csv = readFileSync(await download.path(), 'utf8')
  t.match(csv, /^\uFEFFmailbox,category/)
  t.match(csv, /full@contoso\.com/)
  t.notMatch(csv, /xss@contoso\.com/)

  // Search part of an address, in another case: the rows and the CSV hold only what it finds.
  await page.getByLabel('Category', { exact: true }).selectOption('')
  await page.getByLabel(/Mailbox contains/).fill('XSS@')
  await page.getByRole('button', { name: 'Filter' }).click()
  await page.waitForURL(/mailboxContains=XSS%40/)
  t.equal(await page.locator('#report-rows tr[data-key]').count(), 1)
  t.equal(await page.locator('#report-rows tr', { hasText: 'xss@contoso.com' }).count(), 1)
  t.equal(await page.getByLabel(/Mailbox contains/).inputValue(), 'XSS@', 'the search box keeps what was typed')
  const [searched] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /Download the report/ }).click()])
  const found = readFileSync(await searched.path(), 'utf8')
  t.match(found, /xss@contoso\.com/)
  t.notMatch(found, /full@contoso\.com/)

  // A row appears live when an event is posted.
  await page.goto(`${base}/ui/batches/batch-1`)
  await page.waitForFunction(() => document.getElementById('live-root')?.getAttribute('data-live') === 'connected')
  await postEvent(ctx, failedEvent({ mailbox: 'live@contoso.com', failure: { message: 'Login failed: arrived live' } }))
  await page.locator('tr', { hasText: 'live@contoso.com' }).waitFor({ timeout: 10_000 })
  t.match(await page.locator('#live-status').textContent(), /Updated live/)
  t.equal(await page.locator('dd[data-count="open"]').textContent(), '3')

  // The other pages.
  await page.locator('tr', { hasText: 'xss@contoso.com' }).getByRole('link', { name: 'xss@contoso.com' }).click()
  await page.waitForURL(/mailboxes\/xss%40contoso\.com/)
  t.equal(await page.locator('p.message').first().textContent(), XSS)
  await accessible('mailbox page')
  await page.getByRole('link', { name: 'Troubleshooting' }).click()
  await accessible('troubleshooting page')
  await page.getByRole('link', { name: 'Batches' }).click()
  await accessible('batch list')
  if (process.env.SCREENSHOT_PATH !== undefined) {
    await page.goto(`${base}/ui/batches/batch-1`)
    await page.screenshot({ path: process.env.SCREENSHOT_PATH, fullPage: true })
  }

  // Sign out: the session is gone.
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.waitForURL(`${base}/`)
  t.ok(await page.getByRole('heading', { name: 'Sign in' }).isVisible())
  await page.goto(`${base}/ui/batches/batch-1`)
  t.match(page.url(), /\/\?next=/)

  t.same(dialogs, [], 'no script ran from the data')
  t.same(problems.filter((text) => /Content Security Policy|Refused/.test(text)), [], 'nothing the page needs is refused by its CSP')
})
