/** The prediction accumulator's storage: probabilities kept as float32 only where that changes no value. */
import { describe, expect, it } from '@jest/globals'
import { GrowableFloat64, GrowableFloats, LabelList, PredictionAccumulator } from '../../src/core/validate/accumulate.js'
import type { PredictionBatch } from '../../src/core/runners/types.js'

describe('GrowableFloats', () => {
  it('holds float32-exact values as float32, across growth, -0 and subnormals included', () => {
    const g = new GrowableFloats()
    const values = Float64Array.from({ length: 10_000 }, (_, i) => Math.fround(Math.sin(i) * 0.5 + 0.5))
    values[3] = -0
    values[4] = Math.fround(1e-40)
    for (let i = 0; i < values.length; i += 777) g.append(values.subarray(i, i + 777))
    const view = g.view()
    expect(view).toBeInstanceOf(Float32Array)
    expect(Array.from(view)).toEqual(Array.from(values))
    expect(Object.is(view[3], -0)).toBe(true)
  })

  it('widens to float64 at the first value float32 would round, keeping every value before it', () => {
    const g = new GrowableFloats()
    const before = Float64Array.from({ length: 5000 }, (_, i) => Math.fround(i / 5000))
    g.append(before)
    g.append([0.1])
    g.append([Math.fround(0.25), 1 / 3])
    const view = g.view()
    expect(view).toBeInstanceOf(Float64Array)
    expect(Array.from(view)).toEqual([...before, 0.1, 0.25, 1 / 3])
  })

  it('widens on NaN rather than keep a value it cannot compare', () => {
    const g = new GrowableFloats()
    g.append([0.5, NaN])
    expect(g.view()).toBeInstanceOf(Float64Array)
    expect(Number.isNaN(g.view()[1])).toBe(true)
  })
})

describe('GrowableFloat64', () => {
  it('stays float64 even for values float32 holds (row indices, regression values)', () => {
    const g = new GrowableFloat64(4)
    g.append([0.5, 1, 2])
    g.append(Float64Array.of(3, 2 ** 24 + 1))
    const view = g.view()
    expect(view).toBeInstanceOf(Float64Array)
    expect(Array.from(view)).toEqual([0.5, 1, 2, 3, 2 ** 24 + 1])
  })
})

describe('PredictionAccumulator', () => {
  const batch = (probabilities: Float64Array): PredictionBatch => ({
    length: probabilities.length / 2,
    probabilities,
    classes: [0, 1],
    sources: { probabilities: 'probabilities' },
  })

  it('gives the metrics the probabilities a model returned, bit for bit, at either precision', () => {
    const f32 = Float64Array.from({ length: 8192 }, (_, i) => (i % 2 === 0 ? Math.fround((i % 97) / 97) : 0))
    for (let i = 0; i < f32.length; i += 2) f32[i + 1] = Math.fround(1 - f32[i])
    const f64 = Float64Array.from(f32, (v, i) => (i === 10 ? v + 1e-12 : v))
    for (const probabilities of [f32, f64]) {
      const acc = new PredictionAccumulator()
      const labels = Array.from({ length: probabilities.length / 2 }, (_, i) => i % 2)
      acc.add(labels.slice(0, 2048), batch(probabilities.subarray(0, 4096)), 'data.csv', 0)
      acc.add(labels.slice(2048), batch(probabilities.subarray(4096)), 'data.csv', 2048)
      const view = acc.probabilities.view()
      expect(view).toBeInstanceOf(probabilities === f32 ? Float32Array : Float64Array)
      expect(Array.from(view)).toEqual(Array.from(probabilities))
    }
  })
})

describe('LabelList', () => {
  it('joins whole batches, small batches and single labels in order, and joins again after more', () => {
    const list = new LabelList()
    const big = Array.from({ length: 5000 }, (_, i) => i % 3)
    list.addAll(big)
    list.addAll([7, 8])
    list.add('x')
    list.addAll(big)
    expect(list.length).toBe(10_003)
    const first = list.array()
    expect(first).toEqual([...big, 7, 8, 'x', ...big])
    expect(list.array()).toBe(first)
    list.add(9)
    expect(list.array()).toEqual([...big, 7, 8, 'x', ...big, 9])
  })

  it('keeps its own copy: the caller may reuse the batch array', () => {
    const list = new LabelList()
    const batch = Array.from({ length: 2048 }, () => 1)
    list.addAll(batch)
    batch.fill(0)
    expect(list.array().every((v) => v === 1)).toBe(true)
  })

  it('joins more parts than a call takes arguments', () => {
    const list = new LabelList()
    const batch = Array.from({ length: 1024 }, (_, i) => i)
    for (let i = 0; i < 9000; i++) list.addAll(batch)
    const all = list.array()
    expect(all.length).toBe(9000 * 1024)
    expect(all[9000 * 1024 - 1]).toBe(1023)
    expect(all[4096 * 1024]).toBe(0)
  })
})
