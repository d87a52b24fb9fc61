/** Holes in validate found by reading the code (issue 12): each refused before anything is scored or written. */
import { describe, expect, it } from '@jest/globals'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import { displayPath } from '../../src/core/workspace.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const FIX = path.join(ROOT, '__tests__/fixtures/exported')

async function cli(args: string[], cwd: string) {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(args, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), cwd })
  return { code, stdout: out.join('\n'), stderr: err.join('\n') }
}

function workspace(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-holes-'))
  copyFileSync(path.join(FIX, 'rf.onnx'), path.join(dir, 'model.onnx'))
  copyFileSync(path.join(FIX, 'breast-cancer-test.csv'), path.join(dir, 'test.csv'))
  return dir
}

const lines = (dir: string) => readFileSync(path.join(dir, 'test.csv'), 'utf8').trimEnd().split('\n')

describe('validate refuses before scoring', () => {
  it('a gate on a misspelt metric, even when the task is inferred', async () => {
    const dir = workspace()
    // A bad cell late in the file: scoring would stop there, so the gate's message proves it came first.
    const csv = lines(dir)
    csv[160] = csv[160].replace(/^[^,]+/, 'oops')
    writeFileSync(path.join(dir, 'test.csv'), `${csv.join('\n')}\n`)
    const r = await cli(
      ['validate', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'target', '--threshold', 'acuracy >= 0.9'],
      dir,
    )
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^modelgate: --threshold: "acuracy >= 0.9": unknown metric "acuracy"; known: binary: accuracy,/m)
    expect(r.stderr).not.toContain('oops')
  })

  it('data with no labelled row at all says so, not "yTrue is empty"', async () => {
    const dir = workspace()
    const csv = lines(dir).map((l, i) => (i === 0 ? l : l.replace(/,[^,]*$/, ',')))
    writeFileSync(path.join(dir, 'test.csv'), `${csv.join('\n')}\n`)
    const r = await cli(['validate', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'target'], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/test.csv: none of its 171 rows has a value in the label column "target"; the metrics need labelled rows/)
    expect(r.stderr).not.toMatch(/yTrue/)
  })

  it('one reference-predictions file for several data sets', async () => {
    const dir = workspace()
    copyFileSync(path.join(FIX, 'rf-predictions.csv'), path.join(dir, 'ref.csv'))
    writeFileSync(
      path.join(dir, 'modelgate.yml'),
      'name: rf\nmodel: model.onnx\nlabel: target\ndata: [{name: a, path: test.csv}, {name: b, path: test.csv}]\nreference-predictions: ref.csv\n',
    )
    const r = await cli(['validate', '--report', 'out/r.json'], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/modelgate.yml: reference-predictions: one file holds the predictions of one data set, but there are 2/)
    expect(existsSync(path.join(dir, 'out/r.json'))).toBe(false)
  })

  it('a baseline predictions file with rows left over, like the candidate’s', async () => {
    const dir = workspace()
    const first = await cli(['validate', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'target', '--predictions', 'p.csv'], dir)
    expect(first.code).toBe(0)
    const p = readFileSync(path.join(dir, 'p.csv'), 'utf8')
    writeFileSync(path.join(dir, 'p.csv'), p + p.split('\n')[1] + '\n')
    const r = await cli(['validate', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'target', '--baseline', 'p.csv'], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/p.csv: the predictions file has 172 rows but the data has 171/)
  })
})

describe('outputs are moved into place together, or not at all', () => {
  it('a failure writing the third output leaves no report and no predictions, and the JUnit file says why', async () => {
    const dir = workspace()
    mkdirSync(path.join(dir, 'out'))
    // The summary is the third file staged after the predictions, the report and the JUnit: make its temporary path unwritable.
    mkdirSync(path.join(dir, 'out', `.summary.md.${process.pid}.3.tmp`))
    const r = await cli(
      [
        'validate',
        '--model',
        'model.onnx',
        '--data',
        'test.csv',
        '--label',
        'target',
        '--predictions',
        'out/p.csv',
        '--report',
        'out/report.json',
        '--junit',
        'out/junit.xml',
        '--summary',
        'out/summary.md',
      ],
      dir,
    )
    expect(r.stderr).toMatch(/out\/summary.md: cannot write/)
    expect(r.code).toBe(2)
    expect(readdirSync(path.join(dir, 'out')).sort()).toEqual([`.summary.md.${process.pid}.3.tmp`, 'junit.xml'])
    expect(readFileSync(path.join(dir, 'out/junit.xml'), 'utf8')).toMatch(/errors="1"/)
  })
})

describe('model URLs in reports', () => {
  it('stay URLs (not http:/host), without credentials', () => {
    expect(displayPath('http://127.0.0.1:8080/v2/models/m/infer', '/work')).toBe('http://127.0.0.1:8080/v2/models/m/infer')
    expect(displayPath('https://user:secret@models.example/v1/models/m:predict', '/work')).toBe(
      'https://models.example/v1/models/m:predict',
    )
    expect(displayPath('/work/models/m.onnx', '/work')).toBe('models/m.onnx')
  })
})

describe('a feature with no value in any row', () => {
  const empty = (dir: string, column: string) => {
    const csv = lines(dir)
    const at = csv[0].split(',').indexOf(column)
    writeFileSync(
      path.join(dir, 'test.csv'),
      `${csv
        .map((l, i) =>
          i === 0
            ? l
            : l
                .split(',')
                .map((v, j) => (j === at ? '' : v))
                .join(','),
        )
        .join('\n')}\n`,
    )
  }

  it('is a warning when the model still answers (a tree ensemble routes missing values)', async () => {
    const dir = workspace()
    empty(dir, 'mean_radius')
    const r = await cli(['validate', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'target', '--json'], dir)
    expect(r.code).toBe(0)
    const result = JSON.parse(r.stdout) as { warnings: string[] }
    expect(result.warnings).toContain(
      'feature "mean_radius" has no value (missing or NaN) in any of the 171 rows of test.csv: the model was scored on a column with nothing in it. Check the column name and the file.',
    )
  })

  it('is named in the error when the model answers NaN for it', async () => {
    const dir = workspace()
    copyFileSync(path.join(ROOT, 'examples/breast-cancer/model.onnx'), path.join(dir, 'model.onnx'))
    empty(dir, 'mean_texture')
    const r = await cli(['validate', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'target'], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      /gives probability NaN .*; note: feature "mean_texture" has no value \(missing or NaN\) in any of the first 171 rows of test.csv/,
    )
  })
})
