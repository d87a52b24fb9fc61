/** Hand-worked values, the output rules of computeMetrics, and input validation. */
import { describe, it, expect } from '@jest/globals'
import * as binary from '../../src/core/metrics/binary.js'
import { computeMetrics, inferTask, metricNames, METRIC_DIRECTIONS, PERFORMANCE_METRIC_NAMES } from '../../src/core/metrics/index.js'
import * as multiclass from '../../src/core/metrics/multiclass.js'
import { latencyStats, percentile, performanceMetrics, performanceStats, rowsPerSecond } from '../../src/core/metrics/performance.js'
import * as regression from '../../src/core/metrics/regression.js'
import { sortFloat64, sortedFloat64 } from '../../src/core/metrics/sort.js'

const EPS = Number.EPSILON
/** −log(eps) = 52·ln 2: the loss of a certain, wrong prediction after clipping. */
const CLIPPED_LOSS = 52 * Math.LN2

describe('ranking metrics by hand', () => {
  it('gives scikit-learn’s documented roc_auc and average_precision example', () => {
    const y = [0, 0, 1, 1]
    const s = [0.1, 0.4, 0.35, 0.8]
    expect(binary.roc_auc(y, s)).toBe(0.75)
    // Thresholds 0.8 (P 1, R ½) and 0.35 (P ⅔, R 1): ½·1 + ½·⅔.
    expect(binary.average_precision(y, s)).toBeCloseTo(5 / 6, 15)
  })

  it('counts a tied positive/negative pair as one half in roc_auc', () => {
    // Pairs (pos, neg): (0.6, 0.2) 1, (0.6, 0.6) ½, (0.9, 0.2) 1, (0.9, 0.6) 1 → 3.5 / 4.
    expect(binary.roc_auc([0, 0, 1, 1], [0.2, 0.6, 0.6, 0.9])).toBe(0.875)
    expect(binary.roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])).toBe(0.5)
  })

  it('groups tied scores into one threshold for average_precision', () => {
    // Threshold 0.7 takes both tied rows: P ½, R ½; then 0.2: P ⅔, R 1 → ¼ + ⅓.
    expect(binary.average_precision([1, 0, 1], [0.7, 0.7, 0.2])).toBeCloseTo(7 / 12, 15)
  })

  it('gives the same roc_auc and average_precision from one shared threshold curve as from their own', () => {
    const n = 5000
    const y = Array.from({ length: n }, (_, i) => ((i * 7919) % 5 < 2 ? 1 : 0))
    // Few distinct scores (as float32 model outputs have): the curve holds one entry per distinct score.
    const s = Array.from({ length: n }, (_, i) => Math.fround(((i * 104729) % 97) / 97))
    const curve = binary.thresholdCurve(y, s)
    expect(curve.tps.length).toBe(97)
    expect(curve.tps.buffer.byteLength).toBe(97 * 8)
    expect(binary.roc_auc(y, s, curve)).toBe(binary.roc_auc(y, s))
    expect(binary.average_precision(y, s, curve)).toBe(binary.average_precision(y, s))
  })

  it('returns NaN for roc_auc with one class and 0 for average_precision with no positive, as scikit-learn', () => {
    expect(binary.roc_auc([1, 1], [0.2, 0.9])).toBeNaN()
    expect(binary.roc_auc([0, 0], [0.2, 0.9])).toBeNaN()
    expect(binary.average_precision([0, 0], [0.2, 0.9])).toBe(0)
  })

  it('is exact on a large tie-heavy input (Mann–Whitney count)', () => {
    const n = 20000
    const y = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0))
    const s = Array.from({ length: n }, (_, i) => (i % 7) / 7)
    let wins = 0
    const pos = s.filter((_, i) => y[i] === 1)
    const neg = s.filter((_, i) => y[i] === 0)
    const negAt = new Map<number, number>()
    for (const v of neg) negAt.set(v, (negAt.get(v) ?? 0) + 1)
    for (const p of pos) for (const [v, c] of negAt) wins += p > v ? c : p === v ? c / 2 : 0
    expect(binary.roc_auc(y, s)).toBe(wins / (pos.length * neg.length))
  })
})

