import { describe, expect, it } from '@jest/globals'
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import type { ValidationResult } from '../../src/core/result/types.js'
import { parseShard, shardOfRow, shardRuns } from '../../src/core/shard/spec.js'
import { outside } from '../helpers/workspace.js'

/*
 * Issue 16: validate across a workflow matrix. Each shard scores its blocks of rows and writes its state;
 * the merge must give exactly the result one run gives (but the timings), and refuse any set of shards
 * that is not one complete set made with the same settings, model and data.
 */
const ROOT = path.resolve(import.meta.dirname, '../..')
const EXAMPLES = path.join(ROOT, 'examples')
const EXPORTED = path.join(ROOT, '__tests__/fixtures/exported')

async function cli(args: string[], cwd: string) {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(outside(args), { stdout: (t) => out.push(t), stderr: (t) => err.push(t), cwd })
  return { code, stdout: out.join('\n'), stderr: err.join('\n') }
}

/** The result without what measures the machine rather than the model, and without the merge's own note. */
function comparable(r: ValidationResult): unknown {
  const copy = JSON.parse(JSON.stringify(r)) as ValidationResult & Record<string, unknown>
  const timing = (m: Record<string, number>) => {
    for (const k of Object.keys(m)) if (k.startsWith('latency_') || k === 'rows_per_second') delete m[k]
  }
  delete (copy as Partial<ValidationResult>).context
  timing(copy.metrics)
  for (const d of copy.data) {
    delete (d as Partial<typeof d>).performance
    timing(d.metrics)
  }
  for (const c of copy.checks) delete (c as Partial<typeof c>).seconds
  copy.notes = copy.notes.filter((n) => !n.startsWith('Merged from'))
  return copy
}

/** A copy of an example in a fresh workspace (shards and merges write beside it). */
function workspace(example: string, extra: (dir: string) => void = () => {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-shard-'))
  cpSync(path.join(EXAMPLES, example), dir, { recursive: true })
  extra(dir)
  return dir
}

async function single(dir: string, flags: string[]): Promise<{ code: number; result: ValidationResult }> {
  const r = await cli(['validate', ...flags, '--report', 'single.json', '--quiet'], dir)
  expect(r.stderr).toBe('')
  return { code: r.code, result: JSON.parse(readFileSync(path.join(dir, 'single.json'), 'utf8')) as ValidationResult }
}

async function shards(dir: string, n: number, flags: string[], folder = `shards-${n}`): Promise<string> {
  mkdirSync(path.join(dir, folder), { recursive: true })
  for (let i = 1; i <= n; i++) {
    const r = await cli(['validate', ...flags, '--shard', `${i}/${n}`, '--shard-state', `${folder}/s${i}.json`], dir)
    expect(r.stderr).not.toContain('internal error')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`^shard ${i}/${n}: `))
  }
  return folder
}

async function merge(dir: string, args: string[], flags: string[]) {
  const report = `merged-${Math.random().toString(36).slice(2)}.json`
  const r = await cli(['merge', ...flags, '--report', report, '--quiet', ...args], dir)
  const file = path.join(dir, report)
  let result: ValidationResult | undefined
  try {
    result = JSON.parse(readFileSync(file, 'utf8')) as ValidationResult
  } catch {
    result = undefined
  }
  return { ...r, result }
}

