/**
 * The CSV reader on worker threads (src/core/data/csv-workers.ts) gives exactly the batches and the
 * errors of the main-thread reader: whatever the worker count, wherever the chunks are cut (at every
 * byte of a small file with a BOM, CRLFs, quotes and line breaks inside quotes), and when a record is
 * cut across chunks, is bad, or is too long.
 */
import { open } from 'node:fs/promises'
import { afterAll, describe, expect, it } from '@jest/globals'
import { CsvSource, type CsvOptions } from '../../src/core/data/csv.js'
import { parallelChunks, workersUsable } from '../../src/core/data/csv-workers.js'
import { UserError } from '../../src/core/errors.js'
import { columnCells, type Batch, type ReadOptions } from '../../src/core/data/types.js'
import { tempDir } from './helpers.js'

const tmp = tempDir()
afterAll(() => tmp.remove())

/** Every batch until the end or an error, and the error's message. */
async function outcome(path: string, options: CsvOptions, read: ReadOptions): Promise<{ batches: Batch[]; error?: string }> {
  const batches: Batch[] = []
  try {
    for await (const batch of new CsvSource(path, options).batches(read)) batches.push(batch)
  } catch (e) {
    if (!(e instanceof UserError)) throw e
    return { batches, error: e.message }
  }
  return { batches }
}

/** The outcome on the main thread alone, and on `workers` threads with the chunking of `options`. */
async function both(path: string, read: ReadOptions, options: CsvOptions) {
  const base = { chunkBytes: options.chunkBytes, maxRecordBytes: options.maxRecordBytes }
  return { serial: await outcome(path, { ...base, workers: 0 }, read), parallel: await outcome(path, options, read) }
}

const SMALL = Buffer.concat([
  Buffer.from([0xef, 0xbb, 0xbf]),
  Buffer.from('id,text,value\r\n1,"multi\r\nline",2.5\r\n\r\n2,"a,""b""\nc",-0\n3,café,\n"4",,NA\r5,"",1e400\n6,"x\n\n",\n7,😀,.5'),
])

