/**
 * The metric catalogue against what the code computes: every metric `computeMetrics`, `performanceMetrics`
 * and the weighted kernels produce has exactly one entry, with the tasks, order and needs they show.
 */
import { describe, it, expect } from '@jest/globals'
import type { ScoredRows } from '../../src/core/evaluation/types.js'
import * as binary from '../../src/core/metrics/binary.js'
import {
  METRIC_CATALOGUE,
  METRIC_DIRECTIONS,
  PERFORMANCE_METRIC_NAMES,
  metricNames,
  metricsNeeding,
} from '../../src/core/metrics/catalog.js'
import { computeMetrics, type MetricsInput } from '../../src/core/metrics/index.js'
import * as multiclass from '../../src/core/metrics/multiclass.js'
import { performanceMetrics, performanceStats } from '../../src/core/metrics/performance.js'
import { REGRESSION_METRICS } from '../../src/core/metrics/regression.js'
import type { Task } from '../../src/core/result/types.js'
import { supportsWeightedMetric, weightedMetric, WEIGHTED_METRICS, WEIGHTED_METRICS_BY_TASK } from '../../src/core/stats/weighted.js'

const TASKS: Task[] = ['binary', 'multiclass', 'regression']
const NAMES = Object.keys(METRIC_CATALOGUE)
const quality = (task: Task) => metricNames(task).filter((m) => !PERFORMANCE_METRIC_NAMES.includes(m))

/** Inputs from which each task computes every metric it has. */
const FULL: Record<Task, MetricsInput> = {
  binary: {
    yTrue: [0, 1, 1, 0, 1],
    yPred: [0, 1, 0, 0, 1],
    proba: Float64Array.from([0.8, 0.2, 0.3, 0.7, 0.6, 0.4, 0.9, 0.1, 0.2, 0.8]),
    classes: [0, 1],
  },
  multiclass: {
    yTrue: ['a', 'b', 'c', 'a', 'c'],
    proba: Float64Array.from([0.7, 0.2, 0.1, 0.2, 0.5, 0.3, 0.1, 0.3, 0.6, 0.4, 0.4, 0.2, 0.3, 0.3, 0.4]),
    classes: ['a', 'b', 'c'],
  },
  regression: { yTrue: [1, 2, 3.5, 4], values: Float64Array.from([1.5, 2, 3, 5]) },
}

