import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { escapeHtml, verifyUnsubscribeToken } from '../domain/email-digest.js'
import { notFoundProblem, validationProblem } from '../plugins/problems.js'
import { problemResponses } from '../schemas/common.js'
import { UnsubscribeQuerySchema } from '../schemas/email-subscriptions.js'

function page (title: string, body: string): string {
  return '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">' +
    `<title>${escapeHtml(title)}</title></head><body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;max-width:560px;margin:40px auto;padding:0 16px">` +
    `<h1 style="font-size:20px">${escapeHtml(title)}</h1>${body}</body></html>`
}

const HTML_RESPONSE = { content: { 'text/html': { schema: Type.String() } } }

// The one-click unsubscribe of RFC 8058: mail clients POST the List-Unsubscribe URL with the
// body "List-Unsubscribe=One-Click"; a person who opens the link gets a form to confirm, so a
// link scanner's GET never unsubscribes anyone. Public: the signed token is the authorisation.
const emailUnsubscribe: FastifyPluginAsyncTypebox = async (app) => {
  // The body (List-Unsubscribe=One-Click, form-encoded or multipart) carries nothing the route needs.
  app.addContentTypeParser(['application/x-www-form-urlencoded', 'multipart/form-data'], { parseAs: 'string', bodyLimit: 4096 },
    (_request, _body, done) => { done(null, undefined) })

  async function verified (query: { s: string, a: string, t: string }): Promise<void> {
    const subscription = await app.emailDigests.require().findSubscriptionById(query.s)
    if (subscription === null) throw notFoundProblem('no such e-mail subscription: it may have been deleted, and then sends nothing')
    if (!verifyUnsubscribeToken(subscription.linkSecret, subscription.id, query.a, query.t)) {
      throw validationProblem([{ in: 'querystring', pointer: '/t', detail: 'is not the signature of this link: use the link from the mail as it is' }])
    }
  }

  app.get('/email-unsubscribe', {
    config: { scope: 'public' },
    schema: {
      tags: ['email'],
      operationId: 'showEmailUnsubscribe',
      summary: 'The page an unsubscribe link opens: a form to confirm',
      querystring: UnsubscribeQuerySchema,
      response: { 200: { description: 'A confirmation form (HTML).', ...HTML_RESPONSE }, ...problemResponses(400, 404, 409) }
    }
  }, async (request, reply) => {
    await verified(request.query)
    const action = `?${new URLSearchParams(request.query).toString()}`
    return await reply.type('text/html; charset=utf-8').send(page('Stop sync-failure digests?',
      `<p>Stop the sync-failure digests of this subscription for <strong>${escapeHtml(request.query.a)}</strong>?</p>` +
      `<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="List-Unsubscribe" value="One-Click">` +
      '<button type="submit">Unsubscribe</button></form>'))
  })

  app.post('/email-unsubscribe', {
    config: { scope: 'public' },
    schema: {
      tags: ['email'],
      operationId: 'emailUnsubscribe',
      summary: 'One-click unsubscribe (RFC 8058): turns the subscription off for this address',
      description: 'The mail\'s List-Unsubscribe URL; mail clients POST it with `List-Unsubscribe=One-Click`. Its unsent mails to the address are cancelled.',
      querystring: UnsubscribeQuerySchema,
      response: { 200: { description: 'Unsubscribed (HTML).', ...HTML_RESPONSE }, ...problemResponses(400, 404, 409) }
    }
  }, async (request, reply) => {
    await verified(request.query)
    await app.emailDigests.require().unsubscribe(request.query.s, request.query.a, app.clock())
    return await reply.type('text/html; charset=utf-8').send(page('Unsubscribed',
      `<p><strong>${escapeHtml(request.query.a)}</strong> no longer receives these sync-failure digests. An administrator can add it again.</p>`))
  })
}

export default emailUnsubscribe
