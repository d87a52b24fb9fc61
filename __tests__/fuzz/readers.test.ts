/**
 * Property-based fuzzing of the CSV and JSON Lines readers (issue 12), through the files they read.
 *
 * Rejections: random bytes, grammar-biased text and mutated valid files (flipped bytes, truncation
 * anywhere, inserted quotes, CR/LF/CRLF, BOMs, NUL, invalid UTF-8, long repeated fields, 1e400, -0,
 * NaN) are read with small read sizes and record bounds. Reading either succeeds or throws a UserError
 * whose one-line message starts with the file's path; any other error is a bug.
 *
 * Round trips: a random table written as CSV (quoted where needed, any line end, BOM or not) reads
 * back as written: numbers as Number(text) gives them, -0 included; text columns as their text.
 * Random rows written as JSON Lines read back as JSON.parse gives them.
 *
 * Seeded and bounded; see fuzz.ts for MODELGATE_FUZZ_SEED and MODELGATE_FUZZ_RUNS.
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { extname } from 'node:path'
import { CsvSource, csvCell } from '../../src/core/data/csv.js'
import { JsonlSource } from '../../src/core/data/jsonl.js'
import { inferFormat, openTable } from '../../src/core/data/open.js'
import { columnCells, type Cell, type ReadOptions, type TableSource } from '../../src/core/data/types.js'
import { fixture } from '../data/helpers.js'
import { expectUserError, fuzzParams, mutated, nastyText, scratchDir, succeedsOrRejects } from './fuzz.js'

const scratch = scratchDir('readers')
afterAll(() => scratch.remove())

let files = 0
/** A new file per run, so that the file a failure names holds that run's bytes (the directory goes afterwards). */
const write = (ext: string, content: string | Uint8Array): string => scratch.file(`input-${files++}${ext}`, content)

/** How a rejection property reads: small reads and bounds take the paths of records split across reads and of records too long. */
const readSettings = fc.record({
  chunkBytes: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant(undefined)),
  maxRecordBytes: fc.oneof(fc.integer({ min: 1, max: 512 }), fc.constant(undefined)),
  batchSize: fc.integer({ min: 1, max: 5 }),
  columns: fc.option(fc.constantFrom<string[]>(['a'], ['b', 'a'], ['id', 'x', 'label'], ['v']), { nil: undefined }),
  text: fc.option(fc.constantFrom<string[]>(['a'], ['label', 'v']), { nil: undefined }),
})
type ReadSettings = typeof readSettings extends fc.Arbitrary<infer T> ? T : never

/** Everything a consumer does with a source: its columns, then every batch. */
async function readAll(source: TableSource, s: ReadSettings): Promise<void> {
  await source.columns()
  const opts: ReadOptions = { batchSize: s.batchSize, columns: s.columns, text: s.text }
  for await (const batch of source.batches(opts)) expect(batch.length).toBeGreaterThan(0)
}

/**
 * The cells of `names`, every batch's concatenated, as [name, cells] pairs. Not an object keyed by name:
 * random names include `toString`, which a plain object already has. And not in Object.keys order,
 * which puts integer-like names ("0", "9") first whatever the file's order.
 */
async function readColumns(source: TableSource, opts: ReadOptions, names: readonly string[]): Promise<[string, Cell[]][]> {
  const out: [string, Cell[]][] = []
  for await (const batch of source.batches(opts)) {
    if (out.length === 0) for (const name of names) out.push([name, []])
    expect(Object.keys(batch.columns).sort()).toEqual([...names].sort())
    for (const [name, cells] of out) {
      expect(batch.columns[name]).toHaveLength(batch.length)
      cells.push(...columnCells(batch.columns[name]))
    }
  }
  return out
}

const csvSource = (path: string, s: ReadSettings) => new CsvSource(path, { chunkBytes: s.chunkBytes, maxRecordBytes: s.maxRecordBytes })
const jsonlSource = (path: string, s: ReadSettings) => new JsonlSource(path, { chunkBytes: s.chunkBytes, maxLineBytes: s.maxRecordBytes })

