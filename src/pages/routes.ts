import { join } from 'node:path'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import view from '@fastify/view'
import fastifyStatic from '@fastify/static'
import formbody from '@fastify/formbody'
import { Eta } from 'eta'
import Type from 'typebox'
import {
  CATEGORY_IDS, CATEGORY_LIST, categoryInfo, InvalidCursorError, isoTime, type CategoryId, type GuideStep
} from '../domain/index.js'
import { authenticateApiKey } from '../repositories/api-keys.js'
import { packageRoot } from '../db/migrations.js'
import { HttpProblem } from '../plugins/problems.js'
import { categoryGuide } from '../services/reports.js'
import { MAILBOX_SEARCH_MAX_LENGTH, type ErrorReportQuery } from '../schemas/batches.js'
import { IdentifierPattern } from '../schemas/common.js'
import { categoryColour, openFailureTrend, statesSvg, trendSvg } from './charts.js'

// The service's own pages: server-rendered (eta, escaping every value by default), readable
// without JavaScript, reading through the same services as the API (app.reports), signed in
// with an API key that is exchanged for the session cookie (plugins/session.ts).

const PAGE_SIZE = 50

const HIDDEN = { hide: true }

const BatchPageParams = Type.Object({ batchId: Type.String({ pattern: IdentifierPattern }) })
const BatchPageQuery = Type.Object({
  status: Type.Optional(Type.Enum(['open', 'resolved', 'all'])),
  category: Type.Optional(Type.Union([Type.Enum(CATEGORY_IDS), Type.Literal('')])),
  mailboxContains: Type.Optional(Type.String({ maxLength: MAILBOX_SEARCH_MAX_LENGTH })),
  cursor: Type.Optional(Type.String({ maxLength: 1024 }))
})
const MailboxPageParams = Type.Object({ batchId: Type.String({ pattern: IdentifierPattern }), mailbox: Type.String({ minLength: 3, maxLength: 320 }) })
const CursorQuery = Type.Object({ cursor: Type.Optional(Type.String({ maxLength: 1024 })) })
const SignInBody = Type.Object({
  apiKey: Type.String({ maxLength: 200 }),
  _csrf: Type.Optional(Type.String({ maxLength: 200 }))
})

/** Steps as nested lists, the way the guide nests them. */
export interface StepView { text: string, steps: StepView[] }

function steps (list: readonly GuideStep[]): StepView[] {
  return list.map((step) => ({ text: step.text, steps: steps(step.steps) }))
}

/** A page's error as the page shows it: status, title and what to do. */
function pageError (error: FastifyError | HttpProblem | InvalidCursorError): { status: number, title: string, detail: string } {
  if (error instanceof HttpProblem) return { status: error.problem.status, title: error.problem.title, detail: error.problem.detail ?? '' }
  if (error instanceof InvalidCursorError) return { status: 400, title: 'Invalid cursor', detail: 'This page link is out of date; start again from the first page.' }
  if (error.validation !== undefined) return { status: 400, title: 'Bad request', detail: 'The address or the filters are not valid.' }
  const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
  return status === 500
    ? { status, title: 'Something went wrong', detail: 'An unexpected error occurred; it has been logged.' }
    : { status, title: 'Request refused', detail: error.message }
}