describe('the metric catalogue', () => {
  it('has one entry per metric computeMetrics reports, in the order it reports them', () => {
    for (const task of TASKS) {
      expect([task, Object.keys(computeMetrics(task, FULL[task]).metrics)]).toEqual([task, quality(task)])
    }
  })

  it('lists the performance metrics performanceMetrics produces, for every task, last', () => {
    const stats = performanceStats([10, 30], { rows: 200, batchSize: 100 })
    expect(Object.keys(performanceMetrics(stats, 1234))).toEqual(PERFORMANCE_METRIC_NAMES)
    for (const task of TASKS) expect(metricNames(task).slice(-PERFORMANCE_METRIC_NAMES.length)).toEqual(PERFORMANCE_METRIC_NAMES)
    for (const name of PERFORMANCE_METRIC_NAMES)
      expect(METRIC_CATALOGUE[name]).toMatchObject({ tasks: TASKS, needs: 'run', weighted: false })
  })

  it('gives every entry a direction, tasks, needs and a definition', () => {
    for (const name of NAMES) {
      const e = METRIC_CATALOGUE[name]
      expect([name, e.better]).toEqual([name, expect.stringMatching(/^(higher|lower)$/)])
      expect([name, e.needs]).toEqual([name, expect.stringMatching(/^(labels|probabilities|values|run)$/)])
      expect([name, e.definition.length > 0, e.tasks.length > 0]).toEqual([name, true, true])
      for (const task of e.tasks) expect(TASKS).toContain(task)
    }
  })

  it('names each metric of a task once', () => {
    for (const task of TASKS) expect(new Set(metricNames(task)).size).toBe(metricNames(task).length)
    expect(new Set(TASKS.flatMap(metricNames))).toEqual(new Set(NAMES))
  })

  it('derives METRIC_DIRECTIONS: binary’s metrics, then the multiclass-only, the regression ones, the performance ones', () => {
    const expected = [...new Set(TASKS.flatMap(quality)), ...PERFORMANCE_METRIC_NAMES]
    expect(Object.keys(METRIC_DIRECTIONS)).toEqual(expected)
    for (const name of NAMES) expect(METRIC_DIRECTIONS[name]).toBe(METRIC_CATALOGUE[name].better)
  })

  it('says what each metric needs, as computeMetrics shows it', () => {
    const labelsOnly = computeMetrics('binary', { yTrue: FULL.binary.yTrue, yPred: FULL.binary.yPred })
    expect(Object.keys(labelsOnly.metrics)).toEqual(metricsNeeding('binary', 'labels'))
    const full = computeMetrics('binary', FULL.binary)
    for (const name of metricsNeeding('binary', 'probabilities')) expect([name, full.sources[name]]).toEqual([name, 'probabilities'])
    expect(metricsNeeding('multiclass', 'probabilities')).toEqual(['roc_auc_ovr', 'log_loss'])
    expect(metricsNeeding('regression', 'values')).toEqual(quality('regression'))
  })

  it('names the count formulas and implementations the metrics module has, no more, no fewer', () => {
    expect(Object.keys(binary.BINARY_COUNT_METRICS)).toEqual(metricsNeeding('binary', 'labels'))
    expect(Object.keys(multiclass.MULTICLASS_COUNT_METRICS)).toEqual(metricsNeeding('multiclass', 'labels'))
    expect(Object.keys(REGRESSION_METRICS)).toEqual(metricsNeeding('regression', 'values'))
    const exported: Record<string, Record<string, unknown>> = { binary, multiclass }
    for (const task of ['binary', 'multiclass'] as const) {
      for (const name of metricsNeeding(task, 'labels')) expect([task, name, typeof exported[task][name]]).toEqual([task, name, 'function'])
    }
  })

  it('says which metrics have a weighted kernel, and each of them computes', () => {
    for (const task of TASKS) {
      expect(WEIGHTED_METRICS_BY_TASK[task]).toEqual(metricNames(task).filter((m) => METRIC_CATALOGUE[m].weighted))
      for (const name of NAMES) {
        const e = METRIC_CATALOGUE[name]
        expect([task, name, supportsWeightedMetric(name, task)]).toEqual([task, name, e.weighted && e.tasks.includes(task)])
      }
    }
    expect(new Set(WEIGHTED_METRICS)).toEqual(new Set(NAMES.filter((m) => METRIC_CATALOGUE[m].weighted)))
    const rows: Record<Task, ScoredRows> = {
      binary: {
        n: 4,
        task: 'binary',
        classes: [0, 1],
        positiveIndex: 1,
        yTrue: Int32Array.from([0, 1, 1, 0]),
        candidate: { score: Float64Array.from([0.2, 0.7, 0.4, 0.1]) },
        columns: {},
      },
      multiclass: {
        n: 3,
        task: 'multiclass',
        classes: ['a', 'b', 'c'],
        yTrue: Int32Array.from([0, 1, 2]),
        candidate: { proba: Float64Array.from([0.6, 0.2, 0.2, 0.3, 0.5, 0.2, 0.1, 0.3, 0.6]) },
        columns: {},
      },
      regression: {
        n: 3,
        task: 'regression',
        yValue: Float64Array.from([1, 2, 4]),
        candidate: { values: Float64Array.from([1, 3, 3]) },
        columns: {},
      },
    }
    for (const task of TASKS) {
      for (const name of WEIGHTED_METRICS_BY_TASK[task]) {
        expect([task, name, Number.isFinite(weightedMetric(name, rows[task], 'candidate', null))]).toEqual([task, name, true])
      }
    }
  })
})
