// Where the reporter sends events and keeps its spool: flags first, then SFR_* variables.
import { isWellFormedApiKey } from '../domain/api-keys.js'
import { ReportInputError } from './reported-events.js'
import { defaultSpoolDir } from './spool.js'

export interface ReporterSettings {
  url: string
  apiKey: string
  spoolDir: string
  /** Longest one request to the service may take. */
  timeoutMs: number
}

export interface SettingFlags {
  url?: string
  'api-key'?: string
  'spool-dir'?: string
}

export const REQUEST_TIMEOUT_MS = 30_000

export function readSettings (flags: SettingFlags, env: Record<string, string | undefined>): ReporterSettings {
  const problems: string[] = []
  const url = flags.url ?? env.SFR_URL ?? ''
  const apiKey = flags['api-key'] ?? env.SFR_API_KEY ?? ''
  if (url === '') {
    problems.push('the service URL is missing: set SFR_URL or give --url (e.g. https://sfr.example.com)')
  } else if (!/^https?:\/\/[^/\s]+/i.test(url) || !URL.canParse(url)) {
    problems.push(`SFR_URL / --url "${url}" is not an http:// or https:// URL`)
  }
  // The key is a secret: a problem with it never repeats it.
  if (apiKey === '') problems.push('the API key is missing: set SFR_API_KEY (a key with the events:write scope) or give --api-key')
  else if (!isWellFormedApiKey(apiKey)) problems.push('SFR_API_KEY / --api-key is not an API key (sfr_ followed by 22-128 base64url characters)')
  if (problems.length > 0) throw new ReportInputError(problems.join('\n'))
  const spoolDir = flags['spool-dir'] ?? (env.SFR_SPOOL_DIR === undefined || env.SFR_SPOOL_DIR === '' ? defaultSpoolDir(env) : env.SFR_SPOOL_DIR)
  return { url, apiKey, spoolDir, timeoutMs: REQUEST_TIMEOUT_MS }
}
