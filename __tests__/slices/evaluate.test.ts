import { describe, expect, it } from '@jest/globals'
import type { Cell } from '../../src/core/data/types.js'
import { UserError } from '../../src/core/errors.js'
import { computeMetrics, METRIC_DIRECTIONS } from '../../src/core/metrics/index.js'
import { bootstrap, deltaStatistic } from '../../src/core/stats/bootstrap.js'
import type { BootstrapOptions } from '../../src/core/stats/types.js'
import { evaluateSlices } from '../../src/core/slices/evaluate.js'
import { describeSlice, sliceMask } from '../../src/core/slices/mask.js'
import { indicesOf, subsetRows } from '../../src/core/slices/measure.js'
import { slicesSchema, type SlicesInput } from '../../src/core/slices/schema.js'
import { binaryRows, block, regressionRows } from './rows.js'

const QUICK: BootstrapOptions = { resamples: 400, confidence: 0.95, method: 'percentile', seed: 11 }
const direction = (m: string) => METRIC_DIRECTIONS[m]
const config = (c: SlicesInput) => slicesSchema.parse(c)
const f3 = (x: number) => x.toFixed(3)

/*
 * 100 rows. sex: 0–29 "F" (27 of 30 right), 30–79 "M" (48 of 50), 80–89 "f" (5 of 10), 90–99 missing (10 of 10).
 * age = 15 + (row mod 40), missing on rows 95–99.
 */
function people() {
  const parts = [block(30, 27), block(50, 48), block(10, 5), block(10, 10)]
  const y = parts.flatMap((p) => p.y)
  const pred = parts.flatMap((p) => p.pred)
  const score = y.map((v, i) => (v === 1 ? 0.35 + ((i * 7) % 11) / 20 : 0.1 + ((i * 5) % 13) / 20))
  const sex: Cell[] = y.map((_, i) => (i < 30 ? 'F' : i < 80 ? 'M' : i < 90 ? 'f' : null))
  const age: Cell[] = y.map((_, i) => (i >= 95 ? null : 15 + (i % 40)))
  return { y, pred, score, columns: { sex, age } }
}

const rowsOf = (mask: Uint8Array) => [...indicesOf(mask)]

describe('slice masks', () => {
  const { columns } = people()
  const mask = (def: SlicesInput['define'] extends (infer D)[] | undefined ? D : never) =>
    rowsOf(sliceMask(config({ define: [def] }).define[0], columns, 100, 'test', 0))

  it('selects rows by equals, in, range and where; missing values never match', () => {
    expect(mask({ name: 'w', column: 'sex', equals: 'F' })).toEqual(Array.from({ length: 30 }, (_, i) => i))
    expect(mask({ name: 'w', column: 'sex', in: ['f', 'F'] })).toHaveLength(40)
    const young = mask({ name: 'y', column: 'age', range: [18, 30] })
    expect(young).toHaveLength(36)
    expect(young.slice(0, 13)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 43])
    expect(mask({ name: 'o', column: 'age', range: [50, null] })).toEqual([35, 36, 37, 38, 39, 75, 76, 77, 78, 79])
    expect(mask({ name: 'o', column: 'age', range: [null, 16] })).toEqual([0, 40, 80])
    expect(mask({ name: 'm', where: 'age >= 50 and sex == "M"' })).toEqual([35, 36, 37, 38, 39, 75, 76, 77, 78, 79])
    // Rows 95–99 have no age: in neither the slice nor its negation.
    const old = mask({ name: 'a', where: 'age >= 30' })
    const notYoung = mask({ name: 'b', where: 'not (age < 30)' })
    expect(notYoung).toEqual(old)
    expect(old).toHaveLength(50)
    expect(old.some((r) => r >= 95)).toBe(false)
    expect(mask({ name: 'i', where: 'sex in ("f", "M") and age < 16' })).toEqual([40, 80])
  })

  it('matches a number and its text, and compares booleans with true and false', () => {
    const cols = { code: [1, '1', 2, null, '2'] as Cell[], flag: [true, false, null, true, false] as Cell[] }
    const m = (def: SlicesInput['define'] extends (infer D)[] | undefined ? D : never) =>
      rowsOf(sliceMask(config({ define: [def] }).define[0], cols, 5, 'test', 0))
    expect(m({ name: 'c', column: 'code', equals: '1' })).toEqual([0, 1])
    expect(m({ name: 'c', column: 'code', in: [2] })).toEqual([2, 4])
    expect(m({ name: 'f', column: 'flag', equals: true })).toEqual([0, 3])
    expect(m({ name: 'f', where: 'flag == true' })).toEqual([0, 3])
    expect(m({ name: 'f', where: 'not flag' })).toEqual([1, 4])
  })

  it('names the slice, the row and the reason when a value does not fit', () => {
    const bad = (def: SlicesInput['define'] extends (infer D)[] | undefined ? D : never) => {
      try {
        sliceMask(config({ define: [def] }).define[0], columns, 100, 'test', 3)
      } catch (e) {
        return e as UserError
      }
      throw new Error('expected an error')
    }
    const e = bad({ name: 'odd', where: 'sex > 3' })
    expect(e).toBeInstanceOf(UserError)
    expect(e.message).toBe(
      'data set "test": slice "odd": "sex > 3" cannot be evaluated on data row 1: Expected a number, but got a text instead.',
    )
    expect(e.field).toBe('slices.define[3].where')
    const r = bad({ name: 'sex range', column: 'sex', range: [1, 2] })
    expect(r.message).toBe('data set "test": slice "sex range": column "sex" holds "F" on data row 1; a range needs numbers')
    expect(r.field).toBe('slices.define[3].range')
    expect(bad({ name: 'gone', where: 'sex == "F" and height > 2' }).message).toBe(
      'data set "test": slice "gone": column "height" was not kept for slices',
    )
  })

  it('describes each rule in words', () => {
    const d = config({
      define: [
        { name: 'a', where: ' x > 1 ' },
        { name: 'b', column: 'sex', equals: 'F' },
        { name: 'c', column: 'sex', in: ['F', 'f'] },
        { name: 'd', column: 'age', range: [18, 30] },
        { name: 'e', column: 'age', range: [null, 30] },
        { name: 'f', column: 'age', range: [65, null] },
        { name: 'g', column: 'n', equals: 3 },
      ],
    }).define.map(describeSlice)
    expect(d).toEqual(['x > 1', 'sex == "F"', 'sex in ("F", "f")', 'age in [18, 30)', 'age < 30', 'age >= 65', 'n == 3'])
  })
})

