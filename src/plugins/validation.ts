import { Ajv, type Options } from 'ajv'
import * as ajvFormats from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'

// ajv-formats is CommonJS: under NodeNext its plugin function is the module's `default`.
const addFormats = ajvFormats.default.default

function makeAjv (options: Options): Ajv {
  // allErrors: a refusal names every problem, not the first; verbose: an unknown property's
  // error carries the schema it broke, whose known properties "did you mean" picks from.
  const ajv = new Ajv({ allErrors: true, verbose: true, removeAdditional: false, useDefaults: true, strict: false, ...options })
  addFormats(ajv)
  return ajv
}

// Bodies are checked strictly (an engine sending 42 for a string must hear of it); query
// strings and path parameters arrive as text, so they are coerced ("limit=10" is 10, a
// single category becomes a list of one).
const strict = makeAjv({ coerceTypes: false })
const coercing = makeAjv({ coerceTypes: 'array' })

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? strict : coercing
  return ajv.compile(schema) as ReturnType<FastifySchemaCompiler<object>>
}
