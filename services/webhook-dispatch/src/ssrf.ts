import { lookup as dnsLookup } from 'node:dns/promises'
import { isIP, type LookupFunction } from 'node:net'
import ipaddr from 'ipaddr.js'

/** Where outbound webhooks may go. */
export interface TargetPolicy {
  /** Development and tests: http:// and loopback addresses are allowed. */
  allowHttpLoopback: boolean
}

/** A refusal, with a code and a message fit for the merchant. */
export class TargetRefusedError extends Error {
  readonly code: string
  constructor (code: string, message: string) {
    super(message)
    this.name = 'TargetRefusedError'
    this.code = code
  }
}

// Cloud metadata services, named so the refusal says what they are (also link-local / unique-local).
const METADATA = new Set(['169.254.169.254', 'fd00:ec2::254', '169.254.170.2', '100.100.100.200'])

/**
 * Why an address may not be called, or undefined when it may: only global unicast is allowed
 * (loopback too when the policy says); private, link-local, unique-local, carrier-grade NAT,
 * multicast, reserved, unspecified, documentation and metadata addresses never.
 */
export function refusalFor (address: string, policy: TargetPolicy): string | undefined {
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`
  let ip = ipaddr.parse(address)
  // ::ffff:10.0.0.1 is 10.0.0.1.
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address()
  const normal = ip.toNormalizedString()
  const text = ip.kind() === 'ipv6' ? ipaddr.IPv6.parse(normal).toString() : normal
  if (METADATA.has(text)) return `${address} is a cloud metadata address`
  const range = ip.range()
  if (range === 'loopback') return policy.allowHttpLoopback ? undefined : `${address} is a loopback address`
  if (range === 'unicast') return undefined
  return `${address} is a ${range} address, not a public one`
}

/** Check a URL's form: https (or http to loopback when allowed), no credentials, a host. Throws TargetRefusedError. */
export function checkUrl (raw: string, policy: TargetPolicy): URL {
  let url: URL
  try { url = new URL(raw) } catch { throw new TargetRefusedError('WEBHOOK_URL_INVALID', `${JSON.stringify(raw)} is not a URL.`) }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttpLoopback)) {
    throw new TargetRefusedError('WEBHOOK_URL_NOT_HTTPS', `Endpoint URLs must be https:// (got ${url.protocol}//).`)
  }
  if (url.username !== '' || url.password !== '') throw new TargetRefusedError('WEBHOOK_URL_CREDENTIALS', 'Endpoint URLs may not hold a user name or password.')
  const host = hostOf(url)
  if (isIP(host) !== 0) {
    const why = refusalFor(host, policy)
    if (why !== undefined) throw new TargetRefusedError('WEBHOOK_URL_FORBIDDEN_ADDRESS', `Endpoint URLs may not point at a private or internal address: ${why}.`)
  }
  // Names are checked where it matters: after resolution, at every delivery.
  return url
}

/** The URL's host without IPv6 brackets. */
export function hostOf (url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1')
}

/**
 * Resolve a host and check every address it resolves to (any refused address refuses the host:
 * a name that also points inside is not called). Returns the checked addresses.
 */
export async function resolveChecked (host: string, policy: TargetPolicy, resolve: typeof dnsLookup = dnsLookup): Promise<Array<{ address: string, family: number }>> {
  const addresses = isIP(host) !== 0
    ? [{ address: host, family: isIP(host) }]
    : await resolve(host, { all: true, verbatim: true }).catch((error: NodeJS.ErrnoException) => {
      throw new TargetRefusedError('WEBHOOK_DNS', `${host} does not resolve (${error.code ?? error.message}).`)
    })
  if (addresses.length === 0) throw new TargetRefusedError('WEBHOOK_DNS', `${host} does not resolve.`)
  for (const a of addresses) {
    const why = refusalFor(a.address, policy)
    if (why !== undefined) throw new TargetRefusedError('WEBHOOK_FORBIDDEN_ADDRESS', `${host} resolves to ${a.address}: ${why}.`)
  }
  return addresses
}

/**
 * A `lookup` for the connection itself: resolves, checks, and hands the socket exactly the
 * addresses checked, so a name re-pointed between a check and the connect (DNS rebinding)
 * cannot reach an internal address.
 */
export function guardedLookup (policy: TargetPolicy): LookupFunction {
  return (hostname, options, callback) => {
    resolveChecked(hostname, policy).then((addresses) => {
      if ((options as { all?: boolean }).all === true) (callback as any)(null, addresses)
      else callback(null, addresses[0]!.address, addresses[0]!.family)
    }, (error: Error) => { callback(error as NodeJS.ErrnoException, '', 0) })
  }
}
