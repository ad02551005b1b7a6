import Type, { type Static } from 'typebox'
import { CATEGORY_IDS, CREDENTIAL_MODES, MIGRATION_TYPES } from '../domain/types.js'

export const CategorySchema = Type.Enum(CATEGORY_IDS, { description: 'Failure category id (stable API value).' })

export const ContextSchema = Type.Object({
  engine: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\s]+$', description: 'Sync engine name, e.g. imapsync.' })),
  migrationType: Type.Optional(Type.Enum(MIGRATION_TYPES, { description: 'Kind of migration: IMAP or Exchange.' })),
  server: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\s]+$', description: 'On-premises server host the batch connects to.' })),
  credentialMode: Type.Optional(Type.Enum(CREDENTIAL_MODES, { description: 'admin: one super-user account signs in for every mailbox; user: each mailbox with its own password.' }))
}, { additionalProperties: false })

const Leaf = Type.Object({ text: Type.String(), steps: Type.Array(Type.Unknown(), { maxItems: 0 }) })
const Nested = Type.Object({ text: Type.String(), steps: Type.Array(Leaf) })
export const GuideStepSchema = Type.Object({ text: Type.String(), steps: Type.Array(Nested) })

export const GuideSchema = Type.Object({
  steps: Type.Array(GuideStepSchema, { description: 'Checks in order; a step may have nested steps.' }),
  tip: Type.Union([Type.String(), Type.Null()])
})

export const CategoryGuideSchema = Type.Object({
  id: CategorySchema,
  title: Type.String(),
  summary: Type.String(),
  side: Type.Enum(['source', 'cloud', 'either', 'unknown']),
  blocking: Type.Boolean({ description: 'True when new mail stops reaching the cloud mailbox until it is fixed.' }),
  retryable: Type.Union([Type.Boolean(), Type.Null()], { description: 'Whether retrying helps; null when unknown.' }),
  retryAdvice: Type.String(),
  steps: GuideSchema.properties.steps,
  tip: GuideSchema.properties.tip
})

export const GuideQuerySchema = Type.Object({
  credentialMode: ContextSchema.properties.credentialMode,
  migrationType: ContextSchema.properties.migrationType,
  server: ContextSchema.properties.server
}, { additionalProperties: false })

export type CategoryGuide = Static<typeof CategoryGuideSchema>