describe('sortedFloat64', () => {
  it('orders like the built-in typed-array sort, signs, zeros, ties and magnitudes included', () => {
    let seed = 7
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const values = Array.from({ length: 5000 }, (_, i) => {
      const r = next()
      if (i % 11 === 0) return Math.round(r * 10) / 10
      if (i % 13 === 0) return -0
      if (i % 17 === 0) return 0
      return (r - 0.5) * 10 ** Math.floor(next() * 40 - 20)
    })
    values.push(Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE)
    const expected = Float64Array.from(values).sort()
    const sorted = sortedFloat64(values)
    // toEqual compares numbers with Object.is, so -0 and 0 must sit in the same places.
    expect(Array.from(sorted)).toEqual(Array.from(expected))
    expect([-0]).not.toEqual([0])
    expect(Object.is(sorted[sorted.findIndex((v) => v === 0)], -0)).toBe(true)
  })

  it('sorts a view in place of a larger buffer without touching the values around it (sortFloat64)', () => {
    // Long enough for the radix path; the view starts 3 values into its buffer.
    const whole = Float64Array.from({ length: 3000 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453)
    const before = Array.from(whole)
    const view = whole.subarray(3, 2003)
    const expected = Float64Array.from(view).sort()
    const sorted = sortFloat64(view)
    expect(Array.from(sorted)).toEqual(Array.from(expected))
    expect(sorted.length).toBe(2000)
    // Outside the view: untouched (the spare buffer, not the neighbours, takes the odd passes).
    expect(Array.from(whole.subarray(0, 3))).toEqual(before.slice(0, 3))
    expect(Array.from(whole.subarray(2003))).toEqual(before.slice(2003))
  })
})

describe('label metrics by hand', () => {
  it('predicts positive when p equals the threshold', () => {
    expect([...binary.thresholdProbabilities([0.29, 0.3, 0.31], 0.3)]).toEqual([0, 1, 1])
    expect([...binary.thresholdProbabilities([0.5, 0.49999])]).toEqual([1, 0])
  })

  it('gives 0 where scikit-learn’s zero_division="warn" applies', () => {
    const y = [1, 0, 1]
    const never = [0, 0, 0]
    expect(binary.precision(y, never)).toBe(0)
    expect(binary.recall(y, never)).toBe(0)
    expect(binary.f1(y, never)).toBe(0)
    expect(binary.mcc(y, never)).toBe(0)
    expect(binary.recall([0, 0], [1, 0])).toBe(0)
  })

  it('computes the classic counts: tp 3, fp 1, fn 2, tn 4', () => {
    const y = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    const p = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    expect(binary.binary_counts(y, p)).toEqual({ tp: 3, fp: 1, fn: 2, tn: 4 })
    expect(binary.accuracy(y, p)).toBe(0.7)
    expect(binary.precision(y, p)).toBe(0.75)
    expect(binary.recall(y, p)).toBe(0.6)
    expect(binary.f1(y, p)).toBeCloseTo(2 / 3, 15)
    expect(binary.balanced_accuracy(y, p)).toBeCloseTo((0.6 + 0.8) / 2, 15)
    expect(binary.mcc(y, p)).toBeCloseTo((3 * 4 - 1 * 2) / Math.sqrt(4 * 5 * 5 * 6), 15)
  })

  it('lays the binary confusion matrix out in sorted label order', () => {
    const y = [1, 1, 0]
    const p = [1, 0, 0]
    expect(binary.confusion_matrix(y, p, 'yes', 'no')).toEqual({
      labels: ['no', 'yes'],
      matrix: [
        [1, 0],
        [1, 1],
      ],
    })
    expect(binary.confusion_matrix(y, p, 'bad', 'good')).toEqual({
      labels: ['bad', 'good'],
      matrix: [
        [1, 1],
        [0, 1],
      ],
    })
  })

  it('averages multiclass scores as scikit-learn does', () => {
    const y = ['a', 'a', 'b', 'c']
    const p = ['a', 'b', 'b', 'b']
    // Per class: a P 1 R ½; b P ⅓ R 1; c P 0 (0/0) R 0.
    expect(multiclass.precision_macro(y, p)).toBeCloseTo(4 / 9, 15)
    expect(multiclass.recall_macro(y, p)).toBeCloseTo(0.5, 15)
    expect(multiclass.recall_weighted(y, p)).toBeCloseTo((2 * 0.5 + 1) / 4, 15)
    expect(multiclass.f1_micro(y, p)).toBe(0.5)
    expect(multiclass.balanced_accuracy(y, p)).toBeCloseTo(0.5, 15)
    expect(multiclass.confusion_matrix(y, p).matrix).toEqual([
      [1, 1, 0],
      [0, 1, 0],
      [0, 1, 0],
    ])
    expect(multiclass.per_class(y, p)[2]).toEqual({ label: 'c', precision: 0, recall: 0, f1: 0, support: 1 })
  })

  it('breaks argmax ties toward the first class, like np.argmax', () => {
    expect(multiclass.argmaxLabels(Float64Array.from([0.4, 0.4, 0.2, 0.1, 0.45, 0.45]), [7, 8, 9])).toEqual([7, 8])
  })
})

describe('probability metrics by hand', () => {
  it('clips log_loss at float64 eps (current scikit-learn rule)', () => {
    // Row 1: positive with p = 1 → −log(1 − eps); row 2: negative with p = 1 → 1 − p = 0 → −log(eps).
    const expected = (-Math.log1p(-EPS) + CLIPPED_LOSS) / 2
    expect(binary.log_loss([1, 0], [1, 1])).toBeCloseTo(expected, 14)
    expect(binary.log_loss([1], [0])).toBeCloseTo(CLIPPED_LOSS, 14)
    expect(multiclass.log_loss(['a', 'b'], Float64Array.from([1, 0, 1, 0]), ['a', 'b'])).toBeCloseTo(expected, 14)
    expect(binary.log_loss([1, 0], [0.8, 0.25])).toBeCloseTo(-(Math.log(0.8) + Math.log(0.75)) / 2, 15)
  })

  it('computes brier as the mean squared gap', () => {
    expect(binary.brier([1, 0], [0.75, 0.5])).toBe((0.0625 + 0.25) / 2)
  })

  it('bins like np.histogram(p, 10, range=(0, 1)) (indices checked against numpy 1.24)', () => {
    const numpyBins: [number, number][] = [
      [0, 0],
      [0.1, 1],
      [0.2, 2],
      [0.3, 2],
      [0.30000000000000004, 3],
      [0.5, 5],
      [0.6, 5],
      [0.7, 6],
      [0.9, 9],
      [1, 9],
    ]
    for (const [p, bin] of numpyBins) expect([p, binary.histogramBin(p, 10)]).toEqual([p, bin])
  })

  it('computes ece and mce over non-empty bins', () => {
    // Bins: {0.1 | y 0}, {0.3 | y 1}, {0.35 | y 0}, {0.95, 1 | y 1, 1}; gaps 0.1, 0.7, 0.35, 0.025.
    const { ece, mce } = binary.ece([0, 1, 0, 1, 1], [0.1, 0.3, 0.35, 0.95, 1])
    expect(ece).toBeCloseTo((0.1 + 0.7 + 0.35 + 2 * 0.025) / 5, 15)
    expect(mce).toBeCloseTo(0.7, 15)
    expect(binary.ece([1, 0], [0.6, 0.4], 1)).toEqual({ ece: 0.5 - 0.5, mce: 0 })
  })
})

describe('regression and performance by hand', () => {
  it('divides by eps in mape when the target is 0, as scikit-learn', () => {
    expect(regression.mape([0, 1], [1, 1])).toBe(1 / EPS / 2)
    expect(regression.mape([2, -4], [1, -5])).toBe(0.375)
  })

  it('follows scikit-learn’s r2 rules for a constant target and a single row', () => {
    expect(regression.r2([3, 3], [3, 3])).toBe(1)
    expect(regression.r2([3, 3], [3, 4])).toBe(0)
    expect(regression.r2([5], [4])).toBeNaN()
    expect(regression.r2([1, 2, 3], [1, 2, 4])).toBe(0.5)
  })

  it('computes the other regression metrics', () => {
    const y = [1, 2, 3]
    const p = [2, 2, 1]
    expect(regression.mae(y, p)).toBe(1)
    expect(regression.mse(y, p)).toBeCloseTo(5 / 3, 15)
    expect(regression.rmse(y, p)).toBeCloseTo(Math.sqrt(5 / 3), 15)
    expect(regression.max_error(y, p)).toBe(2)
  })

  it('interpolates percentiles like np.percentile', () => {
    const sorted = [1, 2, 3, 4]
    // np.percentile([1, 2, 3, 4], [50, 95, 99]) with numpy 1.24, printed with repr.
    expect([50, 95, 99].map((q) => percentile(sorted, q))).toEqual([2.5, 3.8499999999999996, 3.9699999999999998])
    expect(latencyStats([4, 1, 3, 2])).toMatchObject({ p50: 2.5, mean: 2.5, max: 4 })
  })

  it('reports performance stats and their metric names', () => {
    const stats = performanceStats([10, 30], { rows: 200, batchSize: 100 })
    expect(stats).toMatchObject({ batches: 2, batchSize: 100, totalSeconds: 0.04, rowsPerSecond: 5000 })
    expect(performanceStats([10, 30], { rows: 200, batchSize: 100, totalSeconds: 0.1 }).rowsPerSecond).toBe(2000)
    const metrics = performanceMetrics(stats, 1234)
    expect(Object.keys(metrics).sort()).toEqual([...PERFORMANCE_METRIC_NAMES].sort())
    expect(metrics.latency_p50_ms).toBe(20)
    expect(rowsPerSecond(1000, 2)).toBe(500)
  })
})

describe('computeMetrics output rules', () => {
  const yTrue = [0, 1, 1, 0]
  const proba = Float64Array.from([0.9, 0.1, 0.4, 0.6, 0.7, 0.3, 0.2, 0.8])
  const classes = [0, 1]

  it('uses thresholded probabilities for everything when only probabilities are given', () => {
    const r = computeMetrics('binary', { yTrue, proba, classes })
    expect(new Set(Object.values(r.sources))).toEqual(new Set(['probabilities']))
    expect(r.metrics.accuracy).toBe(0.5) // predicted [0, 1, 0, 1]
    expect(r.confusionMatrix).toEqual({
      labels: [0, 1],
      matrix: [
        [1, 1],
        [1, 1],
      ],
    })
    expect(computeMetrics('binary', { yTrue, proba, classes, threshold: 0.25 }).metrics.recall).toBe(1)
  })

  it('uses the model’s labels for label metrics when both outputs are given', () => {
    const r = computeMetrics('binary', { yTrue, yPred: [0, 1, 1, 0], proba, classes, threshold: 0.99 })
    expect(r.metrics.accuracy).toBe(1)
    expect(r.sources.accuracy).toBe('labels')
    expect(r.sources.roc_auc).toBe('probabilities')
    // Positive scores 0.6, 0.3 against negative 0.1, 0.8: each beats one of two.
    expect(r.metrics.roc_auc).toBe(0.5)
  })

  it('skips probability metrics when only labels are given', () => {
    const r = computeMetrics('binary', { yTrue, yPred: [0, 1, 0, 0] })
    expect(Object.keys(r.metrics).sort()).toEqual(['accuracy', 'balanced_accuracy', 'f1', 'mcc', 'precision', 'recall'])
    expect(r.metrics.recall).toBe(0.5)
  })

  it('defaults the positive class to classes[1], else the larger label, else 1', () => {
    const words = ['no', 'yes', 'yes']
    expect(computeMetrics('binary', { yTrue: words, yPred: ['yes', 'yes', 'yes'] }).metrics.precision).toBeCloseTo(2 / 3)
    const named = computeMetrics('binary', { yTrue: words, yPred: ['yes', 'yes', 'yes'], classes: ['yes', 'no'] })
    expect(named.metrics.precision).toBe(0)
    expect(computeMetrics('binary', { yTrue: [0, 0], yPred: [0, 1] }).metrics.precision).toBe(0)
    expect(computeMetrics('binary', { yTrue: ['a', 'b'], yPred: ['a', 'a'], positiveClass: 'a' }).metrics.recall).toBe(1)
  })

  it('leaves out a metric the data leave undefined and says why', () => {
    const r = computeMetrics('binary', { yTrue: [1, 1], proba: Float64Array.from([0.2, 0.9]) })
    expect(r.metrics.roc_auc).toBeUndefined()
    expect(r.notes).toEqual([
      'roc_auc not computed: y_true has only one class',
      'confusion matrix not computed: rows are predicted negative but no negative class is named',
    ])
    expect(r.confusionMatrix).toBeUndefined()
    const allPositive = computeMetrics('binary', { yTrue: [1, 1], proba: Float64Array.from([0.6, 0.9]) })
    expect(allPositive.confusionMatrix).toEqual({ labels: [1], matrix: [[2]] })
    const multi = computeMetrics('multiclass', {
      yTrue: ['a', 'b', 'a'],
      proba: Float64Array.from([0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.5, 0.2, 0.3]),
      classes: ['a', 'b', 'c'],
    })
    expect(multi.metrics.roc_auc_ovr).toBeUndefined()
    expect(multi.notes).toEqual(['roc_auc_ovr not computed: some class has no row in y_true'])
    expect(computeMetrics('regression', { yTrue: [1], values: Float64Array.from([2]) }).notes).toEqual([
      'r2 not computed: it needs at least two rows',
    ])
  })

  it('lists a direction for every metric name of every task', () => {
    for (const task of ['binary', 'multiclass', 'regression'] as const) {
      for (const name of metricNames(task)) expect([name, METRIC_DIRECTIONS[name]]).toEqual([name, expect.any(String)])
    }
    expect(METRIC_DIRECTIONS.log_loss).toBe('lower')
    expect(METRIC_DIRECTIONS.rows_per_second).toBe('higher')
  })
})

describe('inferTask', () => {
  it('follows its documented rule', () => {
    expect(inferTask([0, 1, 1])).toBe('binary')
    expect(inferTask(['cat', 'dog'])).toBe('binary')
    expect(inferTask([0, 1, 2])).toBe('multiclass')
    expect(inferTask(['a', 'b', 'c'])).toBe('multiclass')
    expect(inferTask([0.5, 1.5, 2.5])).toBe('regression')
    expect(inferTask(Array.from({ length: 101 }, (_, i) => i))).toBe('regression')
    expect(inferTask([0.5, 1.5, 2.5], 3)).toBe('multiclass')
    expect(inferTask([0, 1, 2], 2)).toBe('binary')
  })
})

describe('input validation', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['empty input', () => computeMetrics('binary', { yTrue: [], yPred: [] }), /yTrue is empty/],
    ['unequal lengths', () => computeMetrics('binary', { yTrue: [0, 1], yPred: [1] }), /yTrue has 2 rows but yPred has 1/],
    [
      'probability matrix of the wrong shape',
      () => computeMetrics('binary', { yTrue: [0, 1], proba: Float64Array.from([0.1, 0.9, 0.5]), classes: [0, 1] }),
      /proba has 3 values; expected 2 rows × 2 classes = 4/,
    ],
    [
      'probability outside [0, 1]',
      () => computeMetrics('binary', { yTrue: [0, 1], proba: Float64Array.from([0.1, 1.5]) }),
      /proba\[1\] = 1.5 is not a probability/,
    ],
    [
      'a third label in a binary task',
      () => computeMetrics('binary', { yTrue: [0, 1, 2], yPred: [0, 1, 1] }),
      /binary task but the data have 3 labels: \[0, 1, 2\]/,
    ],
    ['mixed label types', () => computeMetrics('binary', { yTrue: [0, 1], yPred: ['0', '1'] }), /mix numbers and strings/],
    [
      'a positive class that is not a class',
      () =>
        computeMetrics('binary', {
          yTrue: [0, 1],
          proba: Float64Array.from([0.1, 0.9, 0.5, 0.5]),
          classes: [0, 1],
          positiveClass: 2,
        }),
      /binary task but the data have 3 labels/,
    ],
    [
      'multiclass probabilities without classes',
      () => computeMetrics('multiclass', { yTrue: [0, 1, 2], proba: Float64Array.from([1, 0, 0]) }),
      /need classes/,
    ],
    [
      'a true label missing from classes',
      () => multiclass.log_loss([0, 3], Float64Array.from([1, 0, 0, 1]), [0, 1]),
      /yTrue\[1\] = 3 is not one of the classes \[0, 1\]/,
    ],
    [
      'rows that are not probabilities for roc_auc_ovr',
      () => multiclass.roc_auc_ovr([0, 1, 2], Float64Array.from([0.5, 0.5, 0.5, 0, 1, 0, 0, 0, 1]), [0, 1, 2]),
      /proba row 0 sums to 1.5/,
    ],
    [
      'string targets for regression',
      () => computeMetrics('regression', { yTrue: [1, 'x'], values: Float64Array.from([1, 2]) }),
      /yTrue\[1\] = "x": regression needs numbers/,
    ],
    ['a non-indicator', () => binary.accuracy([0, 2], [0, 1]), /yTrue\[1\] = 2: expected 1 \(positive class\) or 0/],
    ['a NaN score', () => binary.roc_auc([0, 1], [0.5, NaN]), /score\[1\] = NaN is not a finite number/],
    ['zero calibration bins', () => binary.ece([0, 1], [0.5, 0.5], 0), /bins = 0 must be a positive integer/],
    ['no predictions', () => computeMetrics('binary', { yTrue: [0, 1] }), /need the predicted labels/],
    ['zero seconds', () => rowsPerSecond(10, 0), /seconds = 0 must be a positive number/],
    ['an unknown task', () => computeMetrics('ranking' as 'binary', { yTrue: [1], yPred: [1] }), /unknown task "ranking"/],
  ]

  it.each(cases)('rejects %s', (_what, call, message) => {
    expect(call).toThrow(message)
  })
})
