import { describe, expect, it } from '@jest/globals'
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import { renderComment } from '../../src/core/report/comment.js'
import { renderSummary } from '../../src/core/report/markdown.js'
import { resultSchema } from '../../src/core/result/schema.js'
import type { ValidationResult } from '../../src/core/result/types.js'
import { outside } from '../helpers/workspace.js'

/*
 * Issue 17 through `modelgate validate`: examples/breast-cancer-drift compares the breast-cancer test split
 * and a shifted copy of it with the training split. Every statistic must be scipy's (the fixture is made by
 * scripts/fixtures/drift-example.py with Debian's scipy and statsmodels), the gates read them by name, and
 * a manifest that asks for what cannot be given is refused before any row is scored.
 */
const ROOT = path.resolve(import.meta.dirname, '../..')
const CONFIG = 'examples/breast-cancer-drift/modelgate.yml'
const SCIPY = JSON.parse(readFileSync(path.join(ROOT, '__tests__/fixtures/drift/example-scipy.json'), 'utf8')) as Record<
  string,
  {
    ks: Record<string, { statistic: number; pvalue: number; adjusted: number }>
    drifted: string[]
    share: number
    duplicate_rows: number
    leakage_rows: number
  }
>

async function cli(args: string[], cwd = ROOT) {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(outside(args), { stdout: (t) => out.push(t), stderr: (t) => err.push(t), cwd })
  return { code, stdout: out.join('\n'), stderr: err.join('\n') }
}

describe('drift and integrity on examples/breast-cancer-drift', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-drift-'))
  const report = path.join(dir, 'report.json')
  let result: ValidationResult
  let code: number
  let stdout: string

  it('runs, and fails the gate the shifted data breaks', async () => {
    const r = await cli(['validate', '--config', CONFIG, '--report', report])
    expect(r.stderr).not.toMatch(/internal error/)
    code = r.code
    stdout = r.stdout
    result = JSON.parse(readFileSync(report, 'utf8')) as ValidationResult
    expect(resultSchema.safeParse(result).success).toBe(true)
    expect(code).toBe(1)
    const failed = result.checks.filter((c) => c.status === 'fail').map((c) => c.id)
    expect(failed).toEqual(['threshold/shifted/drift.mean_area.psi<=0.2'])
  })

  it.each(['test', 'shifted'])('%s: every Kolmogorov–Smirnov statistic, p-value and BH-adjusted p-value is scipy’s', (name) => {
    const d = result.data.find((x) => x.name === name)!.drift!
    const expected = SCIPY[name]
    expect(d.columns).toHaveLength(30)
    for (const c of d.columns) {
      const e = expected.ks[c.column]
      expect(c.test).toBe('ks')
      expect(Math.abs(c.statistic - e.statistic)).toBeLessThanOrEqual(1e-12)
      expect(Math.abs(c.pValue! - e.pvalue)).toBeLessThanOrEqual(1e-12 + 1e-9 * e.pvalue)
      expect(Math.abs(c.adjustedPValue! - e.adjusted)).toBeLessThanOrEqual(1e-12 + 1e-9 * e.adjusted)
    }
    expect(
      d.columns
        .filter((c) => c.drifted)
        .map((c) => c.column)
        .sort(),
    ).toEqual(expected.drifted)
    expect(d.share).toBe(expected.share)
    expect(d.datasetDrift).toBe(false)
    expect(d.reference).toMatchObject({ path: 'examples/breast-cancer/data/train.csv', rows: 398 })
    // Worst first: the drifted columns lead.
    expect(d.columns.slice(0, expected.drifted.length).every((c) => c.drifted)).toBe(true)
    const integrity = result.data.find((x) => x.name === name)!.integrity!
    expect(integrity.duplicateRows).toBe(expected.duplicate_rows)
    expect(integrity.leakage).toEqual({ rows: expected.leakage_rows, share: expected.leakage_rows / 171 })
  })

  it('compares the model’s outputs and the labels too, and keeps them out of the share', () => {
    const d = result.data.find((x) => x.name === 'shifted')!.drift!
    expect(d.prediction?.column).toBe('prediction')
    expect(d.prediction?.kind).toBe('numeric')
    expect(d.label?.column).toBe('label')
    expect(d.label?.test).toBe('z')
    expect(d.drifted).toBe(4)
  })

  it('shows it in the summary, the pull-request comment and the terminal', () => {
    const comment = renderComment(result, { marker: '<!-- m -->' })
    expect(comment).toContain('**Data drift (shifted):** 4 of 30 columns (13.33%): mean_texture, worst_area, worst_texture, mean_area.')
    expect(comment).toContain('**Data integrity (test):** 0 duplicated rows, 0 duplicated columns, 0 rows also in the reference.')
    const md = renderSummary(result)
    expect(md).toContain('### Data drift (shifted)')
    expect(md).toMatch(/4 of 30 columns \(13\.3+%\) differ from the reference/)
    expect(md).toContain('| ⚠️ | mean_texture | Kolmogorov–Smirnov |')
    expect(md).toContain('### Data integrity (test)')
    expect(stdout).toMatch(/Data drift \(data set "shifted"\): 4 of 30 columns drifted/)
    expect(stdout).toMatch(/ {2}mean_texture: ks 0\.317244, p 1\.10602e-9, PSI /)
  })
})

