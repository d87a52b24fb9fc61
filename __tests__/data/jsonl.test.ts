import { afterAll, describe, expect, it } from '@jest/globals'
import { MAX_RECORD_BYTES, SNIFF_BYTES } from '../../src/core/data/files.js'
import { JsonlSource } from '../../src/core/data/jsonl.js'
import { escapeRegExp, expectUserError, fixture, readBatches, readColumns, tempDir } from './helpers.js'

const tmp = tempDir()
afterAll(() => tmp.remove())

describe('JsonlSource', () => {
  it("takes the columns from the first object's keys and reads missing keys as null", async () => {
    const source = new JsonlSource(fixture('good.jsonl'))
    expect(source.format).toBe('jsonl')
    expect(await source.columns()).toEqual(['id', 'x', 'label', 'tags'])
    expect(await readBatches(source, { batchSize: 3 })).toEqual([
      {
        offset: 0,
        length: 3,
        columns: {
          id: [1, 2, 3],
          x: [0.5, null, -1.5],
          label: ['yes', 'no', 'yes'],
          // Nested values are passed through for the consumer to judge.
          tags: [['a'], { k: 1 }, null],
        },
      },
      { offset: 3, length: 1, columns: { id: [4], x: [null], label: ['no'], tags: [null] } },
    ])
  })

  it('matches columns by name whatever the key order of a line', async () => {
    expect(await readColumns(new JsonlSource(fixture('good.jsonl')), { batchSize: 2, columns: ['label', 'id'] })).toEqual({
      label: ['yes', 'no', 'yes', 'no'],
      id: [1, 2, 3, 4],
    })
  })

  it('treats keys only later lines have as absent, naming what the file has', async () => {
    const path = fixture('good.jsonl')
    await expectUserError(
      readBatches(new JsonlSource(path), { batchSize: 2, columns: ['id', 'ignored'] }),
      `${path}: missing column(s) "ignored"; the file has: id, x, label, tags`,
      path,
    )
  })

  it('skips blank lines and reads CRLF and a last line without a newline', async () => {
    const batches = await readBatches(new JsonlSource(fixture('blank-lines.jsonl')), { batchSize: 2 })
    expect(batches).toEqual([
      { offset: 0, length: 2, columns: { a: [1, 2], b: ['x', 'y'] } },
      { offset: 2, length: 1, columns: { a: [3], b: [null] } },
    ])
  })

  it('reports a malformed line with its line number', async () => {
    const path = fixture('malformed.jsonl')
    await expectUserError(
      readBatches(new JsonlSource(path), { batchSize: 10 }),
      new RegExp(`^${escapeRegExp(path)}: line 3: not valid JSON \\(.+\\)$`),
      path,
    )
  })

  it('reads only the first object for columns()', async () => {
    // Line 3 is malformed: columns() must not get that far.
    expect(await new JsonlSource(fixture('malformed.jsonl')).columns()).toEqual(['a'])
  })

  it('reports a line that is not an object', async () => {
    const path = fixture('not-object.jsonl')
    await expectUserError(
      readBatches(new JsonlSource(path), { batchSize: 10 }),
      `${path}: line 2: expected a JSON object, found an array`,
      path,
    )
  })

  it('reads a file without objects as no columns and no batches', async () => {
    const source = new JsonlSource(fixture('empty.jsonl'))
    expect(await source.columns()).toEqual([])
    expect(await readBatches(source, { batchSize: 10 })).toEqual([])
  })

  it('reports a missing file', async () => {
    const path = fixture('absent.jsonl')
    await expectUserError(new JsonlSource(path).columns(), `${path}: file not found`, path)
    await expectUserError(readBatches(new JsonlSource(path), { batchSize: 1 }), `${path}: file not found`, path)
  })
})

