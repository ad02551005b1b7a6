import { BlockList, isIP } from 'node:net'

// Which addresses a webhook may connect to: public unicast only, unless the operator allows
// private networks (WEBHOOK_ALLOW_PRIVATE_NETWORKS). Pure: the delivery client applies it to
// the address it actually connects to, and creation to what the host resolves to.

const RANGES_V4: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'this network'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved']
]

const RANGES_V6: Array<[string, number, string]> = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['::', 96, 'IPv4-compatible'],
  ['64:ff9b::', 96, 'NAT64'],
  ['64:ff9b:1::', 48, 'NAT64'],
  ['100::', 64, 'discard'],
  ['2001::', 23, 'IETF protocol assignments'],
  ['2001:db8::', 32, 'documentation'],
  ['2002::', 16, '6to4'],
  ['fc00::', 7, 'unique local (private)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast']
]

function rangeList (ranges: Array<[string, number, string]>, type: 'ipv4' | 'ipv6'): Array<{ list: BlockList, reason: string }> {
  return ranges.map(([network, prefix, reason]) => {
    const list = new BlockList()
    list.addSubnet(network, prefix, type)
    return { list, reason }
  })
}

const BLOCKED_V4 = rangeList(RANGES_V4, 'ipv4')
const BLOCKED_V6 = rangeList(RANGES_V6, 'ipv6')

/** The IPv4 address an IPv4-mapped IPv6 address (::ffff:a.b.c.d, any spelling) stands for, or null. */
export function mappedIpv4 (address: string): string | null {
  const list = new BlockList()
  list.addSubnet('::ffff:0:0', 96, 'ipv6')
  if (isIP(address) !== 6 || !list.check(address, 'ipv6')) return null
  const dotted = /:(\d+\.\d+\.\d+\.\d+)$/.exec(address)
  if (dotted !== null) return dotted[1]
  const groups = expandIpv6(address)
  const high = parseInt(groups[6], 16)
  const low = parseInt(groups[7], 16)
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`
}

function expandIpv6 (address: string): string[] {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined]
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const fill = tail === undefined ? [] : Array.from({ length: 8 - left.length - right.length }, () => '0')
  return [...left, ...fill, ...right]
}

/**
 * Why a webhook must not connect to this IP address ("loopback", "private", ...), or null
 * when it is a public unicast address. Anything that is not an IP address is refused.
 */
export function addressRefusal (address: string): string | null {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address
  const version = isIP(bare)
  if (version === 0) return 'not an IP address'
  const v4 = version === 4 ? bare : mappedIpv4(bare)
  if (v4 !== null) {
    for (const { list, reason } of BLOCKED_V4) if (list.check(v4, 'ipv4')) return reason
    return null
  }
  for (const { list, reason } of BLOCKED_V6) if (list.check(bare, 'ipv6')) return reason
  return null
}
