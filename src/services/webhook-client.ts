import { lookup as dnsLookup } from 'node:dns/promises'
import http from 'node:http'
import https from 'node:https'
import { isIP, type LookupFunction } from 'node:net'
import { addressRefusal } from '../domain/webhook-addresses.js'

// Sends one webhook request the way Standard Webhooks asks: POST, no redirects followed (Node's
// http never follows them), a hard timeout, and never to a non-public address unless private
// networks are allowed. The address is checked where the socket gets it: in the lookup that
// hands it to connect (so a name cannot resolve to a public address when checked and a private
// one when connected, no DNS rebinding), and again on the connected socket.

export interface ResolvedAddress {
  address: string
  family: number
}

/** Resolves a host name to every address it has; injectable so tests never use real DNS. */
export type WebhookResolver = (hostname: string) => Promise<ResolvedAddress[]>

export const systemResolver: WebhookResolver = async (hostname) => await dnsLookup(hostname, { all: true, verbatim: true })

export interface WebhookRequest {
  url: string
  headers: Record<string, string>
  body: string
  timeoutMs: number
}

export interface WebhookResponse {
  /** null when no HTTP answer came; then `error` says why. */
  statusCode: number | null
  retryAfter: string | undefined
  error: string | null
}

/** Thrown (as the request's error) when an address is refused. */
export class RefusedAddressError extends Error {
  override name = 'RefusedAddressError'
}

function unbracket (hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname
}

export interface WebhookClientOptions {
  allowPrivateNetworks: boolean
  resolver?: WebhookResolver
}

/** Why the resolved addresses of `hostname` may not be used, or null when they may. */
function refusalOf (hostname: string, addresses: ResolvedAddress[]): string | null {
  if (addresses.length === 0) return `${hostname} has no address`
  for (const { address } of addresses) {
    const reason = addressRefusal(address)
    if (reason !== null) return `${hostname === address ? address : `${hostname} resolves to ${address}`}, a ${reason} address`
  }
  return null
}

export class WebhookClient {
  private readonly resolver: WebhookResolver

  constructor (private readonly options: WebhookClientOptions) {
    this.resolver = options.resolver ?? systemResolver
  }

  /**
   * Why the URL's host may not receive webhooks, or null: an IP literal must be public, and a
   * name must resolve to public addresses only (unless private networks are allowed).
   */
  async hostRefusal (url: URL): Promise<string | null> {
    if (this.options.allowPrivateNetworks) return null
    const host = unbracket(url.hostname)
    if (isIP(host) !== 0) return refusalOf(host, [{ address: host, family: isIP(host) }])
    let addresses: ResolvedAddress[]
    try {
      addresses = await this.resolver(host)
    } catch (error) {
      return `${host} does not resolve (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`
    }
    return refusalOf(host, addresses)
  }

  /** The lookup the socket connects with: the resolver's answer, refused when not public. */
  private readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.resolver(hostname).then((addresses) => {
      const reason = this.options.allowPrivateNetworks ? null : refusalOf(hostname, addresses)
      if (reason !== null) throw new RefusedAddressError(`refused: ${reason}`)
      const usable = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses
      if (usable.length === 0) throw Object.assign(new Error(`${hostname} has no IPv${String(options.family)} address`), { code: 'ENOTFOUND' })
      if (options.all === true) callback(null, usable)
      else callback(null, usable[0].address, usable[0].family)
    }).catch((error: NodeJS.ErrnoException) => { callback(error, '', 0) })
  }

  async send (request: WebhookRequest): Promise<WebhookResponse> {
    let url: URL
    try {
      url = new URL(request.url)
    } catch {
      return { statusCode: null, retryAfter: undefined, error: 'the URL is not valid' }
    }
    const literal = unbracket(url.hostname)
    if (!this.options.allowPrivateNetworks && isIP(literal) !== 0) {
      const reason = addressRefusal(literal)
      if (reason !== null) return { statusCode: null, retryAfter: undefined, error: `refused: ${literal}, a ${reason} address` }
    }
    const transport = url.protocol === 'https:' ? https : http
    return await new Promise<WebhookResponse>((resolve) => {
      let settled = false
      const finish = (response: WebhookResponse): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve(response)
      }
      const outgoing = transport.request(url, {
        method: 'POST',
        headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
        lookup: this.lookup,
        agent: false
      }, (response) => {
        finish({ statusCode: response.statusCode ?? null, retryAfter: header(response.headers['retry-after']), error: null })
        // The body is not kept: the status says it all, and a body that never ends must not hold the socket.
        outgoing.destroy()
      })
      outgoing.on('socket', (socket) => {
        socket.once('connect', () => {
          const remote = socket.remoteAddress
          const reason = this.options.allowPrivateNetworks || remote === undefined ? null : addressRefusal(remote)
          if (reason !== null) outgoing.destroy(new RefusedAddressError(`refused: connected to ${remote ?? ''}, a ${reason} address`))
        })
      })
      const timer = setTimeout(() => {
        outgoing.destroy(new Error(`no answer within ${request.timeoutMs} ms`))
      }, request.timeoutMs)
      outgoing.on('error', (error: NodeJS.ErrnoException) => {
        finish({ statusCode: null, retryAfter: undefined, error: error instanceof RefusedAddressError ? error.message : `${error.code ?? 'error'}: ${error.message}` })
      })
      outgoing.end(request.body)
    })
  }
}

function header (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
