import { describe, expect, it } from '@jest/globals'
import { selectColumns } from '../../src/core/data/batching.js'
import { expectUserError } from './helpers.js'

describe('selectColumns: the missing-column message', () => {
  it('lists plain names as they are, and quotes an excerpt of a long or unprintable one', async () => {
    const long = 'n'.repeat(1_000_000)
    await expectUserError(
      () => selectColumns('f.csv', ['id', long, 'two\nlines', 'rtl\u202eevil'], ['x', long]),
      `f.csv: missing column(s) "x"; the file has: id, "${'n'.repeat(60)}"… (1000000 characters), "two\\nlines", "rtl\\u202eevil"`,
      'f.csv',
    )
  })

  it('lists at most 100 names of each kind, saying how many there are', async () => {
    const available = Array.from({ length: 5000 }, (_, i) => `c${i}`)
    const wanted = Array.from({ length: 150 }, (_, i) => `w${i}`)
    const error = await expectUserError(() => selectColumns('f.csv', available, wanted), /^f\.csv: missing column\(s\) /)
    expect(error.message).toBe(
      `f.csv: missing column(s) ${wanted
        .slice(0, 100)
        .map((w) => `"${w}"`)
        .join(', ')}, … (150 in all); the file has: ${available.slice(0, 100).join(', ')}, … (5000 in all)`,
    )
    expect(error.field).toBe('w0')
  })
})
