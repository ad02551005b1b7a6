import t from 'tap'
import { buildTestApp } from './helpers/app.js'

t.test('GET /troubleshooting lists all twelve categories with their guides', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'GET', url: '/troubleshooting' })
  t.equal(response.statusCode, 200)
  const categories = response.json<{ categories: Array<{ id: string, steps: unknown[], blocking: boolean }> }>().categories
  t.same(categories.map((c) => c.id), [
    'source_sign_in_failed', 'source_unreachable', 'cloud_mailbox_full', 'sync_stalled', 'source_tls_failed', 'throttled',
    'server_busy', 'cloud_sign_in_failed', 'cloud_unreachable', 'cloud_mailbox_missing', 'items_skipped', 'unclassified'
  ])
  t.ok(categories.every((c) => c.steps.length > 0))
  t.same(categories.filter((c) => !c.blocking).map((c) => c.id), ['items_skipped'])
})

t.test('a guide is personalised by credentialMode, migrationType and server', async (t) => {
  const ctx = await buildTestApp(t)
  const user = await ctx.inject({ method: 'GET', url: '/troubleshooting/source_sign_in_failed?credentialMode=user' })
  const admin = await ctx.inject({ method: 'GET', url: '/troubleshooting/source_sign_in_failed?credentialMode=admin' })
  t.equal(user.statusCode, 200)
  t.notOk(user.json<{ steps: Array<{ steps: unknown[] }> }>().steps.some((step) => step.steps.length > 0))
  t.ok(admin.json<{ steps: Array<{ steps: unknown[] }> }>().steps.some((step) => step.steps.length === 3))
  const exchange = await ctx.inject({ method: 'GET', url: '/troubleshooting/source_unreachable?migrationType=exchange&server=mail.fabrikam.com' })
  t.match(exchange.json(), { id: 'source_unreachable', side: 'source', blocking: true, retryable: true, tip: /Exchange.*mail\.fabrikam\.com/ })
  t.notMatch(exchange.json().tip, /IMAP/)
})

t.test('an unknown category is a 404 problem', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'GET', url: '/troubleshooting/disk_on_fire' })
  t.equal(response.statusCode, 404)
  t.match(response.json(), { status: 404, detail: /disk_on_fire/ })
})

t.test('an unknown personalisation value is a 400 problem', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'GET', url: '/troubleshooting/throttled?credentialMode=root' })
  t.equal(response.statusCode, 400)
  t.match(response.json(), { errors: [{ in: 'querystring', pointer: '/credentialMode' }] })
})