const CSV_SEEDS = [
  ...['plain.csv', 'crlf-bom.csv', 'numbers.csv', 'missing.csv', 'reordered.csv', 'blank-lines.csv'].map((name) =>
    readFileSync(fixture(name)),
  ),
  'a,b\n1,2\n"x, ""y""",3\r\n"multi\nline",-0\n',
  'id,x,label\n1,1e400,"NA"\n2,-0,NaN\n',
]
const CSV_PIECES = ['a', 'b', 'a,b\n', '1', '1.5', '"a"', '"a,b"', '"x""y"', 'id,x,label\n']

const JSONL_SEEDS = [
  readFileSync(fixture('good.jsonl')),
  readFileSync(fixture('blank-lines.jsonl')),
  '{"a":1,"b":"x"}\r\n{"b":-0,"a":1e400}\n\n{"a":null}\r{"a":[1,{"b":2}]}',
  '\uFEFF{"id":1,"x":0.5,"label":"yes"}\n{"id":2,"x":-1e400,"label":"no"}\n',
]
const JSONL_PIECES = ['{', '}', '[', ']', '"a"', '"b"', ':', ',', '1', '1e400', '-0', 'true', 'null', '{"a":1}', '{"a":', '"\\u0000"']

describe('the CSV reader on hostile input', () => {
  it('reads or rejects random bytes with a UserError naming the file', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), readSettings, async (bytes, s) => {
        const path = write('.csv', bytes)
        await succeedsOrRejects(() => readAll(csvSource(path, s), s), { file: path })
      }),
      fuzzParams(200),
    )
  })

  it('reads or rejects grammar-biased text with a UserError naming the file', async () => {
    await fc.assert(
      fc.asyncProperty(nastyText(CSV_PIECES), readSettings, async (text, s) => {
        const path = write('.csv', text)
        await succeedsOrRejects(() => readAll(csvSource(path, s), s), { file: path })
      }),
      fuzzParams(300),
    )
  })

  it('reads or rejects mutated valid files with a UserError naming the file', async () => {
    await fc.assert(
      fc.asyncProperty(mutated(CSV_SEEDS), readSettings, async (bytes, s) => {
        const path = write('.csv', bytes)
        await succeedsOrRejects(() => readAll(csvSource(path, s), s), { file: path })
      }),
      fuzzParams(300),
    )
  })
})

describe('the JSON Lines reader on hostile input', () => {
  it('reads or rejects random bytes with a UserError naming the file', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), readSettings, async (bytes, s) => {
        const path = write('.jsonl', bytes)
        await succeedsOrRejects(() => readAll(jsonlSource(path, s), s), { file: path })
      }),
      fuzzParams(200),
    )
  })

  it('reads or rejects grammar-biased text with a UserError naming the file', async () => {
    await fc.assert(
      fc.asyncProperty(nastyText(JSONL_PIECES), readSettings, async (text, s) => {
        const path = write('.jsonl', text)
        await succeedsOrRejects(() => readAll(jsonlSource(path, s), s), { file: path })
      }),
      fuzzParams(300),
    )
  })

  it('reads or rejects mutated valid files with a UserError naming the file', async () => {
    await fc.assert(
      fc.asyncProperty(mutated(JSONL_SEEDS), readSettings, async (bytes, s) => {
        const path = write('.jsonl', bytes)
        await succeedsOrRejects(() => readAll(jsonlSource(path, s), s), { file: path })
      }),
      fuzzParams(300),
    )
  })
})

