import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { categoryInfo, troubleshootingGuide } from '../domain/index.js'
import { classifyFailure } from '../domain/classifier.js'
import { problemResponses } from '../schemas/common.js'
import { FailureDetailSchema } from '../schemas/events.js'
import { CategorySchema, ContextSchema, GuideSchema } from '../schemas/troubleshooting.js'

const ClassifyBodySchema = Type.Object({
  code: FailureDetailSchema.properties.code,
  message: FailureDetailSchema.properties.message,
  context: Type.Optional(ContextSchema)
}, {
  additionalProperties: false,
  examples: [
    { code: '162', message: 'Host2 failure: Error login on [outlook.office365.com] with user [alice@contoso.com] auth [LOGIN]: 2 NO LOGIN failed.', context: { engine: 'imapsync' } },
    { message: 'NO [OVERQUOTA] Quota exceeded (mailbox for user is full)' }
  ]
})

const ClassificationSchema = Type.Object({
  category: CategorySchema,
  rule: Type.String({ description: 'Id of the rule that decided (see the rule table in the README).' }),
  side: Type.Enum(['source', 'cloud', 'either', 'unknown']),
  title: Type.String(),
  blocking: Type.Boolean(),
  retryable: Type.Union([Type.Boolean(), Type.Null()]),
  troubleshooting: GuideSchema
}, {
  examples: [{
    category: 'cloud_sign_in_failed',
    rule: 'imapsync.exit.162',
    side: 'cloud',
    title: 'Couldn\'t sign in to the cloud mailbox',
    blocking: true,
    retryable: false,
    troubleshooting: { steps: [{ text: 'Check the credentials the batch uses for the cloud side.', steps: [] }], tip: null }
  }]
})

const classify: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/classify', {
    config: { scope: 'reports:read' },
    schema: {
      tags: ['classification'],
      operationId: 'classifyError',
      summary: 'Classify a raw engine error without storing anything',
      description: 'The same classification POST /events applies: engine code, then IMAP response code, then wording, else unclassified.',
      body: ClassifyBodySchema,
      response: {
        200: ClassificationSchema,
        ...problemResponses(400, 413, 415)
      }
    }
  }, async (request) => {
    const { code, message, context } = request.body
    const { category, rule, side } = classifyFailure({ code, message, context })
    const info = categoryInfo(category)
    return {
      category,
      rule,
      side,
      title: info.title,
      blocking: info.blocking,
      retryable: info.retryable,
      troubleshooting: troubleshootingGuide(category, context)
    }
  })
}

export default classify