describe('evaluateSlices', () => {
  const p = people()
  const rows = binaryRows({ y: p.y, pred: p.pred, score: p.score, columns: p.columns })
  const cfg = config({
    define: [
      { name: 'women', column: 'sex', equals: 'F', thresholds: ['accuracy >= 0.95', 'roc_auc >= 0.5 warn', 'accuracy >= baseline - 0.02'] },
      { name: 'women, any case', column: 'sex', in: ['F', 'f'], thresholds: ['accuracy > 0.8 warn'] },
      { name: 'old men', where: 'age >= 50 and sex == "M"', thresholds: ['accuracy >= 0.9'] },
    ],
  })
  const result = evaluateSlices(rows, 'test', cfg, QUICK, direction)

  /** The metrics src/core/metrics computes on those rows alone. */
  function reference(index: number[]) {
    return computeMetrics('binary', {
      yTrue: index.map((i) => p.y[i]),
      yPred: index.map((i) => p.pred[i]),
      proba: Float64Array.from(index.flatMap((i) => [1 - p.score[i], p.score[i]])),
      classes: [0, 1],
    }).metrics
  }

  it('measures each slice: rows, the headline metrics with intervals, gated at min-size', () => {
    const [women, anyCase, oldMen] = result.slices
    expect(women).toMatchObject({ dataset: 'test', name: 'women', definition: 'sex == "F"', source: 'manifest', rows: 30, gated: true })
    expect(Object.keys(women.metrics)).toEqual(['accuracy', 'roc_auc'])
    expect(women.metrics.accuracy).toBe(0.9)
    const ref = reference(Array.from({ length: 30 }, (_, i) => i))
    expect(women.metrics.roc_auc).toBeCloseTo(ref.roc_auc, 12)
    expect(anyCase.rows).toBe(40)
    expect(anyCase.metrics.accuracy).toBe(32 / 40)
    expect(oldMen).toMatchObject({ rows: 10, gated: false, definition: 'age >= 50 and sex == "M"' })
    expect(oldMen.metrics.accuracy).toBeCloseTo(reference([35, 36, 37, 38, 39, 75, 76, 77, 78, 79]).accuracy, 15)
    expect(women.baseline).toBeUndefined()
    for (const s of result.slices) {
      for (const m of Object.keys(s.metrics)) {
        const ci = s.intervals[m]
        expect(ci).toMatchObject({ confidence: 0.95, method: 'percentile', resamples: 400 })
        expect(ci.low).toBeLessThanOrEqual(s.metrics[m])
        expect(ci.high).toBeGreaterThanOrEqual(s.metrics[m])
      }
    }
    expect(women.intervals.accuracy.low).toBeLessThan(0.9)
  })

  it('gates each slice threshold, with messages a reviewer understands', () => {
    const byId = Object.fromEntries(result.checks.map((c) => [c.id, c]))
    expect(Object.keys(byId)).toEqual([
      'slice/test/women/accuracy>=0.95',
      'slice/test/women/roc_auc>=0.5',
      'slice/test/women/accuracy>=baseline-0.02',
      'slice/test/women, any case/accuracy>0.8',
      'slice/test/old men/accuracy>=0.9',
    ])
    const women = result.slices[0]
    const ci = (m: string) => `95% CI [${f3(women.intervals[m].low)}, ${f3(women.intervals[m].high)}]`
    expect(byId['slice/test/women/accuracy>=0.95']).toEqual({
      id: 'slice/test/women/accuracy>=0.95',
      kind: 'slice',
      dataset: 'test',
      status: 'fail',
      severity: 'fail',
      metric: 'accuracy',
      value: 0.9,
      threshold: { op: '>=', value: 0.95, expression: 'accuracy >= 0.95' },
      message: `slice "women" (n = 30): accuracy 0.900, ${ci('accuracy')}, below 0.95`,
    })
    expect(byId['slice/test/women/roc_auc>=0.5']).toMatchObject({
      status: 'pass',
      severity: 'warn',
      message: `slice "women" (n = 30): roc_auc ${f3(women.metrics.roc_auc)}, ${ci('roc_auc')}, meets >= 0.5`,
    })
    expect(byId['slice/test/women/accuracy>=baseline-0.02']).toMatchObject({
      status: 'skipped',
      baseline: null,
      message: 'slice "women" (n = 30): no baseline model scored these rows: accuracy >= baseline - 0.02 skipped',
    })
    expect(byId['slice/test/women, any case/accuracy>0.8']).toMatchObject({ status: 'warn', value: 0.8 })
    expect(byId['slice/test/women, any case/accuracy>0.8'].message).toMatch(/: accuracy 0\.800, 95% CI \[.*\], not above 0\.8$/)
    expect(byId['slice/test/old men/accuracy>=0.9']).toMatchObject({
      status: 'skipped',
      message: 'slice "old men" (n = 10): fewer rows than min-size 30, reported but not gated: accuracy >= 0.9 skipped',
    })
  })

  it('is the same for the same seed', () => {
    expect(evaluateSlices(rows, 'test', cfg, QUICK, direction)).toEqual(result)
    const other = evaluateSlices(rows, 'test', cfg, { ...QUICK, seed: 12 }, direction)
    expect(other.slices.map((s) => s.metrics)).toEqual(result.slices.map((s) => s.metrics))
    expect(other.slices[0].intervals.roc_auc).not.toEqual(result.slices[0].intervals.roc_auc)
  })

  it('reports an empty slice, gating nothing on it', () => {
    const r = evaluateSlices(
      rows,
      'test',
      config({ 'min-size': 1, define: [{ name: 'none', column: 'sex', equals: 'X', thresholds: ['accuracy >= 0.5'] }] }),
      QUICK,
      direction,
    )
    expect(r.slices[0]).toMatchObject({ rows: 0, gated: false, metrics: {}, intervals: {} })
    expect(r.checks[0]).toMatchObject({ status: 'skipped', value: null })
  })

  it('says a metric is not available on a slice that cannot have it', () => {
    // Slice "a" has negatives only: ROC AUC is undefined there.
    const neg = evaluateSlices(
      binaryRows({ y: [0, 0, 1], pred: [0, 1, 1], score: [0.1, 0.6, 0.9], columns: { g: ['a', 'a', 'b'] } }),
      'test',
      config({ 'min-size': 1, define: [{ name: 'a', column: 'g', equals: 'a', thresholds: ['roc_auc >= 0.5'] }] }),
      QUICK,
      direction,
    )
    expect(neg.slices[0].metrics).toEqual({ accuracy: 0.5 })
    expect(neg.checks[0]).toMatchObject({
      status: 'fail',
      value: null,
      message: 'slice "a" (n = 2): roc_auc is not available: roc_auc is undefined on the slice\'s rows (e.g. one class only)',
    })
  })

  it('uses mae and rmse by default for regression', () => {
    const reg = regressionRows({ y: [1, 2, 3, 4, 5, 6], values: [1.5, 2, 2, 4, 9, 6], columns: { g: ['a', 'a', 'a', 'b', 'b', 'b'] } })
    const r = evaluateSlices(
      reg,
      'test',
      config({ 'min-size': 3, define: [{ name: 'a', column: 'g', equals: 'a', thresholds: ['mae <= 0.4'] }] }),
      QUICK,
      direction,
    )
    expect(r.slices[0].metrics).toEqual({ mae: 0.5, rmse: Math.sqrt((0.25 + 0 + 1) / 3) })
    expect(r.checks[0]).toMatchObject({ status: 'fail', value: 0.5 })
    expect(r.checks[0].message).toMatch(/^slice "a" \(n = 3\): mae 0\.500, 95% CI \[.*\], above 0\.4$/)
  })
})

