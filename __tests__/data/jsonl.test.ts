import { describe, expect, it } from '@jest/globals'
import { JsonlSource } from '../../src/core/data/jsonl.js'
import { escapeRegExp, expectUserError, fixture, readBatches, readColumns } from './helpers.js'

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
