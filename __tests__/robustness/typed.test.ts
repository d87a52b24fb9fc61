import { describe, expect, it } from '@jest/globals'
import { columnCells, type Cell } from '../../src/core/data/types.js'
import { perturb } from '../../src/core/robustness/perturb.js'
import { groupBounds, profileFeatures, type FeatureOverride } from '../../src/core/robustness/profile.js'
import { openRng } from '../../src/core/robustness/stream.js'
import { concatColumns, typedColumns } from '../../src/core/robustness/tests/common.js'
import type { FeatureProfile, PerturbationKind, PerturbationSpec, Rng } from '../../src/core/robustness/types.js'
import { createRng } from '../../src/core/stats/random.js'

/*
 * The typed path (numeric features as Float64Arrays, perturbed in one pass into preallocated arrays,
 * the noise drawn from the open stream) against a straightforward cell-by-cell reference written from
 * the documented semantics, drawing from createRng: the same values, bit for bit, for every kind that
 * acts on a numeric column.
 */

const { ceil, cos, floor, log, PI, round, sqrt } = Math

const N = 240

/** A seeded sample: a continuous feature with missing values and ±Infinity, an integer one, numeric category codes, a 4-pixel image. */
function sample(): { names: string[]; cells: Cell[][]; profiles: FeatureProfile[] } {
  const rng = createRng(99)
  const names = ['x', 'count', 'code', 'p0', 'p1', 'p2', 'p3']
  const cells: Cell[][] = names.map(() => [])
  for (let i = 0; i < N; i++) {
    const r = rng()
    cells[0].push(i % 17 === 3 ? null : i === 50 ? Infinity : i === 51 ? -Infinity : 10 * (r - 0.5) + (i % 5))
    cells[1].push(i % 23 === 0 ? null : floor(rng() * 21))
    cells[2].push([1, 2, 3][i % 3])
    for (let j = 0; j < 4; j++) cells[3 + j].push(i % 31 === j ? null : floor(rng() * 17))
  }
  const pixels = Object.fromEntries(names.slice(3).map((n) => [n, { group: 'img', min: 0, max: 16 } as FeatureOverride]))
  const profiles = profileFeatures(cells, names, { code: { kind: 'categorical' }, count: { min: 0, max: 20 }, ...pixels })
  return { names, cells, profiles }
}

const isNumber = (c: Cell): c is number => typeof c === 'number' && Number.isFinite(c)

function normal(rng: Rng): number {
  const u = 1 - rng()
  const v = rng()
  return sqrt(-2 * log(u)) * cos(2 * PI * v)
}

/** Rounded when integer, clipped to the profile's bounds (integer bounds inward), no −0. */
function settle(x: number, p: FeatureProfile, min = p.min, max = p.max): number {
  let y = p.integer ? round(x) : x
  const lo = min === undefined ? undefined : p.integer ? ceil(min) : min
  const hi = max === undefined ? undefined : p.integer ? floor(max) : max
  if (lo !== undefined && y < lo) y = lo
  if (hi !== undefined && y > hi) y = hi
  return y === 0 ? 0 : y
}

/** The reference: each chosen feature in order, each row in order, one cell at a time. */
function reference(cells: Cell[][], profiles: FeatureProfile[], spec: PerturbationSpec, rng: Rng): Cell[][] {
  const s = spec.severity
  const chosen = new Set(spec.features)
  const group = profiles.filter((p) => p.group === 'img')
  const { min: gmin, max: gmax } = groupBounds(group)
  const range = (gmax ?? 0) - (gmin ?? 0)
  const members = profiles.flatMap((p, j) => (p.group === 'img' ? [j] : []))
  const rowMean = (i: number) => {
    const xs = members.map((j) => cells[j][i]).filter(isNumber)
    return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length
  }
  return cells.map((column, j) => {
    const p = profiles[j]
    if (!chosen.has(p.name)) return column
    return column.map((c, i) => {
      switch (spec.kind) {
        case 'gaussian_noise':
          return isNumber(c) ? settle(c + s * (p.std ?? 0) * normal(rng), p) : c
        case 'shift':
          return isNumber(c) ? settle(c * (1 + s), p) : c
        case 'drift':
          return isNumber(c) ? settle((p.mean ?? 0) + (c - (p.mean ?? 0)) * (1 + s), p) : c
        case 'quantize': {
          const step = Math.abs(s) * (p.std ?? 0)
          return isNumber(c) ? settle(Number((round(c / step) * step).toPrecision(15)), p) : c
        }
        case 'missing':
          return rng() < s ? null : c
        case 'category_swap': {
          if (c === null || rng() >= s) return c
          const vocabulary = p.vocabulary ?? []
          const at = vocabulary.indexOf(c as number)
          let k = floor(rng() * (at < 0 ? vocabulary.length : vocabulary.length - 1))
          if (at >= 0 && k >= at) k++
          return vocabulary[k]
        }
        case 'unseen_category':
          return c === null || rng() >= s ? c : Math.max(...(p.vocabulary as number[])) + 1
        case 'tensor_noise':
          return isNumber(c) ? settle(c + s * range * normal(rng), p, gmin, gmax) : c
        case 'brightness':
          return isNumber(c) ? settle(c + s * range, p, gmin, gmax) : c
        case 'contrast': {
          if (!isNumber(c)) return c
          const m = rowMean(i)
          return settle(Number.isNaN(m) ? c : m + (c - m) * (1 + s), p, gmin, gmax)
        }
        default:
          throw new Error(`no reference for ${spec.kind}`)
      }
    })
  })
}

