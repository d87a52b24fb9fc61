import { readFileSync } from 'node:fs'
import { afterAll, describe, expect, it } from '@jest/globals'
import { CSV_MISSING_VALUES, CsvSource, MAX_RECORD_BYTES, csvCell } from '../../src/core/data/csv.js'
import { SNIFF_BYTES } from '../../src/core/data/files.js'
import type { Cell } from '../../src/core/data/types.js'
import { expectUserError, fixture, readBatches, readColumns, tempDir } from './helpers.js'

const tmp = tempDir()
afterAll(() => tmp.remove())

const PLAIN_COLUMNS = {
  id: [1, 2, 3, 4, 5],
  mean_area: [10.5, -3, 1000, null, 0.25],
  label: ['yes', 'no', 'yes', 'no', 'yes'],
  note: ['first', null, 'quoted, comma', 'say "hi"', 'last'],
}

describe('CsvSource: parsing', () => {
  it('reads a plain file with quoted commas, doubled quotes, NA and empty fields', async () => {
    const source = new CsvSource(fixture('plain.csv'))
    expect(source.format).toBe('csv')
    expect(await source.columns()).toEqual(['id', 'mean_area', 'label', 'note'])
    expect(await readBatches(source, { batchSize: 10 })).toEqual([{ offset: 0, length: 5, columns: PLAIN_COLUMNS }])
  })

  it('gives identical batches for a file with reordered and extra columns', async () => {
    const columns = ['id', 'mean_area', 'label', 'note']
    const plain = await readBatches(new CsvSource(fixture('plain.csv')), { batchSize: 2, columns })
    const reordered = await readBatches(new CsvSource(fixture('reordered.csv')), { batchSize: 2, columns })
    expect(await new CsvSource(fixture('reordered.csv')).columns()).toEqual(['note', 'extra', 'label', 'id', 'mean_area'])
    expect(reordered).toEqual(plain)
    expect(plain.map((b) => [b.offset, b.length])).toEqual([
      [0, 2],
      [2, 2],
      [4, 1],
    ])
    expect(Object.keys(reordered[0].columns)).toEqual(columns)
  })

  it('materialises only the requested columns, in the requested order', async () => {
    const batches = await readBatches(new CsvSource(fixture('reordered.csv')), { batchSize: 5, columns: ['note', 'id'] })
    expect(batches).toEqual([{ offset: 0, length: 5, columns: { note: PLAIN_COLUMNS.note, id: PLAIN_COLUMNS.id } }])
    expect(Object.keys(batches[0].columns)).toEqual(['note', 'id'])
  })

  const CRLF_BOM = { id: [1, 2, 3], text: ['multi\r\nline', 'a,b', 'plain'], value: [2.5, -1, null] }

  it('handles a UTF-8 BOM, CRLF line ends and a newline inside quotes', async () => {
    const bytes = readFileSync(fixture('crlf-bom.csv'))
    // Guards the fixture itself: a checkout that rewrote line ends would make this test vacuous.
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
    expect(bytes.toString('latin1').split('\r\n').length).toBe(6)
    const source = new CsvSource(fixture('crlf-bom.csv'))
    expect(await source.columns()).toEqual(['id', 'text', 'value'])
    expect(await readColumns(source, { batchSize: 2 })).toEqual(CRLF_BOM)
  })

  it('gives the same result whatever the read size, with records, CRLFs and the BOM split across reads', async () => {
    for (let chunkBytes = 4; chunkBytes <= 48; chunkBytes++) {
      const source = new CsvSource(fixture('crlf-bom.csv'), { chunkBytes })
      expect(await readColumns(source, { batchSize: 2 })).toEqual(CRLF_BOM)
    }
  })

  it('decodes multi-byte UTF-8 characters split across reads', async () => {
    const path = tmp.file('utf8.csv', 'name,n\ncafé,1\n日本語,2\n"😀,ü",3\nΩ,4')
    for (let chunkBytes = 4; chunkBytes <= 24; chunkBytes++) {
      expect(await readColumns(new CsvSource(path, { chunkBytes }), { batchSize: 3 })).toEqual({
        name: ['café', '日本語', '😀,ü', 'Ω'],
        n: [1, 2, 3, 4],
      })
    }
  })

  it('reads empty fields and the case-sensitive missing markers as null', async () => {
    expect(CSV_MISSING_VALUES).toEqual(['NA', 'NaN', 'nan', 'N/A', 'null'])
    expect(await readColumns(new CsvSource(fixture('missing.csv')), { batchSize: 4 })).toEqual({
      a: [null, null, null, 'NULL', null, ' '],
      b: [null, null, null, 'na', 'None', 'n/a'],
    })
  })

  it('keeps the text of the columns asked for as text: a category "007", "1.50" or "NA" reaches a string input as written', async () => {
    const t = tempDir()
    try {
      const path = t.file('text.csv', 'code,x\n007,007\n1.50,1.50\nNA,NA\n"",""\n"a,b",2\n')
      expect(await readColumns(new CsvSource(path), { batchSize: 2, text: ['code'] })).toEqual({
        code: ['007', '1.50', 'NA', null, 'a,b'],
        x: [7, 1.5, null, null, 2],
      })
    } finally {
      t.remove()
    }
  })

  it('turns only fields that are wholly finite numbers into numbers', async () => {
    const { v } = await readColumns(new CsvSource(fixture('numbers.csv')), { batchSize: 100 })
    const expected: Cell[] = [
      42,
      -0.5,
      3,
      0.5,
      5,
      1000,
      0.01,
      7,
      '0x10',
      ' 5',
      '5 ',
      'Infinity',
      '-Infinity',
      '1e400',
      '1_000',
      '-',
      '.',
      12345678901234567000,
      0.1,
      3.14159265358979,
      1.7976931348623157e308,
      -0,
    ]
    expect(v).toEqual(expected)
    expect(Object.is(v[21], -0)).toBe(true)
  })

  it('parses decimals to exactly the double Number() gives', async () => {
    let seed = 12345
    const random = (n: number): number => {
      seed = (seed * 48271) % 2147483647
      return seed % n
    }
    const texts: string[] = []
    for (let k = 0; k < 20000; k++) {
      const digits = Array.from({ length: 1 + random(19) }, () => String(random(10))).join('')
      const dot = random(digits.length + 1)
      let text = `${['', '-', '+'][random(3)]}${digits.slice(0, dot)}${random(4) === 0 ? '' : '.'}${digits.slice(dot)}`
      if (random(5) === 0) text += `e${random(40) - 20}`
      texts.push(text)
    }
    const path = tmp.file('decimals.csv', `v,quoted\n${texts.map((t) => `${t},"${t}"`).join('\n')}\n`)
    const { v, quoted } = await readColumns(new CsvSource(path), { batchSize: 5000 })
    const mismatches = texts.filter((text, k) => !Object.is(v[k], Number(text)) || !Object.is(quoted[k], Number(text)))
    expect(mismatches).toEqual([])
    expect(texts.map((text) => csvCell(text))).toEqual(texts.map(Number))
  })

  it('reads a last record without a newline and skips blank lines', async () => {
    expect(await readColumns(new CsvSource(fixture('no-trailing-newline.csv')), { batchSize: 5 })).toEqual({
      a: [1, 3],
      b: [2, 'x'],
    })
    expect(await readColumns(new CsvSource(fixture('blank-lines.csv')), { batchSize: 5 })).toEqual({
      a: [1, 3],
      b: [2, 4],
    })
  })

  it('reads a header-only file as columns and no batches', async () => {
    const source = new CsvSource(fixture('header-only.csv'))
    expect(await source.columns()).toEqual(['a', 'b'])
    expect(await readBatches(source, { batchSize: 5 })).toEqual([])
  })
})

