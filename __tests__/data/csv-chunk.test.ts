/**
 * The byte-level CSV parser (src/core/data/csv-chunk.ts): every field it reads as a cell is the cell
 * csvCell gives for the field's text, so a number is exactly Number(text), -0 included, and what stays
 * text or is missing follows the same rule. Checked on edge cases and on a large seeded random corpus,
 * unquoted and quoted, through parseCsvChunk directly and through CsvSource.
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { CsvSource, csvCell } from '../../src/core/data/csv.js'
import {
  FIELD_CELL,
  FIELD_TEXT,
  KIND_MISSING,
  KIND_NUMBER,
  KIND_TEXT,
  parseCsvChunk,
  type CsvChunk,
} from '../../src/core/data/csv-chunk.js'
import type { Cell } from '../../src/core/data/types.js'
import { readColumns, tempDir } from './helpers.js'

const tmp = tempDir()
afterAll(() => tmp.remove())

/** The cells parseCsvChunk makes of `fields`, one per record, each written as is and quoted. */
function parsedCells(fields: readonly string[], mode = FIELD_CELL): { plain: Cell[]; quoted: Cell[] } {
  const text = fields.map((f) => `${f},"${f.replaceAll('"', '""')}"\n`).join('')
  const encoded = new TextEncoder().encode(text)
  const bytes = new Uint8Array(encoded.length + 1)
  bytes.set(encoded)
  const chunk = parseCsvChunk(bytes, 0, encoded.length, true, 2, Uint8Array.of(mode, mode), Int32Array.of(0, 1), 2, 1 << 24, 4, Infinity)
  expect(chunk.rows).toBe(fields.length)
  expect(bytes[encoded.length]).toBe(0)
  return { plain: cellsOf(chunk, 0), quoted: cellsOf(chunk, 1) }
}

function cellsOf(chunk: CsvChunk, column: number): Cell[] {
  const cells: Cell[] = []
  for (let r = 0; r < chunk.rows; r++) {
    const k = column * chunk.capacity + r
    const kind = chunk.kinds[k]
    cells.push(kind === KIND_NUMBER ? chunk.values[k] : kind === KIND_MISSING ? null : chunk.strings[chunk.values[k]])
    if (kind === KIND_TEXT) expect(typeof chunk.strings[chunk.values[k]]).toBe('string')
  }
  return cells
}

/** The fields whose cells differ from csvCell's, with both. */
function mismatches(fields: readonly string[]): { field: string; got: Cell; want: Cell }[] {
  const { plain, quoted } = parsedCells(fields)
  const out: { field: string; got: Cell; want: Cell }[] = []
  fields.forEach((field, k) => {
    const want = csvCell(field)
    if (!Object.is(plain[k], want)) out.push({ field, got: plain[k], want })
    if (!Object.is(quoted[k], want)) out.push({ field: `"${field}"`, got: quoted[k], want })
  })
  return out
}