describe('shards: which rows each scores', () => {
  it('parses i/n and refuses what is not one', () => {
    expect(parseShard('2/3', { field: '--shard' })).toEqual({ index: 2, count: 3 })
    expect(parseShard(' 1 / 1 ', { field: '--shard' })).toEqual({ index: 1, count: 1 })
    for (const bad of ['0/3', '4/3', '3', 'a/b', '1/0', '-1/2', '1/257', '1.5/3'])
      expect(() => parseShard(bad, { field: '--shard' })).toThrow(/--shard: /)
  })

  it('gives every row to exactly one shard, however the rows are batched', () => {
    const problems: string[] = []
    for (const count of [1, 2, 3, 7]) {
      for (const block of [1, 5, 20, 1024]) {
        for (const batch of [1, 7, 20, 333]) {
          const rows = 1_500
          const owner = new Int32Array(rows)
          for (let shard = 1; shard <= count; shard++) {
            for (let offset = 0; offset < rows; offset += batch) {
              let last = -1
              for (const [s, e] of shardRuns(offset, Math.min(batch, rows - offset), { index: shard, count }, block)) {
                if (!(s > last && e > s)) problems.push(`runs out of order: ${count}/${block}/${batch} at ${offset}`)
                last = e
                for (let i = s; i < e; i++) {
                  if (owner[offset + i] !== 0) problems.push(`row ${offset + i} in shards ${owner[offset + i]} and ${shard}`)
                  owner[offset + i] = shard
                }
              }
            }
          }
          for (let r = 0; r < rows; r++)
            if (owner[r] !== shardOfRow(r, count, block)) problems.push(`row ${r}: shard ${owner[r]}, not ${shardOfRow(r, count, block)}`)
        }
      }
    }
    expect(problems.slice(0, 5)).toEqual([])
  })
})