describe('CsvSource: batching', () => {
  const rows = 103
  const path = tmp.file('rows.csv', `i,sq\n${Array.from({ length: rows }, (_, i) => `${i},${i * i}`).join('\n')}\n`)
  const all = { i: Array.from({ length: rows }, (_, i) => i), sq: Array.from({ length: rows }, (_, i) => i * i) }

  it('cuts batches of exactly batchSize rows with running offsets, the last one shorter', async () => {
    const batches = await readBatches(new CsvSource(path), { batchSize: 10 })
    expect(batches.map((b) => [b.offset, b.length])).toEqual([
      [0, 10],
      [10, 10],
      [20, 10],
      [30, 10],
      [40, 10],
      [50, 10],
      [60, 10],
      [70, 10],
      [80, 10],
      [90, 10],
      [100, 3],
    ])
    expect(batches[10].columns).toEqual({ i: [100, 101, 102], sq: [10000, 10201, 10404] })
    for (const b of batches) expect(b.columns.i).toEqual(all.i.slice(b.offset, b.offset + b.length))
  })

  it('gives the same rows for any batch size and read size', async () => {
    for (const [batchSize, chunkBytes] of [
      [1, 5],
      [7, 16],
      [103, 64],
      [1000, 1 << 20],
    ]) {
      const batches = await readBatches(new CsvSource(path, { chunkBytes }), { batchSize })
      expect(batches.length).toBe(Math.ceil(rows / batchSize))
      expect(batches.every((b, k) => b.offset === k * batchSize && b.columns.i.length === b.length)).toBe(true)
      expect(await readColumns(new CsvSource(path, { chunkBytes }), { batchSize })).toEqual(all)
    }
  })

  it('rejects a batch size that is not a positive integer', async () => {
    await expect(readBatches(new CsvSource(path), { batchSize: 0 })).rejects.toThrow('batchSize must be a positive integer, got 0')
  })

  it('reads fields larger than a read, quoted and unquoted, and counts the lines inside them', async () => {
    const quoted = `${'ab"c\n'.repeat(300_000)}end`
    const plain = 'z'.repeat(2_500_000)
    const content = `a,b\n1,x\n2,"${quoted.replaceAll('"', '""')}"\n3,${plain}\n4,y\n`
    const big = tmp.file('huge.csv', content)
    for (const chunkBytes of [1 << 16, 1 << 20]) {
      const { a, b } = await readColumns(new CsvSource(big, { chunkBytes }), { batchSize: 2 })
      expect(a).toEqual([1, 2, 3, 4])
      expect(b.length).toBe(4)
      expect(b[0]).toBe('x')
      expect(b[1] === quoted).toBe(true)
      expect(b[2] === plain).toBe(true)
      expect(b[3]).toBe('y')
    }
    // The quoted field spans lines 3 to 300,003, so the records after it start on lines 300,004 to 300,006.
    const broken = tmp.file('huge-broken.csv', `${content}5\n`)
    await expectUserError(
      readBatches(new CsvSource(broken, { chunkBytes: 1 << 16 }), { batchSize: 100 }),
      `${broken}: line 300006: expected 2 fields as in the header, found 1`,
    )
  })
})