const EDGE_CASES = [
  ...['', 'NA', 'NaN', 'nan', 'N/A', 'null', 'NULL', 'na', 'None', ' '],
  ...['0', '-0', '+0', '-0.0', '-.0', '-0.', '0.', '.0', '-0e0', '-0e-400', '0e999', '00', '007', '-007.50'],
  ...['+5', '.5', '5.', '-.5', '+.5', '-5.', '5.e3', '.5e-3', '1e3', '1E3', '1e+3', '1e-3', '-1E-3', '+1e+0'],
  ...['1e22', '1e23', '1e-22', '1e-23', '9e22', '123e20', '123e-25', '4.35e+22', '1.5e308', '1e308', '1e309'],
  ...['1.7976931348623157e308', '1.7976931348623158e308', '1.7976931348623159e308', '-1.7976931348623159e308'],
  ...['1e400', '-1e400', '1e-400', '-1e-400', '5e-324', '2e-324', '3e-324', '4.9406564584124654e-324', '2.4703282292062327e-324'],
  ...['2.2250738585072011e-308', '2.2250738585072014e-308', '2.225073858507201e-308', '1e-310', '0.000001e-318'],
  ...['9007199254740991', '9007199254740992', '9007199254740993', '9007199254740994', '9007199254740995', '18014398509481985'],
  ...['900719925474099.3', '0.9007199254740993', '-9007199254740993', '12345678901234567890', '123456789012345678901234567890'],
  ...['0.1', '0.2', '0.3', '0.30000000000000004', '3.14159265358979', '3.141592653589793238462643383279', '1.0000000000000002'],
  ...['0.1000000000000000055511151231257827', '1.00000000000000011102230246251565404236316680908203125', '0.' + '0'.repeat(30) + '1'],
  ...['1' + '0'.repeat(40), '1' + '0'.repeat(400), '0.' + '0'.repeat(400) + '1', '1.' + '0'.repeat(50), '1e0000000000000000000000001'],
  ...['1e00005', '1e-0000000000000000000000000000000007', '1e1000000000000', '1e-1000000000000', '0e1000000000000'],
  ...['0x1F', '0X1f', '0x10', '-0x10', '0o17', '0O17', '0b101', '0B101', '0x', '0b', '0o', '0xyz', '00x1'],
  ...['Infinity', '-Infinity', '+Infinity', 'infinity', 'Inf', '1_000', '1 000', ' 5', '5 ', '5\t', '\t5'],
  ...['-', '+', '.', '-.', '+.', '..', '1..2', '1.2.3', '--1', '+-1', '-+1', '1-', '1+', '1e', '1e+', '1e-', 'e5', '.e5', '-e5', 'E5'],
  ...['1e5.5', '1e5e5', '1ee5', '5d', '5f', '5L', '1/2', '½', '٣', '１２', '1\u00a0', 'abc', '1a', 'a1', '-a', '.a', 'NaN1', 'NA ', 'x"y'],
  ...['3.0', '-3.00', '1e-7', '123456.789e3', '0.000123', '6.02214076e23', '1.602176634e-19', '299792458', '-273.15'],
]