describe('modelgate merge gives the result of one run', () => {
  // The breast-cancer example: baseline model, comparison (bootstrap intervals, McNemar, DeLong), slices with
  // discovery, calibration, a data contract and conversion parity. Blocks of 20 rows: 9 blocks over 171 rows.
  const flags = ['--batch-size', '20']
  const dir = workspace('breast-cancer')

  it.each([1, 2, 3, 7])('with %i shard(s), to the last bit', async (n) => {
    const one = await single(dir, flags)
    const folder = await shards(dir, n, flags)
    const before = readdirSync(path.join(dir, folder)).map((f) => readFileSync(path.join(dir, folder, f), 'utf8'))
    const merged = await merge(dir, [folder], flags)
    expect(merged.stderr).toBe('')
    expect(merged.code).toBe(one.code)
    expect(comparable(merged.result!)).toEqual(comparable(one.result))
    expect(merged.result!.notes).toContain(
      `Merged from ${n} shard${n === 1 ? '' : 's'} (blocks of 20 rows each): the rows, metrics, intervals and checks of one run over the whole data; latency and rows per second are the shards' own (the slowest shard's wall time).`,
    )
    // The comparison's intervals are there, and equal: the Poisson weights are drawn per row.
    expect(merged.result!.comparisons?.[0]?.interval).toEqual(one.result.comparisons?.[0]?.interval)
    expect(merged.result!.data[0].rows).toBe(171)
    // The merge touches none of its inputs.
    expect(readdirSync(path.join(dir, folder)).map((f) => readFileSync(path.join(dir, folder, f), 'utf8'))).toEqual(before)
  })

  it('for a regressor (diabetes: baseline, comparison, slices, contract, parity)', async () => {
    const d = workspace('diabetes')
    const f = ['--batch-size', '16']
    const one = await single(d, f)
    const folder = await shards(d, 3, f)
    const merged = await merge(d, [folder], f)
    expect(merged.stderr).toBe('')
    expect(comparable(merged.result!)).toEqual(comparable(one.result))
    expect(merged.result!.task).toBe('regression')
  })

  it('for a multiclass model (digits, ten classes, int64 input), and writes the JUnit and summary of one run', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'mg-shard-digits-'))
    copyFileSync(path.join(EXPORTED, 'int64.onnx'), path.join(d, 'model.onnx'))
    copyFileSync(path.join(EXPORTED, 'digits-test.csv'), path.join(d, 'digits.csv'))
    writeFileSync(
      path.join(d, 'modelgate.yml'),
      [
        'name: digits',
        'model: model.onnx',
        'label: target',
        'data: digits.csv',
        'thresholds: [accuracy >= 0.9, f1_macro >= 0.9]',
        'calibration: false',
        '',
      ].join('\n'),
    )
    const f = ['--batch-size', '30']
    const one = await single(d, f)
    const folder = await shards(d, 3, f)
    const merged = await merge(d, [folder, '--junit', 'merged.xml', '--summary', 'merged.md'], f)
    expect(merged.stderr).toBe('')
    expect(merged.result!.task).toBe('multiclass')
    expect(comparable(merged.result!)).toEqual(comparable(one.result))
    expect(readFileSync(path.join(d, 'merged.xml'), 'utf8')).toContain('<testsuite')
    expect(readFileSync(path.join(d, 'merged.md'), 'utf8')).toContain('accuracy')
  })

  it("for fairness groups, and for a predictions file as the model (read past the other shards' rows)", async () => {
    const d = workspace('breast-cancer', (dir) => {
      // A sensitive column: three groups by row, so each shard holds part of each group.
      const lines = readFileSync(path.join(dir, 'data/test.csv'), 'utf8').trim().split('\n')
      const grouped = lines.map((l, i) => (i === 0 ? `${l},group` : `${l},${'ABC'[i % 3]}`))
      writeFileSync(path.join(dir, 'data/grouped.csv'), `${grouped.join('\n')}\n`)
      writeFileSync(
        path.join(dir, 'fair.yml'),
        [
          'name: fair',
          'model: model.onnx',
          'features: [mean_radius, mean_texture, mean_perimeter, mean_area, mean_smoothness, mean_compactness, mean_concavity, mean_concave_points, mean_symmetry, mean_fractal_dimension, radius_error, texture_error, perimeter_error, area_error, smoothness_error, compactness_error, concavity_error, concave_points_error, symmetry_error, fractal_dimension_error, worst_radius, worst_texture, worst_perimeter, worst_area, worst_smoothness, worst_compactness, worst_concavity, worst_concave_points, worst_symmetry, worst_fractal_dimension]',
          'label: target',
          'classes: [0, 1]',
          'positive-class: 1',
          'data: data/grouped.csv',
          'fairness:',
          '  sensitive: group',
          '  min-group-size: 20',
          '  thresholds: [demographic_parity_difference <= 0.5]',
          'thresholds: [accuracy >= 0.9]',
          '',
        ].join('\n'),
      )
    })
    const f = ['--config', 'fair.yml', '--batch-size', '10']
    const one = await single(d, f)
    expect(one.result.fairness?.length).toBeGreaterThan(0)
    const folder = await shards(d, 3, f)
    const merged = await merge(d, [folder], f)
    expect(merged.stderr).toBe('')
    expect(comparable(merged.result!)).toEqual(comparable(one.result))

    // The example's predictions, written by one run, scored back as the model: each shard reads past the rows of the others.
    await cli(['validate', ...f, '--predictions', 'preds.csv', '--quiet'], d)
    const p = ['--config', 'fair.yml', '--model', 'preds.csv', '--batch-size', '10']
    const onePreds = await single(d, p)
    const predFolder = await shards(d, 3, p, 'pred-shards')
    const mergedPreds = await merge(d, [predFolder], p)
    expect(mergedPreds.stderr).toBe('')
    expect(comparable(mergedPreds.result!)).toEqual(comparable(onePreds.result))
  })
})