describe('CsvSource: errors', () => {
  it('reports an unterminated quote with the line it opened on', async () => {
    const path = fixture('unterminated.csv')
    await expectUserError(readBatches(new CsvSource(path), { batchSize: 5 }), `${path}: line 2: unterminated quoted field`, path)
  })

  it('reports a row with another number of fields than the header', async () => {
    const path = fixture('field-count.csv')
    // columns() reads the header only, so it does not see the bad row.
    expect(await new CsvSource(path).columns()).toEqual(['a', 'b', 'c'])
    await expectUserError(
      readBatches(new CsvSource(path), { batchSize: 5 }),
      `${path}: line 3: expected 3 fields as in the header, found 2`,
      path,
    )
    const after = fixture('field-count-after-quoted.csv')
    await expectUserError(
      readBatches(new CsvSource(after), { batchSize: 5 }),
      `${after}: line 4: expected 2 fields as in the header, found 3`,
      after,
    )
  })

  it('reports duplicate and empty header names, and a missing header', async () => {
    const dup = fixture('duplicate-header.csv')
    await expectUserError(new CsvSource(dup).columns(), `${dup}: line 1: duplicate column name "a" in the header`, dup)
    const empty = fixture('empty-header.csv')
    await expectUserError(readBatches(new CsvSource(empty), { batchSize: 5 }), `${empty}: line 1: header column 2 has an empty name`, empty)
    const none = fixture('empty.csv')
    await expectUserError(new CsvSource(none).columns(), `${none}: the file is empty; a header row is required`, none)
    await expectUserError(readBatches(new CsvSource(none), { batchSize: 5 }), `${none}: the file is empty; a header row is required`)
  })

  it('reports text after a closing quote', async () => {
    const path = fixture('text-after-quote.csv')
    await expectUserError(readBatches(new CsvSource(path), { batchSize: 5 }), `${path}: line 2: unexpected text after a closing quote`)
  })

  it('names the missing columns and the ones the file has', async () => {
    const path = fixture('plain.csv')
    const error = await expectUserError(
      readBatches(new CsvSource(path), { batchSize: 5, columns: ['id', 'mean_radius', 'target'] }),
      `${path}: missing column(s) "mean_radius", "target"; the file has: id, mean_area, label, note`,
      path,
    )
    expect(error.field).toBe('mean_radius')
  })

  it('reports a missing file', async () => {
    const path = fixture('no-such-file.csv')
    await expectUserError(new CsvSource(path).columns(), `${path}: file not found`, path)
  })

  it('reports a directory read as CSV as such', async () => {
    await expectUserError(new CsvSource(tmp.dir).columns(), `${tmp.dir}: is a directory, not a file`, tmp.dir)
  })

  it('quotes at most an excerpt of a duplicated header name', async () => {
    const name = 'n'.repeat(100_000)
    const path = tmp.file('long-dup.csv', `${name},${name}\n1,2\n`)
    await expectUserError(
      new CsvSource(path).columns(),
      `${path}: line 1: duplicate column name "${'n'.repeat(60)}"… (100000 characters) in the header`,
    )
  })
})