describe('CsvSource on worker threads', () => {
  it('runs the parser from its source text in workers here', async () => {
    expect(workersUsable()).toBe(true)
    const path = tmp.file('direct.csv', 'a,b\n1,2\n3,"x\ny"\n5,6\n')
    const handle = await open(path)
    try {
      const spec = { fields: 2, modes: Uint8Array.of(1, 1), slots: Int32Array.of(0, 1), width: 2, maxRecordBytes: 1000 }
      const chunks = []
      for await (const chunk of parallelChunks(handle, 4, spec, { workers: 2, chunkBytes: 5, splitAnywhere: false })) chunks.push(chunk)
      expect(chunks.reduce((n, c) => n + c.rows, 0)).toBe(3)
      expect(chunks.reduce((n, c) => n + c.lines, 0)).toBe(4)
      expect(chunks.at(-1)?.stop).toBe(0)
    } finally {
      await handle.close()
    }
  })

  it('gives the batches of the main thread with the chunks cut at every byte of a small file (BOM, CRLF, quotes, line breaks in quotes)', async () => {
    const path = tmp.file('small.csv', SMALL)
    const read = { batchSize: 2 }
    const serial = await outcome(path, { workers: 0 }, read)
    expect(serial.error).toBeUndefined()
    expect(serial.batches.flatMap((b) => columnCells(b.columns.text))).toEqual([
      'multi\r\nline',
      'a,"b"\nc',
      'café',
      null,
      null,
      'x\n\n',
      '😀',
    ])
    for (let cut = 1; cut <= SMALL.length; cut++) {
      expect(await outcome(path, { workers: 1, parallelChunkBytes: cut, splitAnywhere: true }, read)).toEqual(serial)
      expect(await outcome(path, { workers: 2, parallelChunkBytes: cut }, read)).toEqual(serial)
    }
  })

  it('gives the same batches on 0, 1, 2 and 4 worker threads, with every column or a few, text columns and all', async () => {
    const rows = Array.from({ length: 3000 }, (_, k) => {
      const note = k % 7 === 0 ? `"line ${k}\nnext, ""quoted"""` : k % 5 === 0 ? '' : `n${k}`
      const end = k % 3 === 0 ? '\r\n' : '\n'
      return `${k},${(k * 0.37 - 500).toFixed(k % 9)},${note},${k % 11 === 0 ? 'NA' : k % 13 === 0 ? '1e400' : `${k}e-3`},${k % 4 === 0 ? '007' : 'x'}${end}`
    })
    const path = tmp.file('mixed.csv', `id,x,note,y,code\n${rows.join('')}`)
    for (const read of [
      { batchSize: 100 },
      { batchSize: 7, columns: ['y', 'note'] },
      { batchSize: 1000, columns: ['code', 'id'], text: ['code'] },
    ]) {
      const serial = await outcome(path, { workers: 0 }, read)
      expect(serial.batches.reduce((n, b) => n + b.length, 0)).toBe(3000)
      for (const workers of [1, 2, 4]) {
        expect(await outcome(path, { workers, parallelChunkBytes: 4096 }, read)).toEqual(serial)
        expect(await outcome(path, { workers, parallelChunkBytes: 1000, splitAnywhere: true }, read)).toEqual(serial)
      }
    }
  })

  it('tells onBytesRead how far it has read, rising to the file size, on the main thread and on workers', async () => {
    const text = `a,b\n${Array.from({ length: 2000 }, (_, k) => `${k},${k / 3}`).join('\n')}\n`
    const path = tmp.file('progress.csv', text)
    for (const options of [
      { workers: 0, chunkBytes: 1000 },
      { workers: 2, parallelChunkBytes: 1000 },
    ]) {
      const seen: number[] = []
      let rows = 0
      for await (const batch of new CsvSource(path, options).batches({ batchSize: 100, onBytesRead: (n) => seen.push(n) }))
        rows += batch.length
      expect(rows).toBe(2000)
      expect(seen.length).toBeGreaterThan(10)
      expect(seen.every((n, k) => k === 0 || n > seen[k - 1])).toBe(true)
      expect(seen.at(-1)).toBe(Buffer.byteLength(text))
    }
  })

  it('reads old Mac line ends (CR only) and records longer than a chunk', async () => {
    const cr = tmp.file('cr.csv', `a,b\r${Array.from({ length: 500 }, (_, k) => `${k},"v\r${k}"`).join('\r')}\r`)
    const long = tmp.file('long.csv', `a,b\n1,${'x'.repeat(10_000)}\n2,"${'y\n'.repeat(5000)}"\n3,z\n`)
    for (const path of [cr, long]) {
      const { serial, parallel } = await both(path, { batchSize: 50 }, { workers: 2, parallelChunkBytes: 512 })
      expect(serial.error).toBeUndefined()
      expect(parallel).toEqual(serial)
    }
  })

  describe('errors, with the batches before them', () => {
    const lines = Array.from({ length: 400 }, (_, k) => `${k},${k / 8}`)
    /** Name, file, options, and whether the file is bad. */
    const cases: [string, string, CsvOptions, boolean?][] = [
      ['field count', `a,b\n${lines.join('\n')}\n7,8,9\n${lines.join('\n')}\n`, {}],
      ['field count after a quoted line break', `a,b\n${lines.join('\n')}\n"x\ny",1\n1\n`, {}],
      ['text after a closing quote', `a,b\n${lines.join('\n')}\n1,"x\n"y\n`, {}],
      ['an unterminated quote', `a,b\n${lines.join('\n')}\n1,"x\n${lines.join('\n')}\n`, {}],
      ['a record too long', `a,b\n${lines.join('\n')}\n1,${'z'.repeat(300)}\n`, { maxRecordBytes: 200 }],
      [
        'a record of exactly the bound, then CRLF (no error)',
        `a,b\r\n${lines.join('\r\n')}\r\n1,${'z'.repeat(198)}\r\n2,3\r\n`,
        { maxRecordBytes: 200 },
        false,
      ],
      ['a quote never closed, too long', `a,b\n${lines.join('\n')}\n1,"${'q\n'.repeat(300)}`, { maxRecordBytes: 200 }],
      [
        'a quote closed past the bound',
        `a,b\n${lines.join('\n')}\n1,"${'q\n'.repeat(300)}"\n2,3\n`,
        { maxRecordBytes: 200, chunkBytes: 64 },
      ],
      ['bad UTF-8 in a record near the bound', `a,b\n${lines.join('\n')}\n1,${'\xff'.repeat(80)}\n`, { maxRecordBytes: 200 }],
    ]
    it.each(cases)('%s', async (_name, text, options, bad = true) => {
      const path = tmp.file('bad.csv', Buffer.from(text, 'latin1'))
      for (const [workers, parallelChunkBytes, splitAnywhere] of [
        [1, 100, false],
        [2, 333, true],
        [4, 4096, false],
      ] as const) {
        const { serial, parallel } = await both(path, { batchSize: 64 }, { ...options, workers, parallelChunkBytes, splitAnywhere })
        expect(serial.error !== undefined).toBe(bad)
        expect(parallel).toEqual(serial)
      }
    })
  })
})