/** Where a sign-in may send the browser back to: one of our pages, never another site. */
function safeNext (value: unknown): string {
  return typeof value === 'string' && /^\/ui\/[A-Za-z0-9._:@%/+-]*(\?[^\s#]*)?$/.test(value) && !value.includes('//') ? value : '/'
}

const pages: FastifyPluginAsyncTypebox = async (app) => {
  const root = packageRoot()
  await app.register(view, {
    engine: { eta: new Eta({ views: join(root, 'views'), autoEscape: true, cache: true }) },
    templates: join(root, 'views'),
    viewExt: 'eta',
    defaultContext: { categories: CATEGORY_LIST }
  })
  // Assets: the stylesheet and the live-update script, both same-origin as the CSP asks.
  await app.register(async (assets) => {
    assets.addHook('onRoute', (route) => { route.config = { ...route.config, scope: 'public' }; route.schema = { ...route.schema, hide: true } })
    await assets.register(fastifyStatic, { root: join(root, 'public'), prefix: '/assets/', maxAge: '1h', index: false })
  })
  await app.register(formbody, { bodyLimit: 4096 })

  async function render (reply: FastifyReply, template: string, data: Record<string, unknown>, status = 200): Promise<FastifyReply> {
    const request = reply.request
    const signedIn = request.apiKey !== null
    return await reply.code(status).header('cache-control', 'no-store').type('text/html; charset=utf-8')
      .view(template, { signedIn, csrfToken: reply.generateCsrf(), ...data })
  }

  async function signInPage (reply: FastifyReply, status: number, message: string | null, next: string): Promise<FastifyReply> {
    return await render(reply, 'sign-in', { title: 'Sign in', message, next }, status)
  }

  app.setErrorHandler(async (error: FastifyError | HttpProblem | InvalidCursorError, request: FastifyRequest, reply: FastifyReply) => {
    const shown = pageError(error)
    if (shown.status === 500) request.log.error({ err: error }, 'page failed')
    if (shown.status === 401 && request.method === 'GET') {
      if (request.url === '/' || request.url.startsWith('/?')) return await signInPage(reply, 200, null, safeNext((request.query as { next?: unknown } | undefined)?.next))
      return await reply.redirect(`/?next=${encodeURIComponent(request.url)}`, 303)
    }
    if (shown.status === 403 && (error as FastifyError).code === 'FST_CSRF_INVALID_TOKEN') {
      shown.detail = 'The form was out of date (its security token did not match). Reload the page and try again.'
    }
    return await render(reply, 'error', { title: shown.title, error: shown }, shown.status)
  })

  app.get('/', {
    config: { scope: 'reports:read', page: true },
    schema: { ...HIDDEN, operationId: 'pageBatches', querystring: Type.Object({ cursor: Type.Optional(Type.String({ maxLength: 1024 })), next: Type.Optional(Type.String({ maxLength: 2048 })) }) }
  }, async (request, reply) => {
    const page = await app.reports.listBatches(request.tenantId, request.query.cursor, PAGE_SIZE)
    return await render(reply, 'batches', {
      title: 'Batches',
      batches: page.items.map((batch) => ({ ...batch, categories: Object.entries(batch.byCategory).map(([id, count]) => ({ id, title: categoryInfo(id as CategoryId).title, count })) })),
      nextCursor: page.nextCursor
    })
  })

  app.post('/sign-in', {
    config: { scope: 'public' },
    schema: { ...HIDDEN, operationId: 'signIn', body: SignInBody, querystring: Type.Object({ next: Type.Optional(Type.String({ maxLength: 2048 })) }) },
    preHandler: app.csrfProtection
  }, async (request, reply) => {
    const next = safeNext(request.query.next)
    const key = await authenticateApiKey(app.apiKeys, request.body.apiKey.trim())
    if (key === null) return await signInPage(reply, 401, 'That API key is not valid or has been revoked.', next)
    if (!key.scopes.includes('reports:read')) return await signInPage(reply, 403, 'That API key does not have the scope reports:read, which the pages need.', next)
    // A new session (and CSRF secret) on every sign-in; it holds the key's id and prefix, never the key.
    request.session.regenerate()
    request.session.set('key', { id: key.id, prefix: key.prefix })
    request.session.touch()
    return await reply.redirect(next, 303)
  })

  app.post('/sign-out', {
    config: { scope: 'public' },
    schema: { ...HIDDEN, operationId: 'signOut' },
    preHandler: app.csrfProtection
  }, async (request, reply) => {
    request.session.delete()
    return await reply.redirect('/', 303)
  })

  app.get('/ui/batches/:batchId', {
    config: { scope: 'reports:read', page: true },
    schema: { ...HIDDEN, operationId: 'pageBatch', params: BatchPageParams, querystring: BatchPageQuery }
  }, async (request, reply) => {
    const { tenantId } = request
    const { batchId } = request.params
    const { status, category, cursor } = request.query
    const search = request.query.mailboxContains?.trim() ?? ''
    const query: ErrorReportQuery = {
      status: status ?? 'open',
      ...(category !== undefined && category !== '' ? { category: [category] } : {}),
      ...(search !== '' ? { mailboxContains: search } : {}),
      ...(cursor !== undefined && cursor !== '' ? { cursor } : {})
    }
    const walk = await app.reports.startWalk(tenantId, batchId, query)
    const [detail, page, latestSeq] = await Promise.all([
      app.reports.batchDetail(tenantId, batchId),
      app.reports.reportPage(tenantId, batchId, walk, PAGE_SIZE),
      app.changes.latestSeq(tenantId)
    ])
    const held = await app.reports.heldUpSinceOf(tenantId, batchId, page.failures)
    const trend = await openFailureTrend(app.changes, tenantId, batchId, detail.byCategory, app.clock())
    const filters = new URLSearchParams()
    filters.set('status', query.status ?? 'open')
    if (category !== undefined && category !== '') filters.set('category', category)
    if (search !== '') filters.set('mailboxContains', search)
    const rows = page.failures.map((failure, index) => {
      const guide = categoryGuide(failure.category, failure.context)
      const since = held[index]
      return {
        key: `${failure.mailbox} ${failure.category}`,
        mailbox: failure.mailbox,
        category: failure.category,
        title: categoryInfo(failure.category).title,
        status: failure.status,
        heldUpSince: since === null ? null : isoTime(since),
        lastSeenAt: isoTime(failure.lastSeenAt),
        occurrences: failure.occurrences,
        lastMessage: failure.lastMessage,
        steps: steps(guide.steps),
        tip: guide.tip
      }
    })
    const states = { syncing: detail.mailboxesSynced, failing: detail.mailboxesFailing, stalled: detail.mailboxesStalled }
    return await render(reply, 'batch', {
      title: `Batch ${batchId}`,
      batch: detail,
      summary: page.summary,
      rows,
      filter: { status: query.status, category: category ?? '', mailboxContains: search },
      filterQuery: filters.toString(),
      nextCursor: page.nextCursor,
      firstPage: cursor === undefined || cursor === '',
      latestSeq,
      trend,
      trendSvg: trendSvg(trend, 'trend'),
      statesSvg: statesSvg(states, 'states'),
      states,
      colour: categoryColour
    })
  })

  app.get('/ui/batches/:batchId/mailboxes/:mailbox', {
    config: { scope: 'reports:read', page: true },
    schema: { ...HIDDEN, operationId: 'pageMailbox', params: MailboxPageParams, querystring: CursorQuery }
  }, async (request, reply) => {
    const { batchId, mailbox } = request.params
    const cursor = request.query.cursor === '' ? undefined : request.query.cursor
    const detail = await app.reports.mailboxDetail(request.tenantId, batchId, mailbox, cursor, PAGE_SIZE)
    return await render(reply, 'mailbox', {
      title: `${detail.mailbox} in ${batchId}`,
      detail,
      failures: detail.failures.map((failure) => ({ ...failure, steps: steps(failure.troubleshooting.steps), tip: failure.troubleshooting.tip }))
    })
  })

  app.get('/ui/troubleshooting', {
    config: { scope: 'reports:read', page: true },
    schema: { ...HIDDEN, operationId: 'pageTroubleshooting' }
  }, async (_request, reply) => {
    const guides = CATEGORY_LIST.map((info) => {
      const guide = categoryGuide(info.id, {})
      return { ...guide, steps: steps(guide.steps) }
    })
    return await render(reply, 'troubleshooting', { title: 'Troubleshooting guides', guides })
  })
}

export default pages
