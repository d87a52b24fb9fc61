/**
 * Every metric against scikit-learn 1.2.1 on the same predictions. The fixture is made by
 * scripts/fixtures/make_metric_fixtures.py (see its header); tests never need Python.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, it, expect } from '@jest/globals'
import { computeMetrics, metricNames, type Label, type MetricsInput } from '../../src/core/metrics/index.js'
import { latencyStats } from '../../src/core/metrics/performance.js'
import type { ConfusionMatrix, PerClassRow, Task } from '../../src/core/result/types.js'

interface FixtureCase {
  name: string
  note: string
  task: Task
  input: {
    yTrue: Label[]
    yPred?: Label[]
    proba?: number[]
    classes?: Label[]
    values?: number[]
    positiveClass?: Label
    threshold?: number
    eceBins?: number
  }
  expected: { metrics: Record<string, number>; confusionMatrix?: ConfusionMatrix; perClass?: PerClassRow[] }
}

interface Fixture {
  sklearn: string
  cases: FixtureCase[]
  performance: { durationsMs: number[]; expected: Record<'p50' | 'p95' | 'p99' | 'mean' | 'max', number> }[]
}

const fixture = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/metrics/sklearn-reference.json', import.meta.url)), 'utf8'),
) as Fixture

const TOLERANCE = 1e-9

function toInput(c: FixtureCase): MetricsInput {
  const { proba, values, ...rest } = c.input
  return {
    ...rest,
    ...(proba && { proba: Float64Array.from(proba) }),
    ...(values && { values: Float64Array.from(values) }),
  }
}

function expectClose(actual: Record<string, number>, expected: Record<string, number>): void {
  for (const [name, value] of Object.entries(expected)) {
    const got = actual[name]
    if (!(Math.abs(got - value) <= TOLERANCE)) {
      throw new Error(`${name}: got ${got}, scikit-learn gives ${value} (difference ${Math.abs(got - value)})`)
    }
  }
}

describe('metrics equal scikit-learn', () => {
  it('was generated with scikit-learn 1.2.1 and covers every task', () => {
    expect(fixture.sklearn).toBe('1.2.1')
    expect(new Set(fixture.cases.map((c) => c.task))).toEqual(new Set(['binary', 'multiclass', 'regression']))
  })

  describe.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const result = computeMetrics(c.task, toInput(c))

    it('reports exactly the expected metrics', () => {
      expect(Object.keys(result.metrics).sort()).toEqual(Object.keys(c.expected.metrics).sort())
      expect(result.notes).toEqual([])
    })

    it('matches every value within 1e-9', () => {
      expectClose(result.metrics, c.expected.metrics)
    })

    it('names only metrics that metricNames lists', () => {
      const known = new Set(metricNames(c.task))
      for (const name of Object.keys(result.metrics)) expect(known.has(name)).toBe(true)
    })

    if (c.expected.confusionMatrix) {
      it('has scikit-learn’s confusion matrix', () => {
        expect(result.confusionMatrix).toEqual(c.expected.confusionMatrix)
      })
    }

    if (c.expected.perClass) {
      it('has scikit-learn’s per-class table', () => {
        const expected = c.expected.perClass ?? []
        expect(result.perClass?.map((r) => [r.label, r.support])).toEqual(expected.map((r) => [r.label, r.support]))
        result.perClass?.forEach((row, i) => {
          const { precision, recall, f1 } = expected[i]
          expectClose({ precision: row.precision, recall: row.recall, f1: row.f1 }, { precision, recall, f1 })
        })
      })
    }
  })

  it.each(fixture.performance.map((p) => [p.durationsMs.length, p] as const))(
    'latency statistics of %i batches equal np.percentile, mean and max',
    (_n, p) => {
      expectClose({ ...latencyStats(p.durationsMs) }, p.expected)
    },
  )
})
