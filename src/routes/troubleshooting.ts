import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { CATEGORY_LIST, categoryInfo, isCategoryId, troubleshootingGuide, type CategoryId, type EventContext } from '../domain/index.js'
import { notFoundProblem } from '../plugins/problems.js'
import { problemResponses } from '../schemas/common.js'
import { CategoryGuideSchema, GuideQuerySchema, type CategoryGuide } from '../schemas/troubleshooting.js'

function categoryGuide (id: CategoryId, context: EventContext): CategoryGuide {
  const { title, summary, side, blocking, retryable, retryAdvice } = categoryInfo(id)
  return { id, title, summary, side, blocking, retryable, retryAdvice, ...troubleshootingGuide(id, context) }
}

const troubleshooting: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/troubleshooting', {
    config: { scope: 'reports:read' },
    schema: {
      tags: ['troubleshooting'],
      operationId: 'listTroubleshootingGuides',
      summary: 'Every failure category with its troubleshooting guide',
      querystring: GuideQuerySchema,
      response: {
        200: Type.Object({ categories: Type.Array(CategoryGuideSchema) }),
        ...problemResponses(400)
      }
    }
  }, async (request) => {
    return { categories: CATEGORY_LIST.map((info) => categoryGuide(info.id, request.query)) }
  })

  app.get('/troubleshooting/:category', {
    config: { scope: 'reports:read' },
    schema: {
      tags: ['troubleshooting'],
      operationId: 'getTroubleshootingGuide',
      summary: 'One category\'s troubleshooting guide, personalised',
      description: '`credentialMode`, `migrationType` and `server` tailor the steps as they would be for a failure reported with that context.',
      params: Type.Object({ category: Type.String({ maxLength: 64, description: 'Category id.' }) }),
      querystring: GuideQuerySchema,
      response: {
        200: CategoryGuideSchema,
        ...problemResponses(400, 404)
      }
    }
  }, async (request) => {
    const { category } = request.params
    if (!isCategoryId(category)) throw notFoundProblem(`no category "${category}"; GET /troubleshooting lists them`)
    return categoryGuide(category, request.query)
  })
}

export default troubleshooting