describe('parseCsvChunk: cells as csvCell gives them', () => {
  it('reads every edge case as csvCell does: numbers exactly as Number(text), -0 included; 1e400 and 0x1F as text; the missing markers', () => {
    expect(mismatches(EDGE_CASES)).toEqual([])
    const { plain } = parsedCells(['-0', '-0e-400', '-.0', '0', '1e400', '0x1F', 'NA', ''])
    expect(Object.is(plain[0], -0) && Object.is(plain[1], -0) && Object.is(plain[2], -0) && Object.is(plain[3], 0)).toBe(true)
    expect(plain.slice(4)).toEqual(['1e400', '0x1F', null, null])
  })

  it('reads a large seeded corpus of random decimals exactly as Number(text)', () => {
    const digits = (n: number) => fc.stringMatching(new RegExp(`^[0-9]{0,${n}}$`))
    const decimal = fc
      .tuple(
        fc.constantFrom('', '-', '+'),
        digits(22),
        fc.constantFrom('', '.'),
        digits(22),
        fc.oneof(
          fc.constant(''),
          fc
            .tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '-', '+'), fc.integer({ min: 0, max: 340 }))
            .map(([e, s, n]) => `${e}${s}${n}`),
        ),
      )
      .map(([sign, int, dot, frac, exp]) => `${sign}${int}${dot}${frac}${exp}`)
    const texts = fc.sample(decimal, { seed: 20261202, numRuns: 100_000 })
    expect(mismatches(texts)).toEqual([])
    // The corpus is mostly numbers, across the fast path and the fall-back.
    expect(texts.filter((t) => typeof csvCell(t) === 'number').length).toBeGreaterThan(80_000)
  })

  it('reads random doubles written every way JavaScript writes them, and random text, as csvCell does', () => {
    const doubles = fc.sample(fc.double({ noNaN: true }), { seed: 7, numRuns: 30_000 })
    const written = doubles.flatMap((d) => [String(d), d.toExponential(), d.toPrecision(6), d.toFixed(5)])
    const text = fc.sample(fc.string({ unit: fc.constantFrom(...'0123456789+-.eExNa /'.split('')), maxLength: 8 }), {
      seed: 8,
      numRuns: 30_000,
    })
    expect(mismatches([...written, ...text])).toEqual([])
  })

  it('keeps text columns as text: only the empty field is missing', () => {
    const fields = ['007', '1.50', 'NA', '', '-0', '1e400', 'x""y']
    const { plain, quoted } = parsedCells(fields, FIELD_TEXT)
    expect(plain).toEqual(['007', '1.50', 'NA', null, '-0', '1e400', 'x""y'])
    expect(quoted).toEqual(['007', '1.50', 'NA', null, '-0', '1e400', 'x""y'])
  })

  it('gives the same cells through CsvSource, with the reads cut anywhere', async () => {
    const fields = [...EDGE_CASES.filter((f) => !/[,"\r\n]/.test(f)), ...fc.sample(fc.double(), { seed: 9, numRuns: 2000 }).map(String)]
    const path = tmp.file('cells.csv', `v,q\n${fields.map((f) => `${f},"${f}"`).join('\n')}\n`)
    const want = fields.map(csvCell)
    for (const chunkBytes of [7, 64, 1 << 20]) {
      const { v, q } = await readColumns(new CsvSource(path, { chunkBytes }), { batchSize: 1000 })
      expect(v.filter((cell, k) => !Object.is(cell, want[k]))).toEqual([])
      expect(q.filter((cell, k) => !Object.is(cell, want[k]))).toEqual([])
    }
  })
})

describe('parseCsvChunk: records', () => {
  const encode = (text: string): Uint8Array => {
    const encoded = new TextEncoder().encode(text)
    const bytes = new Uint8Array(encoded.length + 1)
    bytes.set(encoded)
    return bytes
  }
  const parse = (text: string, final: boolean, limit = Infinity) => {
    const bytes = encode(text)
    return parseCsvChunk(bytes, 0, bytes.length - 1, final, 2, Uint8Array.of(1, 1), Int32Array.of(0, 1), 2, 1000, 1, limit)
  }

  it('leaves a record cut by the end of the bytes, and says where it starts and whether a quote is open', () => {
    expect(parse('1,2\n3,4', false)).toMatchObject({ rows: 1, next: 4, lines: 1, stop: 1, openQuoteLine: -1 })
    expect(parse('1,2\n3,4', true)).toMatchObject({ rows: 2, next: 7, lines: 1, stop: 0 })
    expect(parse('1,2\n\n3,"a\nb', false)).toMatchObject({ rows: 1, next: 5, lines: 2, stop: 1, openQuoteLine: 2 })
    // A closing quote at the end may be the first of a doubled one; a CR at the end may start a CRLF.
    expect(parse('1,"a"', false)).toMatchObject({ rows: 0, stop: 1, openQuoteLine: -1 })
    expect(parse('1,2\r', false)).toMatchObject({ rows: 0, stop: 1 })
    expect(parse('1,2\r\n\r', false)).toMatchObject({ rows: 1, next: 5, lines: 1, stop: 1 })
    expect(parse('1,2\r\n\r', true)).toMatchObject({ rows: 1, next: 6, lines: 2, stop: 0 })
  })

  it('stops after `limit` records, and grows its arrays past the capacity asked for', () => {
    expect(parse('1,2\n3,4\n5,6\n', true, 2)).toMatchObject({ rows: 2, next: 8, lines: 2, stop: 0 })
    const chunk = parse(Array.from({ length: 100 }, (_, k) => `${k},${-k}\n`).join(''), true)
    expect(chunk.rows).toBe(100)
    expect(cellsOf(chunk, 0)).toEqual(Array.from({ length: 100 }, (_, k) => k))
    expect(cellsOf(chunk, 1)).toEqual(Array.from({ length: 100 }, (_, k) => (k === 0 ? 0 : -k)))
  })

  it('reports errors with the line relative to the start and the bytes of the record seen', () => {
    expect(parse('1,2\n3\n', true)).toMatchObject({ rows: 1, stop: 2, error: 3, errorLine: 1, found: 1, extent: 1 })
    expect(parse('1,2\n3,"a\nb"x\n', true)).toMatchObject({ rows: 1, stop: 2, error: 2, errorLine: 2, extent: 7 })
    expect(parse('1,2\n3,"a\nb\n', true)).toMatchObject({ rows: 1, stop: 2, error: 1, errorLine: 1 })
    expect(parse(`1,2\n3,${'x'.repeat(1000)}\n`, true)).toMatchObject({ rows: 1, stop: 2, error: 4, errorLine: 1 })
  })

  it('needs a byte of room past the end, and puts it back', () => {
    const bytes = encode('1,2')
    expect(() => parseCsvChunk(bytes, 0, bytes.length, true, 2, Uint8Array.of(1, 1), Int32Array.of(0, 1), 2, 1000, 1, Infinity)).toThrow(
      RangeError,
    )
    bytes[3] = 99
    parseCsvChunk(bytes, 0, 3, true, 2, Uint8Array.of(1, 1), Int32Array.of(0, 1), 2, 1000, 1, Infinity)
    expect(bytes[3]).toBe(99)
  })
})