describe('opening a table on hostile input', () => {
  it('tells the format from any path or rejects it with a UserError naming the path', () => {
    const path = fc.tuple(nastyText(['.csv', '.CSV', '.jsonl', '.ndjson', '.parquet', '.', '/', 'data'], 8), fc.string({ maxLength: 3 }))
    fc.assert(
      fc.property(path, ([base, tail]) => {
        const p = base + tail
        try {
          expect(['csv', 'jsonl', 'parquet']).toContain(inferFormat(p))
        } catch (e) {
          // The message quotes the path and its extension as given, line breaks and all; the rest is one line.
          expectUserError(e, { file: p, multiline: true })
          expect((e as Error).message.replaceAll(p, '').replaceAll(extname(p), '')).not.toMatch(/[\r\n]/)
        }
      }),
      fuzzParams(500),
    )
  })

  it('opens and reads mutated files of either text format by extension, or rejects them naming the file', async () => {
    const input = fc.oneof(
      fc.tuple(fc.constantFrom('.csv', '.CSV'), mutated(CSV_SEEDS)),
      fc.tuple(fc.constantFrom('.jsonl', '.ndjson'), mutated(JSONL_SEEDS)),
      // The other format's bytes under a name: what a careless --data gives.
      fc.tuple(fc.constantFrom('.csv', '.jsonl'), mutated([...CSV_SEEDS, ...JSONL_SEEDS])),
    )
    await fc.assert(
      fc.asyncProperty(input, fc.integer({ min: 1, max: 4 }), async ([ext, bytes], batchSize) => {
        const path = write(ext, bytes)
        await succeedsOrRejects(() => readAll(openTable(path), { batchSize } as ReadSettings), { file: path })
      }),
      fuzzParams(150),
    )
  })
})

/* ------------------------------------------------------------------------------------------------ */

const LINE_ENDS = ['\n', '\r\n', '\r'] as const

/** A field as a CSV writer must put it: quoted when it holds a quote, a comma or a line break, or when the writer likes. */
function csvField(text: string, quote: boolean): string {
  return quote || /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/** A double as text in one of the ways a writer may print it; -0 keeps its sign. */
const numberText = fc
  .tuple(
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom('shortest', 'exponential', 'fixed', 'plus'),
    fc.integer({ min: 0, max: 20 }),
  )
  .map(([x, style, digits]) => {
    const shortest = Object.is(x, -0) ? '-0' : String(x)
    if (style === 'exponential') return x.toExponential()
    if (style === 'fixed' && Math.abs(x) < 1e21) return x.toFixed(digits)
    if (style === 'plus' && !shortest.startsWith('-')) return `+${shortest}`
    return shortest
  })

/** What the reader promises for a field: a missing marker → null, a finite decimal → Number(text), else the text. */
const MISSING_TEXTS = ['', 'NA', 'NaN', 'nan', 'N/A', 'null']

interface CsvColumn {
  name: string
  /** Read with the `text` option: kept as written, only the empty field missing. */
  asText: boolean
  fields: string[]
}

const columnName = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).filter((name) => name.trim() !== '')