describe('modelgate merge refuses what is not one complete set', () => {
  const flags = ['--batch-size', '20']
  const dir = workspace('breast-cancer')
  let folder = ''
  const state = (i: number) => path.join(folder, `s${i}.json`)

  it('makes the shards', async () => {
    folder = await shards(dir, 3, flags)
  })

  const refused = async (args: string[], message: RegExp, extra: string[] = flags) => {
    const r = await merge(dir, args, extra)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /)
    expect(r.result).toBeUndefined()
    return r
  }

  it('a missing shard, named', async () => {
    await refused([state(1), state(3)], /^modelgate: merge: shard 2\/3 missing: 2 of 3 given \(s1\.json, s3\.json\)/)
  })

  it('a shard given twice', async () => {
    await refused([state(1), state(2), state(3), state(2)], /s2\.json: shard 2\/3 is given twice/)
  })

  it('a shard of another set', async () => {
    const other = await shards(dir, 2, flags, 'two')
    await refused(
      [state(1), state(2), path.join(other, 's2.json')],
      /two\/s2\.json: shard 2\/2 belongs to a set of 2, but .*s1\.json is shard 1\/3 of 3/,
    )
  })

  it('a shard made with other settings, naming what differs', async () => {
    const odd = path.join(dir, 'odd')
    mkdirSync(odd)
    const r = await cli(['validate', ...flags, '--threshold', 'accuracy >= 0.5', '--shard', '2/3', '--shard-state', 'odd/s2.json'], dir)
    expect(r.code).toBe(0)
    await refused(
      [state(1), 'odd/s2.json', state(3)],
      /odd\/s2\.json: shard 2\/3 was made with other settings than this merge's \(they differ in gates/,
    )
    // And a merge given other settings than the shards: the same refusal, from the merge's side.
    await refused([folder], /s1\.json: shard 1\/3 was made with other settings than this merge's \(they differ in batchSize\)/, [
      '--batch-size',
      '21',
    ])
  })

  it('a shard that scored another model', async () => {
    const odd = path.join(dir, 'odd-model')
    mkdirSync(odd)
    // The same settings, another file's bytes behind the same name.
    const copy = workspace('breast-cancer', (d) => copyFileSync(path.join(d, 'baseline.onnx'), path.join(d, 'model.onnx')))
    const r = await cli(['validate', ...flags, '--shard', '3/3', '--shard-state', path.join(odd, 's3.json')], copy)
    expect(r.code).toBe(0)
    await refused(
      [state(1), state(2), 'odd-model/s3.json'],
      /odd-model\/s3\.json: shard 3\/3 scored model sha256:[0-9a-f]{64}, but .*s1\.json scored sha256:/,
    )
  })

  it('a shard that read another data file', async () => {
    const copy = workspace('breast-cancer', (d) => {
      // One row fewer, in the data and in the trainer's predictions beside it.
      for (const file of ['data/test.csv', 'reference-predictions.csv']) {
        const text = readFileSync(path.join(d, file), 'utf8')
        writeFileSync(path.join(d, file), text.replace(/\n([^\n]*)\n$/, '\n'))
      }
    })
    mkdirSync(path.join(dir, 'odd-data'))
    const r = await cli(['validate', ...flags, '--quiet', '--shard', '1/3', '--shard-state', path.join(dir, 'odd-data/s1.json')], copy)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    await refused(
      ['odd-data/s1.json', state(2), state(3)],
      /data set "test" is sha256:[0-9a-f]{64} \(170 rows\), but in .*s1\.json|every shard must read the same file/,
    )
  })

  it('a damaged or edited state file, naming the file and the field', async () => {
    const text = readFileSync(path.join(dir, state(2)), 'utf8')
    const bad = path.join(dir, 'bad')
    mkdirSync(bad)
    const write = (name: string, content: string) => {
      writeFileSync(path.join(bad, name), content)
      return `bad/${name}`
    }
    await refused([state(1), write('cut.json', text.slice(0, 200)), state(3)], /bad\/cut\.json: .*JSON/)
    const edited = JSON.parse(text) as {
      settings: { identity: Record<string, unknown> }
      payload: { runs: { candidate: { acc: { yTrue: unknown[] } } }[] }
    }
    edited.settings.identity.label = 'mean_radius'
    await refused(
      [state(1), write('identity.json', JSON.stringify(edited)), state(3)],
      /bad\/identity\.json: settings\.digest does not match settings\.identity/,
    )
    const rows = JSON.parse(text) as typeof edited
    rows.payload.runs[0].candidate.acc.yTrue.pop()
    await refused(
      [state(1), write('rows.json', JSON.stringify(rows)), state(3)],
      /bad\/rows\.json: payload\.runs\[0\]\.candidate\.acc\.yTrue: holds a different number of rows than rowIndex/,
    )
    const typed = JSON.parse(text) as { payload: { runs: { candidate: { acc: { probabilities: unknown } } }[] } }
    typed.payload.runs[0].candidate.acc.probabilities = [0.5]
    await refused(
      [state(1), write('typed.json', JSON.stringify(typed)), state(3)],
      /bad\/typed\.json: payload\.runs\[0\]\.candidate\.acc\.probabilities/,
    )
    // Overlapping shards: shard 3's rows relabelled as shard 2's would count rows twice.
    const s3 = JSON.parse(readFileSync(path.join(dir, state(3)), 'utf8')) as {
      payload: { runs: { candidate: { acc: { rowIndex: unknown } } }[] }
    }
    const s2 = JSON.parse(text) as typeof s3
    s3.payload.runs[0].candidate.acc.rowIndex = s2.payload.runs[0].candidate.acc.rowIndex
    const overlap = write('overlap.json', JSON.stringify(s3))
    await refused([state(1), state(2), overlap], /overlap\.json: (data row \d+ is also in another shard|payload)/)
    const report = write(
      'report.json',
      readFileSync(path.join(EXAMPLES, 'breast-cancer/modelgate.yml'), 'utf8').replace(/.*/s, '{"schemaVersion":"1.0"}'),
    )
    await refused([state(1), state(2), report], /bad\/report\.json: not a modelgate shard state/)
  })

  it('an output over a shard state file, leaving it as it was', async () => {
    const before = readFileSync(path.join(dir, state(1)), 'utf8')
    const r = await cli(['merge', ...flags, '--quiet', '--report', state(1), state(1), state(2), state(3)], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--report .*s1\.json: is a shard state, which this run reads; give the output another path/)
    expect(readFileSync(path.join(dir, state(1)), 'utf8')).toBe(before)
  })

  it('no files, an empty folder, a missing path', async () => {
    await refused([], /merge: give the shards' state files/)
    mkdirSync(path.join(dir, 'empty'))
    await refused(['empty'], /merge: no \.json files in empty/)
    await refused(['nowhere'], /nowhere: no such shard state file or folder/)
  })

  it('a shard refuses the outputs of a verdict and a shard number out of range', async () => {
    const r = await cli(['validate', ...flags, '--shard', '1/3', '--report', 'x.json'], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--report: a shard writes its state \(--shard-state\), not a report; give --report to modelgate merge/)
    expect(statSync(path.join(dir, 'x.json'), { throwIfNoEntry: false })).toBeUndefined()
    const bad = await cli(['validate', ...flags, '--shard', '4/3'], dir)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--shard: "4\/3": the shard must be from 1 to 3/)
  })
})