describe('CsvSource: the bound on one record', () => {
  const tooLong = (path: string, line: number, bound: string) =>
    `${path}: line ${line}: the record starting on this line is longer than ${bound}, the most one record may take`

  it('is 16 MiB', () => {
    expect(MAX_RECORD_BYTES).toBe(16 * 1024 * 1024)
  })

  it('refuses a record longer than the bound, naming the line it starts on, whatever the read size', async () => {
    const path = tmp.file('long-record.csv', `a,b\n1,x\n\n2,${'y'.repeat(300)}\n3,z\n`)
    for (const chunkBytes of [4, 7, 64, 1000]) {
      await expectUserError(
        readBatches(new CsvSource(path, { chunkBytes, maxRecordBytes: 100 }), { batchSize: 2 }),
        tooLong(path, 4, '100 bytes'),
        path,
      )
    }
  })

  it('takes a record of exactly the bound and counts bytes, not characters', async () => {
    // "é" is two bytes: 2,ééé…é\n has 2 + 49 * 2 = 100 bytes before its line end.
    const exact = tmp.file('exact-record.csv', `a,b\n1,x\n2,${'é'.repeat(49)}\n`)
    for (const chunkBytes of [4, 16, 1000]) {
      const { b } = await readColumns(new CsvSource(exact, { chunkBytes, maxRecordBytes: 100 }), { batchSize: 10 })
      expect(b).toEqual(['x', 'é'.repeat(49)])
    }
    const over = tmp.file('over-record.csv', `a,b\n1,x\n2,${'é'.repeat(50)}\n`)
    for (const chunkBytes of [4, 16, 1000]) {
      await expectUserError(
        readBatches(new CsvSource(over, { chunkBytes, maxRecordBytes: 100 }), { batchSize: 10 }),
        tooLong(over, 3, '100 bytes'),
      )
    }
  })

  it('applies to the header and to a quoted field with line breaks', async () => {
    const header = tmp.file('long-header.csv', `${'h'.repeat(200)},b\n1,2\n`)
    await expectUserError(new CsvSource(header, { chunkBytes: 16, maxRecordBytes: 100 }).columns(), tooLong(header, 1, '100 bytes'))
    const quoted = tmp.file('long-quoted.csv', `a,b\n1,"${'line\n'.repeat(40)}"\n`)
    // Read in one piece, the record is whole and measured as such; read in small pieces, the bound is
    // crossed inside the quotes (and the message says so).
    await expectUserError(readBatches(new CsvSource(quoted, { maxRecordBytes: 100 }), { batchSize: 10 }), tooLong(quoted, 2, '100 bytes'))
    await expectUserError(
      readBatches(new CsvSource(quoted, { chunkBytes: 16, maxRecordBytes: 100 }), { batchSize: 10 }),
      `${tooLong(quoted, 2, '100 bytes')}; the quote opened on line 2 is not closed within it (a missing closing quote?)`,
    )
  })

  it('points at an open quote when the record is cut inside one', async () => {
    const path = tmp.file('open-quote.csv', `a,b\n1,x\n2,"never closed\n${'3,y\n'.repeat(100)}`)
    await expectUserError(
      readBatches(new CsvSource(path, { chunkBytes: 16, maxRecordBytes: 100 }), { batchSize: 10 }),
      `${tooLong(path, 3, '100 bytes')}; the quote opened on line 3 is not closed within it (a missing closing quote?)`,
    )
  })
})

describe('CsvSource: UTF-16 and binary files', () => {
  const utf16 = (path: string) => `${path} is UTF-16 (or binary); save it as UTF-8`
  const text = 'a,b\n1,x\n2,y\n'

  it('refuses UTF-16 with a byte order mark, little- or big-endian', async () => {
    const le = tmp.file('le.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]))
    await expectUserError(new CsvSource(le).columns(), `${utf16(le)} (it starts with the UTF-16 byte order mark FF FE)`, le)
    const be = tmp.file('be.csv', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]))
    await expectUserError(
      readBatches(new CsvSource(be), { batchSize: 2 }),
      `${utf16(be)} (it starts with the UTF-16 byte order mark FE FF)`,
      be,
    )
  })

  it('refuses NUL bytes near the start, even when reads are smaller than the bytes looked at', async () => {
    const path = tmp.file('nul.csv', Buffer.concat([Buffer.from('a,b\n1,x\n'), Buffer.from([0]), Buffer.from('2,y\n')]))
    for (const chunkBytes of [4, 5, 1 << 20]) {
      await expectUserError(readBatches(new CsvSource(path, { chunkBytes }), { batchSize: 2 }), `${utf16(path)} (byte 9 is NUL)`, path)
    }
  })

  it('reads a NUL past the bytes looked at as text', async () => {
    const path = tmp.file('late-nul.csv', `a,b\n${'1,x\n'.repeat(SNIFF_BYTES / 4)}2,\0\n`)
    const { b } = await readColumns(new CsvSource(path), { batchSize: 10_000 })
    expect(b.at(-1)).toBe('\0')
  })
})
