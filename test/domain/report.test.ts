import t from 'tap'
import fc from 'fast-check'
import { isoTime } from '../../src/domain/report.js'

// The largest time a Date holds (ECMAScript: 8.64e15 ms either side of the epoch).
const DATE_LIMIT = 8.64e15

t.test('isoTime writes exactly what Date#toISOString does, across the whole range of dates', async (t) => {
  t.doesNotThrow(() => fc.assert(fc.property(fc.integer({ min: -DATE_LIMIT, max: DATE_LIMIT }), (ms) =>
    isoTime(ms) === new Date(ms).toISOString()), { numRuns: 20_000 }))
})

t.test('isoTime is exact at the edges of days, years and the epoch', async (t) => {
  const edges = [0, -1, 1, 86_399_999, 86_400_000, -86_400_000, -86_400_001, Date.parse('2026-12-31T23:59:59.999Z'),
    Date.parse('2027-01-01T00:00:00.000Z'), Date.parse('2024-02-29T12:00:00.005Z'), DATE_LIMIT, -DATE_LIMIT, 253402300800000]
  for (const ms of edges) t.equal(isoTime(ms), new Date(ms).toISOString(), String(ms))
})
