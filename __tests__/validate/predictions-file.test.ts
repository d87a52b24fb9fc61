import { describe, expect, it } from '@jest/globals'
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createPredictionsFile, trueLabelColumn } from '../../src/core/validate/predictions-file.js'
import { createPredictionsRunner } from '../../src/core/runners/predictions.js'
import type { PredictionBatch } from '../../src/core/runners/types.js'

const dir = () => mkdtempSync(path.join(tmpdir(), 'mg-pred-'))

const batch = (offset: number): PredictionBatch => ({
  length: 2,
  labels: ['yes, really', 'no "quoted"'],
  probabilities: new Float64Array([0.1 + offset, 0.9 - offset, 1 / 3, 2 / 3]),
  classes: ['yes, really', 'no "quoted"'],
  sources: { labels: 'label', probabilities: 'probabilities' },
})

describe('the predictions file', () => {
  for (const ext of ['csv', 'parquet']) {
    it(`${ext}: written in batches, read back by the predictions runner unchanged`, async () => {
      const d = dir()
      const file = path.join(d, `p.${ext}`)
      const sink = createPredictionsFile(file, { label: 'target', id: 'id' })
      await sink.write(0, batch(0), ['yes, really', null], ['a', 'b'])
      await sink.write(2, batch(0.05), ['no "quoted"', 'yes, really'], ['c', 'd'])
      expect(existsSync(file)).toBe(false)
      await sink.commit()
      expect(readdirSync(d)).toEqual([`p.${ext}`])
      const runner = await createPredictionsRunner({ path: file })
      const out = await runner.predict({ offset: 0, length: 4, features: [], columns: [] })
      expect(out.labels).toEqual(['yes, really', 'no "quoted"', 'yes, really', 'no "quoted"'])
      expect(out.classes).toEqual(['yes, really', 'no "quoted"'])
      expect(Array.from(out.probabilities!)).toEqual([0.1, 0.9, 1 / 3, 2 / 3, 0.1 + 0.05, 0.9 - 0.05, 1 / 3, 2 / 3])
      await runner.close()
      if (ext === 'csv') {
        const lines = readFileSync(file, 'utf8').split('\n')
        expect(lines[0]).toBe('row_index,id,target,label,"probability_yes, really","probability_no ""quoted"""')
        expect(lines[2]).toBe('1,b,,"no ""quoted""",0.3333333333333333,0.6666666666666666')
      }
    })
  }

  it('abort leaves nothing behind', async () => {
    const d = dir()
    const sink = createPredictionsFile(path.join(d, 'p.csv'), { label: 'y' })
    await sink.write(0, batch(0), [1, 0])
    await sink.abort()
    expect(readdirSync(d)).toEqual([])
  })

  it('the format comes from the extension; anything else is refused before a row is scored', () => {
    expect(() => createPredictionsFile('p.txt', { label: 'y' })).toThrow(
      'predictions p.txt: the file name must end in .csv or .parquet (it sets the format)',
    )
  })

  it('the true label never takes a name the predictions runner reads as an output', () => {
    expect(trueLabelColumn('target')).toBe('target')
    expect(trueLabelColumn('label')).toBe('true_label')
    expect(trueLabelColumn('value')).toBe('true_value')
    expect(trueLabelColumn('probability_1')).toBe('true_probability_1')
  })
})