describe('max-regression against the baseline', () => {
  /*
   * A (200 rows): the candidate wrong on 60, the baseline on 10 of those: clearly worse (−0.25).
   * B (40 rows): the candidate wrong on rows 0–5, the baseline on rows 4–7: −0.05, but on 6 discordant rows.
   * C (100 rows): both the same. D (10 rows): below min-size.
   */
  function regressed() {
    const y: number[] = []
    const cand: number[] = []
    const base: number[] = []
    const g: Cell[] = []
    const add = (group: string, count: number, candWrong: (i: number) => boolean, baseWrong: (i: number) => boolean) => {
      for (let i = 0; i < count; i++) {
        const v = i % 2
        y.push(v)
        cand.push(candWrong(i) ? 1 - v : v)
        base.push(baseWrong(i) ? 1 - v : v)
        g.push(group)
      }
    }
    add(
      'A',
      200,
      (i) => i < 60,
      (i) => i < 10,
    )
    add(
      'B',
      40,
      (i) => i < 6,
      (i) => i >= 4 && i < 8,
    )
    add(
      'C',
      100,
      (i) => i % 20 === 0,
      (i) => i % 20 === 0,
    )
    add(
      'D',
      10,
      (i) => i < 5,
      () => false,
    )
    return binaryRows({ y, pred: cand, baselinePred: base, columns: { g } })
  }
  const rows = regressed()
  const opts: BootstrapOptions = { resamples: 1000, confidence: 0.95, method: 'percentile', seed: 5 }
  const cfg = config({
    'max-regression': 0.02,
    metrics: ['accuracy'],
    define: ['A', 'B', 'C', 'D'].map((name) => ({ name, column: 'g', equals: name })),
  })
  const result = evaluateSlices(rows, 'test', cfg, opts, direction)
  const byName = Object.fromEntries(result.checks.map((c) => [c.id.split('/')[2], c]))

  /** p of the B test, from the paired bootstrap of its rows directly. */
  function pOfB(): number {
    const mask = new Uint8Array(rows.n)
    for (let i = 200; i < 240; i++) mask[i] = 1
    const sub = subsetRows(rows, indicesOf(mask))
    const reps = bootstrap(sub.n, deltaStatistic('accuracy', sub), opts).replicates
    return (1 + reps.filter((r) => r >= -0.02 - 1e-12).length) / (1 + reps.length)
  }

  it('fails the clearly regressed slice and not the noisy one, after Benjamini–Hochberg', () => {
    expect(result.checks.map((c) => [c.id, c.status])).toEqual([
      ['slice/test/A/max-regression:accuracy', 'fail'],
      ['slice/test/B/max-regression:accuracy', 'pass'],
      ['slice/test/C/max-regression:accuracy', 'pass'],
      ['slice/test/D/max-regression:accuracy', 'skipped'],
    ])
    expect(result.slices.map((s) => s.baseline)).toEqual([{ accuracy: 0.95 }, { accuracy: 0.9 }, { accuracy: 0.95 }, { accuracy: 1 }])
    const a = byName.A
    expect(a).toMatchObject({
      kind: 'slice',
      metric: 'accuracy',
      value: 0.7,
      baseline: 0.95,
      threshold: { op: '>=', value: 0.95 - 0.02, expression: 'accuracy >= baseline - 0.02' },
    })
    // A: every replicate is far below −0.02, so p = 1/1001; three tests, so BH multiplies it by 3.
    expect(a.message).toMatch(
      /^slice "A" \(n = 200\): accuracy 0\.700 vs baseline 0\.950 \(−0\.250, 95% CI \[−0\.3\d\d, −0\.1\d\d\]\); worse than the baseline by more than 0\.02: p = 0\.001, BH-adjusted 0\.003 ≤ fdr 0\.05$/,
    )
    const p = pOfB()
    expect(p).toBeGreaterThan(0.05)
    const adjusted = Math.min(1, Math.min((p * 3) / 2, 1))
    const two = (x: number) => String(Number(x.toPrecision(2)))
    expect(byName.B.message).toMatch(
      new RegExp(
        `^slice "B" \\(n = 40\\): accuracy 0\\.850 vs baseline 0\\.900 \\(−0\\.050, .*\\); no significant regression beyond 0\\.02: p = ${two(p)}, BH-adjusted ${two(adjusted)} > fdr 0\\.05$`,
      ),
    )
    expect(byName.C.message).toMatch(/: p = 1, BH-adjusted 1 > fdr 0\.05$/)
    expect(byName.D.message).toBe(
      'slice "D" (n = 10): fewer rows than min-size 30, reported but not gated: max-regression 0.02 on accuracy skipped',
    )
  })

  it('does not fail a slice whose p is below the level alone once the family is corrected', () => {
    // E (60 rows): the candidate wrong on 5, the baseline on none: p ≈ 0.037 for seed 5.
    const y = Array.from({ length: 60 }, (_, i) => i % 2)
    const e = binaryRows({ y, pred: y.map((v, i) => (i < 5 ? 1 - v : v)), baselinePred: y, columns: { g: y.map(() => 'E') } })
    const all = {
      ...rows,
      n: rows.n + 60,
      yTrue: Int32Array.from([...rows.yTrue!, ...e.yTrue!]),
      candidate: { predIndex: Int32Array.from([...rows.candidate.predIndex!, ...e.candidate.predIndex!]) },
      baseline: { predIndex: Int32Array.from([...rows.baseline!.predIndex!, ...e.baseline!.predIndex!]) },
      columns: { g: [...rows.columns.g, ...e.columns.g] },
    }
    const alone = evaluateSlices(all, 'test', config({ ...cfg, define: [{ name: 'E', column: 'g', equals: 'E' }] }), opts, direction)
    expect(alone.checks[0].status).toBe('fail')
    const p = Number(/p = ([0-9.]+),/.exec(alone.checks[0].message)![1])
    expect(p).toBeGreaterThan(0.01)
    expect(p).toBeLessThan(0.05)
    const family = evaluateSlices(
      all,
      'test',
      config({ ...cfg, define: ['B', 'C', 'E'].map((name) => ({ name, column: 'g', equals: name })) }),
      opts,
      direction,
    )
    expect(family.checks.map((c) => c.status)).toEqual(['pass', 'pass', 'pass'])
    expect(family.checks[2].message).toContain(`p = ${p}, BH-adjusted ${Number((p * 3).toPrecision(2))} > fdr 0.05`)
  })

  it('orients lower-is-better metrics', () => {
    // Errors 0 for the baseline everywhere; the candidate is off by 1 on group a, by 0.01 on group b.
    const n = 60
    const y = Array.from({ length: n }, (_, i) => i)
    const g: Cell[] = y.map((i) => (i < 30 ? 'a' : 'b'))
    const reg = regressionRows({ y, values: y.map((v, i) => v + (i < 30 ? 1 + (i % 3) * 0.1 : 0.01)), columns: { g } })
    reg.baseline = { values: Float64Array.from(y) }
    const r = evaluateSlices(
      reg,
      'test',
      config({
        'max-regression': 0.1,
        metrics: ['mae'],
        define: [
          { name: 'a', column: 'g', equals: 'a' },
          { name: 'b', column: 'g', equals: 'b' },
        ],
      }),
      opts,
      direction,
    )
    expect(r.checks.map((c) => c.status)).toEqual(['fail', 'pass'])
    expect(r.checks[0].threshold).toEqual({ op: '<=', value: 0.1, expression: 'mae <= baseline + 0.1' })
    expect(r.checks[1].value).toBeCloseTo(0.01, 12)
  })

  it('skips the test once when no baseline model scored the rows', () => {
    const noBaseline = { ...rows, baseline: undefined }
    const r = evaluateSlices(noBaseline, 'test', cfg, opts, direction)
    expect(r.checks).toEqual([
      {
        id: 'slice/test/max-regression',
        kind: 'slice',
        dataset: 'test',
        status: 'skipped',
        severity: 'fail',
        value: null,
        message: 'no baseline model scored data set "test": slice max-regression 0.02 skipped',
      },
    ])
  })
})
