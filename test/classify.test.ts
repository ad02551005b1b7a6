import t from 'tap'
import { buildTestApp } from './helpers/app.js'

t.test('POST /classify classifies a raw error with its side and personalised guide', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({
    method: 'POST',
    url: '/classify',
    payload: { code: '162', message: 'Host2 failure: Error login on [outlook.office365.com] with user [bob@fabrikam.com] auth [LOGIN]: 2 NO LOGIN failed.', context: { engine: 'imapsync' } }
  })
  t.equal(response.statusCode, 200)
  t.match(response.json(), { category: 'cloud_sign_in_failed', rule: 'imapsync.exit.162', side: 'cloud', blocking: true, retryable: false, troubleshooting: { steps: Array } })
})

t.test('POST /classify falls back to unclassified for an unknown error', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'POST', url: '/classify', payload: { message: 'something entirely unexpected happened' } })
  t.equal(response.statusCode, 200)
  t.match(response.json(), { category: 'unclassified', rule: 'fallback', side: 'unknown', retryable: null })
})

t.test('POST /classify stores nothing', async (t) => {
  const ctx = await buildTestApp(t)
  await ctx.inject({ method: 'POST', url: '/classify', payload: { message: 'NO [OVERQUOTA] Quota exceeded' } })
  t.equal(await ctx.repository.currentSeq(), 0)
})

t.test('POST /classify refuses a body without message', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.inject({ method: 'POST', url: '/classify', payload: { code: '161' } })
  t.equal(response.statusCode, 400)
  t.same(response.json().errors, [{ in: 'body', pointer: '/message', detail: "must have required property 'message'" }])
})
