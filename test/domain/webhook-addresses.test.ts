import t from 'tap'
import { addressRefusal, mappedIpv4 } from '../../src/domain/webhook-addresses.js'

// Address rules as data: nothing here opens a connection.

t.test('public unicast addresses may receive webhooks', async (t) => {
  for (const address of ['93.184.215.14', '8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001:82b::200e', '[2606:4700::1]', '::ffff:8.8.8.8']) {
    t.equal(addressRefusal(address), null, address)
  }
})

t.test('loopback, private, link-local, CGNAT and reserved IPv4 ranges are refused', async (t) => {
  const cases: Array<[string, string]> = [
    ['127.0.0.1', 'loopback'], ['127.255.255.254', 'loopback'], ['10.0.0.1', 'private'], ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'], ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'], ['100.127.255.255', 'carrier-grade NAT'], ['0.0.0.0', 'this network'],
    ['192.0.2.1', 'documentation'], ['198.18.0.1', 'benchmarking'], ['224.0.0.1', 'multicast'], ['255.255.255.255', 'reserved']
  ]
  for (const [address, reason] of cases) t.equal(addressRefusal(address), reason, address)
})

t.test('IPv6 equivalents and IPv4-mapped addresses are refused', async (t) => {
  const cases: Array<[string, string]> = [
    ['::1', 'loopback'], ['[::1]', 'loopback'], ['::', 'unspecified'], ['fe80::1', 'link-local'], ['fc00::1', 'unique local (private)'],
    ['fd12:3456::1', 'unique local (private)'], ['ff02::1', 'multicast'], ['2001:db8::1', 'documentation'], ['64:ff9b::7f00:1', 'NAT64'],
    ['2002:7f00:1::', '6to4'], ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'link-local'], ['::ffff:a9fe:a9fe', 'link-local'], ['0:0:0:0:0:ffff:6440:1', 'carrier-grade NAT'], ['::127.0.0.1', 'IPv4-compatible']
  ]
  for (const [address, reason] of cases) t.equal(addressRefusal(address), reason, address)
})

t.test('anything but an IP address is refused', async (t) => {
  for (const text of ['localhost', '', '127.1', '0x7f000001', '2130706433', 'example.com']) t.equal(addressRefusal(text), 'not an IP address', text)
})

t.test('mappedIpv4 reads both spellings of an IPv4-mapped address', async (t) => {
  t.equal(mappedIpv4('::ffff:192.168.0.1'), '192.168.0.1')
  t.equal(mappedIpv4('::ffff:c0a8:1'), '192.168.0.1')
  t.equal(mappedIpv4('0:0:0:0:0:ffff:c0a8:0001'), '192.168.0.1')
  t.equal(mappedIpv4('2001:db8::1'), null)
  t.equal(mappedIpv4('10.0.0.1'), null)
})