describe('JsonlSource: line ends and reads', () => {
  /** Lines as readline (crlfDelay: Infinity) splits them: LF, CRLF or a lone CR; no empty last line after a final line end. */
  const reference = (text: string): string[] => {
    const lines = text.split(/\r\n|\r|\n/)
    if (lines.at(-1) === '') lines.pop()
    return lines
  }

  it('splits lines on LF, CRLF and a lone CR, whatever the read size, and decodes characters split by a read', async () => {
    const rows = ['{"a": 1, "s": "café"}', '{"a": 2, "s": "😀 ✓"}', '', '{"a": 3, "s": "x"}', '   ', '{"a": 4, "s": "日本語"}']
    for (const ends of [['\n'], ['\r\n'], ['\r'], ['\n', '\r\n', '\r']]) {
      const text = '\ufeff' + rows.map((r, i) => r + ends[i % ends.length]).join('')
      const path = tmp.file('ends.jsonl', text)
      const expected = reference(text.slice(1))
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { a: number; s: string })
      for (const chunkBytes of [1, 2, 3, 5, 64, 1 << 16]) {
        const { a, s } = await readColumns(new JsonlSource(path, { chunkBytes }), { batchSize: 2 })
        expect(a).toEqual(expected.map((r) => r.a))
        expect(s).toEqual(expected.map((r) => r.s))
      }
    }
  })

  it('counts lines as readline does: a CRLF split by a read is one line end', async () => {
    const path = tmp.file('count.jsonl', '{"a": 1}\r\n{"a": 2}\r\r\n{"a": x}\n')
    for (const chunkBytes of [1, 9, 10, 11, 1 << 16]) {
      await expectUserError(
        readBatches(new JsonlSource(path, { chunkBytes }), { batchSize: 10 }),
        new RegExp(`^${escapeRegExp(path)}: line 4: not valid JSON`),
      )
    }
  })

  it('reports a directory read as JSON Lines as such', async () => {
    await expectUserError(new JsonlSource(tmp.dir).columns(), `${tmp.dir}: is a directory, not a file`, tmp.dir)
  })
})

describe('JsonlSource: hostile input', () => {
  const tooLong = (path: string, line: number, bound: string) =>
    `${path}: line ${line}: the line is longer than ${bound}, the most one line may take`

  it('refuses a line longer than the bound (16 MiB), counting bytes, whatever the read size', async () => {
    expect(MAX_RECORD_BYTES).toBe(16 * 1024 * 1024)
    // "é" is two bytes: {"s": "é…é"} with 45 of them is 10 + 90 = 100 bytes.
    const exact = tmp.file('exact.jsonl', `{"s": "x"}\n{"s": "${'é'.repeat(45)}"}\n`)
    const over = tmp.file('over.jsonl', `{"s": "x"}\n\n{"s": "${'é'.repeat(46)}"}`)
    for (const chunkBytes of [1, 7, 100, 1 << 16]) {
      expect((await readColumns(new JsonlSource(exact, { chunkBytes, maxLineBytes: 100 }), { batchSize: 5 })).s).toEqual([
        'x',
        'é'.repeat(45),
      ])
      await expectUserError(
        readBatches(new JsonlSource(over, { chunkBytes, maxLineBytes: 100 }), { batchSize: 5 }),
        tooLong(over, 3, '100 bytes'),
        over,
      )
    }
  })

  it('refuses UTF-16 and NUL bytes near the start', async () => {
    const utf16 = (path: string) => `${path} is UTF-16 (or binary); save it as UTF-8`
    const text = '{"a": 1}\n{"a": 2}\n'
    const le = tmp.file('le.jsonl', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]))
    await expectUserError(new JsonlSource(le).columns(), `${utf16(le)} (it starts with the UTF-16 byte order mark FF FE)`, le)
    const be = tmp.file('be.jsonl', Buffer.from(text, 'utf16le').swap16())
    for (const chunkBytes of [1, 3, 1 << 16]) {
      await expectUserError(readBatches(new JsonlSource(be, { chunkBytes }), { batchSize: 5 }), `${utf16(be)} (byte 1 is NUL)`, be)
    }
    // Past the bytes looked at, a NUL is only what JSON makes of it.
    const lines = Math.ceil(SNIFF_BYTES / 9)
    const late = tmp.file('late.jsonl', `${'{"a": 1}\n'.repeat(lines)}{"a": "\0"}\n`)
    await expectUserError(
      readBatches(new JsonlSource(late), { batchSize: 1000 }),
      new RegExp(`^${escapeRegExp(late)}: line ${lines + 1}: not valid JSON \\(Bad control character`),
    )
  })

  it('refuses a number beyond the range of a double in a column read, quoting it as written', async () => {
    const path = tmp.file('range.jsonl', '{"id": 1, "x": 0.5}\n{"id": 2, "x": -1e400}\n{"id": 3e999, "x": 1}\n')
    await expectUserError(
      readBatches(new JsonlSource(path), { batchSize: 5, columns: ['x'] }),
      `${path}: line 2: column 'x': -1e400 is out of the range of a double (float64; the largest is about 1.8e308)`,
      path,
    )
    await expectUserError(
      readBatches(new JsonlSource(path), { batchSize: 5, columns: ['id'] }),
      `${path}: line 3: column 'id': 3e999 is out of the range of a double (float64; the largest is about 1.8e308)`,
    )
    // A key written with escapes is not found as written: the message says "a number".
    const escaped = tmp.file('range-escaped.jsonl', '{"\\u0078": 1e400}\n')
    await expectUserError(
      readBatches(new JsonlSource(escaped), { batchSize: 5 }),
      `${escaped}: line 1: column 'x': a number is out of the range of a double (float64; the largest is about 1.8e308)`,
    )
  })
})