const csvTable = fc.integer({ min: 1, max: 5 }).chain((width) =>
  fc.record({
    names: fc.uniqueArray(columnName, { minLength: width, maxLength: width }),
    kinds: fc.array(fc.constantFrom('number', 'text', 'text-guessed'), { minLength: width, maxLength: width }),
    rows: fc.array(
      fc.array(
        fc.oneof(
          { weight: 4, arbitrary: numberText },
          { weight: 1, arbitrary: fc.constantFrom(...MISSING_TEXTS) },
          { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
        ),
        { minLength: width, maxLength: width },
      ),
      { maxLength: 12 },
    ),
    quote: fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
    lineEnd: fc.constantFrom(...LINE_ENDS),
    bom: fc.boolean(),
    trailing: fc.boolean(),
    blankLines: fc.array(fc.nat(12), { maxLength: 3 }),
    chunkBytes: fc.oneof(fc.integer({ min: 4, max: 40 }), fc.constant(undefined)),
    batchSize: fc.integer({ min: 1, max: 7 }),
  }),
)

describe('the CSV reader reads back what a writer wrote', () => {
  it('numbers as Number(text) gives them (-0 too), text columns as their text, guessed columns as csvCell says', async () => {
    await fc.assert(
      fc.asyncProperty(csvTable, async (t) => {
        const columns: CsvColumn[] = t.names.map((name, j) => ({
          name,
          asText: t.kinds[j] === 'text',
          // A number column holds missing markers and what Number() reads as finite (mostly numberText's).
          fields: t.rows.map((row) => (t.kinds[j] === 'number' && !MISSING_TEXTS.includes(row[j]) ? numberTextOf(row[j]) : row[j])),
        }))
        let q = 0
        const quoteNext = (): boolean => t.quote[q++ % t.quote.length]
        // A BOM-like first character of the file would be taken for a byte order mark: such a name is quoted.
        const header = t.names.map((name, j) => csvField(name, quoteNext() || (j === 0 && name.startsWith('\uFEFF')))).join(',')
        const records = t.rows.map((_, i) =>
          // A lone empty field is a blank line, which the reader skips: a one-column row writes it quoted.
          columns.map((c) => csvField(c.fields[i], quoteNext() || (columns.length === 1 && c.fields[i] === ''))).join(','),
        )
        for (const at of t.blankLines) records.splice(at % (records.length + 1), 0, '')
        const text = (t.bom ? '\uFEFF' : '') + [header, ...records].join(t.lineEnd) + (t.trailing ? t.lineEnd : '')
        const path = write('.csv', text)
        const textColumns = columns.filter((c) => c.asText).map((c) => c.name)
        const read = await readColumns(
          new CsvSource(path, { chunkBytes: t.chunkBytes }),
          {
            batchSize: t.batchSize,
            text: textColumns.length > 0 ? textColumns : undefined,
          },
          t.names,
        )
        const expected =
          t.rows.length === 0 ? [] : columns.map((c) => [c.name, c.fields.map((f) => (c.asText ? (f === '' ? null : f) : expectedCell(f)))])
        expect(read).toEqual(expected)
      }),
      fuzzParams(300),
    )
  })
})

/** A number column's field: the generated text when it is a number's, else a number in its place. */
function numberTextOf(field: string): string {
  return Number.isFinite(Number(field)) && field.trim() === field && field !== '' ? field : '1'
}

/** The cell a field reads as, by an oracle independent of the reader for numbers. */
function expectedCell(field: string): Cell {
  if (MISSING_TEXTS.includes(field)) return null
  // A finite decimal (no hex, no spaces, no "Infinity") is Number(text), sign of zero included.
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(field) && Number.isFinite(Number(field))) return Number(field)
  const cell = csvCell(field)
  expect(typeof cell).toBe('string')
  return cell
}

/* ------------------------------------------------------------------------------------------------ */

const jsonKey = fc.oneof(fc.constantFrom('id', 'x', 'label', 'a b', 'é', '😀', '1', ''), fc.string({ unit: 'grapheme', maxLength: 6 }))
const jsonCell = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 2 }),
)

// "__proto__" is among the keys: a batch's columns have no prototype, so it is a column like any other.
const usableKey = jsonKey

describe('the JSON Lines reader reads back what a writer wrote', () => {
  it('rows as JSON.parse gives them, keys of the first row as the columns, missing keys as null', async () => {
    const input = fc.record({
      rows: fc.array(fc.dictionary(usableKey, jsonCell, { maxKeys: 5 }), { minLength: 1, maxLength: 10 }),
      lineEnd: fc.constantFrom(...LINE_ENDS),
      bom: fc.boolean(),
      trailing: fc.boolean(),
      blank: fc.array(fc.tuple(fc.nat(10), fc.constantFrom('', ' ', '\t', '  ')), { maxLength: 3 }),
      chunkBytes: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constant(undefined)),
      batchSize: fc.integer({ min: 1, max: 7 }),
    })
    await fc.assert(
      fc.asyncProperty(input, async (t) => {
        const lines = t.rows.map((row) => JSON.stringify(row))
        const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
        for (const [at, blank] of t.blank) lines.splice(at % (lines.length + 1), 0, blank)
        const path = write('.jsonl', (t.bom ? '\uFEFF' : '') + lines.join(t.lineEnd) + (t.trailing ? t.lineEnd : ''))
        const names = Object.keys(parsed[0])
        const source = new JsonlSource(path, { chunkBytes: t.chunkBytes })
        expect(await source.columns()).toEqual(names)
        // A first row without keys gives batches without columns, which readColumns shows as nothing.
        const expected = names.map((name) => [name, parsed.map((row) => (Object.hasOwn(row, name) ? (row[name] as Cell) : null))])
        expect(await readColumns(source, { batchSize: t.batchSize }, names)).toEqual(expected)
      }),
      fuzzParams(300),
    )
  })
})