describe('modelgate merge gives the result of one robustness run', () => {
  // The example with its baseline model: invariance cases (with the baseline's flip rates), degradation gates
  // over every case, sensitivity per feature, stress, determinism. 200 rows: the sample is all 171.
  const dir = workspace('breast-cancer')
  const flags = ['--rows', '200', '--fail-on', 'never']

  /** What measures the run rather than the model: timings, and model calls (shards' invariance cases share no calls). */
  function comparableRobustness(r: ValidationResult): unknown {
    const copy = JSON.parse(JSON.stringify(r)) as ValidationResult
    delete (copy as Partial<ValidationResult>).context
    for (const d of copy.data) delete (d as Partial<typeof d>).performance
    for (const c of copy.checks) delete (c as Partial<typeof c>).seconds
    const rb = copy.robustness!
    for (const t of rb.tests) delete t.seconds
    const cost = rb.cost as Partial<typeof rb.cost>
    delete cost.seconds
    delete cost.modelCalls
    if (rb.baseline) delete (rb.baseline as Partial<typeof rb.baseline>).modelCalls
    copy.notes = copy.notes.filter((n) => !n.startsWith('Merged from'))
    return copy
  }

  async function robustnessShards(n: number, extra: string[], folder: string): Promise<string> {
    mkdirSync(path.join(dir, folder), { recursive: true })
    for (let i = 1; i <= n; i++) {
      const r = await cli(
        ['robustness', ...flags, ...extra, '--quiet', '--shard', `${i}/${n}`, '--shard-state', `${folder}/r${i}.json`],
        dir,
      )
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
    }
    return folder
  }

  it.each([
    [1, []],
    [2, []],
    [3, ['--baseline', 'baseline.onnx']],
    [7, ['--baseline', 'baseline.onnx']],
  ])('with %i shard(s) %j: the same tests, flip rates, intervals and verdicts', async (n, extra) => {
    const one = await cli(['robustness', ...flags, ...extra, '--report', `r-single-${n}.json`, '--quiet'], dir)
    expect(one.stderr).toBe('')
    const single = JSON.parse(readFileSync(path.join(dir, `r-single-${n}.json`), 'utf8')) as ValidationResult
    const folder = await robustnessShards(n, extra, `r-shards-${n}`)
    const merged = await merge(dir, [folder], [...flags, ...extra])
    expect(merged.stderr).toBe('')
    expect(merged.code).toBe(one.code)
    expect(comparableRobustness(merged.result!)).toEqual(comparableRobustness(single))
    expect(merged.result!.robustness!.tests.length).toBeGreaterThan(10)
    // Rows are counted as one run counts them: the clean pass once.
    expect(merged.result!.robustness!.cost.rowsScored).toBe(single.robustness!.cost.rowsScored)
    expect(merged.result!.notes.filter((x) => x.startsWith('Merged from'))).toHaveLength(1)
  })

  it('refuses shards made with another seed, a validate shard among them, and a unit run twice', async () => {
    const folder = await robustnessShards(2, [], 'r-bad')
    const seeded = await cli(['robustness', ...flags, '--seed', '5', '--quiet', '--shard', '2/2', '--shard-state', 'r-bad/seed.json'], dir)
    expect(seeded.code).toBe(0)
    const refused = async (files: string[], message: RegExp) => {
      const r = await merge(dir, files, flags)
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.result).toBeUndefined()
    }
    await refused(
      [`${folder}/r1.json`, `${folder}/seed.json`],
      /seed\.json: shard 2\/2 was made with other settings than this merge's \(they differ in robustness\.seed\)/,
    )
    mkdirSync(path.join(dir, 'v-one'))
    expect((await cli(['validate', '--quiet', '--shard', '2/2', '--shard-state', 'v-one/v2.json'], dir)).code).toBe(0)
    await refused([`${folder}/r1.json`, 'v-one/v2.json'], /v2\.json: a validate shard, but this merge is of robustness shards/)
    // Shard 2's file claiming shard 1's units as well.
    const one = JSON.parse(readFileSync(path.join(dir, folder, 'r1.json'), 'utf8')) as { payload: { units: { results: unknown[] } } }
    const two = JSON.parse(readFileSync(path.join(dir, folder, 'r2.json'), 'utf8')) as typeof one
    two.payload.units.results = two.payload.units.results.map((r, k) => r ?? one.payload.units.results[k])
    writeFileSync(path.join(dir, folder, 'twice.json'), JSON.stringify(two))
    await refused([`${folder}/r1.json`, `${folder}/twice.json`], /twice\.json: the robustness unit invariance:.* was run by 2 shards/)
    two.payload.units.results = [1, 2]
    writeFileSync(path.join(dir, folder, 'short.json'), JSON.stringify(two))
    await refused(
      [`${folder}/r1.json`, `${folder}/short.json`],
      /short\.json: payload\.units\.results: 2 units, but these settings make \d+/,
    )
  })
})