describe('--drift-reference (input drift-reference): a reference without a drift: key', () => {
  it('compares the breast-cancer test split with the training split, with drift’s defaults', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mg-drift-flag-'))
    const r = await cli([
      'validate',
      '--config',
      'examples/breast-cancer/modelgate.yml',
      '--drift-reference',
      'examples/breast-cancer/data/train.csv',
      '--threshold',
      'drift.share_drifted <= 0.2',
      '--report',
      path.join(dir, 'r.json'),
      '--quiet',
    ])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const d = (JSON.parse(readFileSync(path.join(dir, 'r.json'), 'utf8')) as ValidationResult).data[0].drift!
    expect(d).toMatchObject({
      drifted: 0,
      share: 0,
      threshold: 0.5,
      reference: { path: 'examples/breast-cancer/data/train.csv', rows: 398 },
    })
    for (const c of d.columns) expect(c.statistic).toBe(SCIPY.test.ks[c.column].statistic)
    const missing = await cli(['validate', '--config', 'examples/breast-cancer/modelgate.yml', '--drift-reference', 'nope.csv', '--quiet'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/nope\.csv/)
  })
})

describe('prediction drift against the baseline model on the same rows', () => {
  it('compares the candidate’s positive-class probabilities with the baseline’s, by the test the sizes call for', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mg-drift-baseline-'))
    const args = ['--config', CONFIG, '--quiet']
    const r = await cli(['validate', ...args, '--baseline', 'examples/breast-cancer/baseline.onnx', '--report', path.join(dir, 'r.json')])
    expect(r.stderr).toBe('')
    const result = JSON.parse(readFileSync(path.join(dir, 'r.json'), 'utf8')) as ValidationResult
    const versus = result.data.find((d) => d.name === 'test')!.drift!.predictionVsBaseline!
    expect(versus).toMatchObject({ column: 'prediction_vs_baseline', kind: 'numeric', test: 'ks', referenceRows: 171, currentRows: 171 })
    // The same statistic from the two models' own predictions files (written to the shortest text that reads back exactly).
    const probabilities = async (model: string, file: string) => {
      await cli(['validate', ...args, '--model', model, '--predictions', path.join(dir, file)])
      const [head, ...rows] = readFileSync(path.join(dir, `${file.replace(/\.csv$/, '')}-test.csv`), 'utf8')
        .trim()
        .split('\n')
      const j = head.split(',').indexOf('probability_1')
      return Float64Array.from(rows.map((l) => Number(l.split(',')[j])))
    }
    const candidate = await probabilities('examples/breast-cancer/model.onnx', 'c.csv')
    const baseline = await probabilities('examples/breast-cancer/baseline.onnx', 'b.csv')
    const { ks2samp } = await import('../../src/core/drift/stats.js')
    const expected = ks2samp(baseline, candidate)
    expect(versus.statistic).toBe(expected.statistic)
    expect(versus.pValue).toBe(expected.pValue)
  })
})

