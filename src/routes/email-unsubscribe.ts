import type { FastifyReply } from 'fastify'
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

/** What the two routes of the link have in common: public, the signed query, an HTML answer or a problem. */
function linkRoute (operationId: string, summary: string, answer: string, description?: string) {
  return {
    config: { scope: 'public' as const },
    schema: {
      tags: ['email'],
      operationId,
      summary,
      ...(description === undefined ? {} : { description }),
      querystring: UnsubscribeQuerySchema,
      response: { 200: { description: answer, content: { 'text/html': { schema: Type.String() } } }, ...problemResponses(400, 404, 409) }
    }
  }
}

async function sendPage (reply: FastifyReply, title: string, body: string): Promise<FastifyReply> {
  return await reply.type('text/html; charset=utf-8').send(page(title, body))
}

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

  const confirmForm = linkRoute('showEmailUnsubscribe', 'The page an unsubscribe link opens: a form to confirm', 'A confirmation form (HTML).')
  app.get('/email-unsubscribe', confirmForm, async (request, reply) => {
    await verified(request.query)
    const action = `?${new URLSearchParams(request.query).toString()}`
    return await sendPage(reply, 'Stop sync-failure digests?',
      `<p>Stop the sync-failure digests of this subscription for <strong>${escapeHtml(request.query.a)}</strong>?</p>` +
      `<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="List-Unsubscribe" value="One-Click">` +
      '<button type="submit">Unsubscribe</button></form>')
  })

  const oneClick = linkRoute('emailUnsubscribe', 'One-click unsubscribe (RFC 8058): turns the subscription off for this address', 'Unsubscribed (HTML).',
    'The mail\'s List-Unsubscribe URL; mail clients POST it with `List-Unsubscribe=One-Click`. Its unsent mails to the address are cancelled.')
  app.post('/email-unsubscribe', oneClick, async (request, reply) => {
    await verified(request.query)
    await app.emailDigests.require().unsubscribe(request.query.s, request.query.a, app.clock())
    return await sendPage(reply, 'Unsubscribed',
      `<p><strong>${escapeHtml(request.query.a)}</strong> no longer receives these sync-failure digests. An administrator can add it again.</p>`)
  })
}

export default emailUnsubscribe