const CASES: { kind: PerturbationKind; severity: number; features: string[] }[] = [
  { kind: 'gaussian_noise', severity: 0.3, features: ['x', 'count'] },
  { kind: 'gaussian_noise', severity: 2.5, features: ['x', 'count'] },
  { kind: 'shift', severity: -0.1, features: ['x', 'count'] },
  { kind: 'shift', severity: 0.37, features: ['x', 'count'] },
  { kind: 'drift', severity: 0.5, features: ['x', 'count'] },
  { kind: 'quantize', severity: 0.25, features: ['x', 'count'] },
  { kind: 'missing', severity: 0.2, features: ['x', 'count'] },
  { kind: 'category_swap', severity: 0.4, features: ['code'] },
  { kind: 'unseen_category', severity: 0.3, features: ['code'] },
  { kind: 'tensor_noise', severity: 0.2, features: ['p0', 'p1', 'p2', 'p3'] },
  { kind: 'brightness', severity: 0.15, features: ['p0', 'p2', 'p3'] },
  { kind: 'contrast', severity: -0.4, features: ['p0', 'p1', 'p2', 'p3'] },
]

describe('typed perturbation path', () => {
  const { cells, profiles } = sample()
  const typed = typedColumns(cells)

  it('holds the numeric features as Float64Arrays, NaN where the data layer says null', () => {
    expect(typed.every((c) => c instanceof Float64Array)).toBe(true)
    typed.forEach((c, j) => expect(columnCells(c)).toEqual(cells[j]))
  })

  for (const c of CASES) {
    const spec: PerturbationSpec = c.kind.match(/tensor|brightness|contrast/) ? { ...c, group: 'img' } : c
    it(`${c.kind} ${c.severity}: the reference's values, from the open stream and from createRng, into given arrays or new ones`, () => {
      const want = reference(cells, profiles, spec, createRng(7))
      expect(want.some((col, j) => col !== cells[j])).toBe(true)
      const viaOpen = perturb(typed, profiles, spec, openRng(7))
      const viaClosure = perturb(typed, profiles, spec, createRng(7))
      const buffers = typed.map((col) => new Float64Array(col.length + 8))
      const into = perturb(typed, profiles, spec, openRng(7), (j) => buffers[j].subarray(4, 4 + N))
      for (const out of [viaOpen, viaClosure, into]) expect(out.map(columnCells)).toEqual(want)
      // Perturbed numeric features were written where they were told to go; the input was not touched.
      into.forEach((col, j) => {
        if (col !== typed[j] && col instanceof Float64Array && !['code'].includes(profiles[j].name))
          expect(col.buffer).toBe(buffers[j].buffer)
      })
      expect(typed.map(columnCells)).toEqual(cells)
      // The cell path agrees too (the existing implementation).
      expect(perturb(cells, profiles, spec, createRng(7))).toEqual(want)
    })
  }

  it('openRng is createRng: the same doubles and 32-bit outputs, in any mix', () => {
    for (const seed of [0, 1, 42, 2 ** 31 + 5, -3]) {
      const a = createRng(seed)
      const b = openRng(seed)
      for (let i = 0; i < 2000; i++) {
        if (i % 7 === 3) expect(b.uint32()).toBe(a.uint32())
        else expect(b()).toBe(a())
      }
    }
  })

  it('concatColumns: consecutive views of one buffer are joined without a copy; anything else is copied', () => {
    const buffer = new Float64Array([1, 2, 3, 4, NaN, 6])
    const joined = concatColumns([[buffer.subarray(0, 2)], [buffer.subarray(2, 4)], [buffer.subarray(4, 6)]])[0]
    expect(joined).toBeInstanceOf(Float64Array)
    expect((joined as Float64Array).buffer).toBe(buffer.buffer)
    expect(columnCells(joined)).toEqual([1, 2, 3, 4, null, 6])
    const apart = concatColumns([[buffer.subarray(2, 4)], [buffer.subarray(0, 2)]])[0] as Float64Array
    expect(apart.buffer).not.toBe(buffer.buffer)
    expect([...apart]).toEqual([3, 4, 1, 2])
    expect(concatColumns([[buffer.subarray(0, 2)], [['a', null]]])[0]).toEqual([1, 2, 'a', null])
  })
})