describe('drift and integrity: what the manifest cannot ask for is refused before scoring', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-drift-bad-'))
  cpSync(path.join(ROOT, 'examples/breast-cancer'), path.join(dir, 'bc'), { recursive: true })
  const base = ['name: bad', 'model: bc/model.onnx', 'label: target', 'classes: [0, 1]', 'data: bc/data/test.csv']
  const write = (name: string, lines: string[]) => {
    writeFileSync(path.join(dir, name), [...base, ...lines, ''].join('\n'))
    return name
  }
  const refused = async (args: string[], message: RegExp) => {
    const r = await cli(['validate', ...args, '--quiet'], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /)
  }

  it('a drift gate without drift:, an unknown drift metric, a column drift does not compare', async () => {
    await refused(
      ['--config', write('a.yml', ['thresholds: [drift.share_drifted <= 0.2]'])],
      /"drift\.share_drifted <= 0\.2": a drift gate needs the manifest's drift: key/,
    )
    const drift = ['drift:', '  reference: bc/data/train.csv']
    await refused(
      ['--config', write('b.yml', [...drift, 'thresholds: [drift.share <= 0.2]'])],
      /unknown drift metric "drift\.share"; known: drift\.share_drifted/,
    )
    await refused(
      ['--config', write('c.yml', [...drift, 'thresholds: [drift.mean_radius.pvalue <= 0.2]'])],
      /unknown statistic "pvalue" in "drift\.mean_radius\.pvalue"; known: statistic, p_value, psi/,
    )
    await refused(
      ['--config', write('d.yml', [...drift, 'thresholds: [drift.nope.psi <= 0.2]'])],
      /"nope" is not among the columns drift compares/,
    )
    await refused(
      ['--config', write('e.yml', ['thresholds: [integrity.duplicate_rows == 0]'])],
      /an integrity gate needs the manifest's integrity: key/,
    )
  })

  it('a reference that is missing, outside the workspace, or lacks a column; drift with shards', async () => {
    await refused(['--config', write('f.yml', ['drift:', '  reference: bc/data/nope.csv'])], /bc\/data\/nope\.csv/)
    await refused(
      ['--config', write('g.yml', ['drift:', '  reference: bc/data/train.csv', '  features: [mean_radius, nope]'])],
      /train\.csv: drift\.reference has no column "nope"/,
    )
    await refused(
      ['--config', write('h.yml', ['drift:', '  reference: bc/data/train.csv']), '--shard', '1/2'],
      /drift: a sharded run cannot check it yet/,
    )
    await refused(['--config', write('i.yml', ['drift:', '  reference: bc/data/train.csv', '  share: 2'])], /drift\.share/)
    const r = await runCli(['validate', '--config', write('j.yml', ['drift:', '  reference: /etc/hostname']), '--quiet'], {
      stdout: () => {},
      stderr: () => {},
      cwd: dir,
    })
    expect(r).toBe(2)
    // An output over the reference is refused, and the reference left as it was.
    const before = readFileSync(path.join(dir, 'bc/data/train.csv'), 'utf8')
    await refused(
      ['--config', write('k.yml', ['drift:', '  reference: bc/data/train.csv']), '--report', 'bc/data/train.csv'],
      /--report .*train\.csv: is the drift reference, which this run reads/,
    )
    expect(readFileSync(path.join(dir, 'bc/data/train.csv'), 'utf8')).toBe(before)
  })
})
