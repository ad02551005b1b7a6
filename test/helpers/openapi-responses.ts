import { readFileSync } from 'node:fs'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import * as ajvFormats from 'ajv-formats'
import type { LightMyRequestResponse } from 'fastify'

// Checks a response against openapi/openapi.json, the document clients generate from: the
// status must be one the operation documents, and a JSON body must match the schema
// documented for that status and media type. It reads the document only, never the route
// schemas, so a route that answers something its documentation does not say is caught.

interface MediaType { schema?: unknown }
interface Response { content?: Record<string, MediaType> }
interface Operation { responses: Record<string, Response> }
interface Document { paths: Record<string, Record<string, Operation>> }

const DOCUMENT_ID = 'openapi.json'
const document = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')) as Document

const addFormats = ajvFormats.default.default
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false })
addFormats(ajv)
ajv.addSchema(document, DOCUMENT_ID)

const routes = Object.entries(document.paths).map(([template, methods]) => ({
  template,
  methods,
  pattern: new RegExp('^' + template.split(/\{[^}]+\}/).map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('[^/]+') + '$')
}))

const compiled = new Map<string, ValidateFunction>()

function pointer (...segments: string[]): string {
  return '#/' + segments.map((segment) => segment.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')
}

/** The operation documented for this method and path, or null (an undocumented URL: its 404 is no operation's). */
export function findOperation (method: string, path: string): { template: string, operation: Operation } | null {
  for (const route of routes) {
    const operation = route.methods[method.toLowerCase()]
    if (operation !== undefined && route.pattern.test(path)) return { template: route.template, operation }
  }
  return null
}

/** What is wrong with the response by the document; empty when it matches. */
export function responseProblems (method: string, url: string, response: LightMyRequestResponse): string[] {
  const path = url.split('?')[0]
  const found = findOperation(method === 'HEAD' ? 'GET' : method, path)
  if (found === null) return []
  const { template, operation } = found
  const status = String(response.statusCode)
  const key = [status, `${status[0]}XX`, 'default'].find((candidate) => operation.responses[candidate] !== undefined)
  const where = `${method} ${template} answered ${status}`
  if (key === undefined) return [`${where}, which its operation does not document (documented: ${Object.keys(operation.responses).join(', ')})`]
  const documented = operation.responses[key]
  if (method === 'HEAD' || response.statusCode === 204 || response.statusCode === 304) return []
  const mediaType = String(response.headers['content-type'] ?? '').split(';')[0].trim()
  if (documented.content === undefined) return response.body === '' ? [] : [`${where} with a body its documentation does not describe`]
  const media = documented.content[mediaType]
  if (media === undefined) return [`${where} as ${mediaType || 'no content type'}, not one of ${Object.keys(documented.content).join(', ')}`]
  if (!mediaType.endsWith('json') || media.schema === undefined) return []
  const ref = pointer('paths', template, method.toLowerCase(), 'responses', key, 'content', mediaType, 'schema')
  let validate = compiled.get(ref)
  if (validate === undefined) {
    validate = ajv.compile({ $ref: DOCUMENT_ID + ref })
    compiled.set(ref, validate)
  }
  if (validate(JSON.parse(response.body))) return []
  return (validate.errors ?? []).map((error) => `${where}: body${error.instancePath} ${error.message ?? 'is invalid'}`)
}
