import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from '@jest/globals'
import type { Cell } from '../../src/core/data/types.js'
import { profileFeatures, type FeatureOverride } from '../../src/core/robustness/profile.js'
import { defaultPerturbations, describePerturbation, perturb, stressValues, UNSEEN_CATEGORY } from '../../src/core/robustness/perturb.js'
import { TYPO_MIN_WORD } from '../../src/core/robustness/text.js'
import { PERTURBATION_KINDS, type FeatureProfile, type PerturbationKind, type PerturbationSpec } from '../../src/core/robustness/types.js'
import { createRng } from '../../src/core/stats/random.js'

const ALL_KINDS: readonly PerturbationKind[] = PERTURBATION_KINDS

/** The 30 digits rows as numbers, pixels declared as the group "pixels" with bounds [0, 16]. */
function digits(): { columns: Cell[][]; profiles: FeatureProfile[]; names: string[] } {
  const [header, ...lines] = readFileSync(fileURLToPath(new URL('../fixtures/robustness/digits-30.csv', import.meta.url)), 'utf8')
    .trim()
    .split('\n')
  const names = header.split(',').slice(0, 64)
  const rows = lines.map((l) => l.split(',').slice(0, 64).map(Number))
  const columns = names.map((_, j) => rows.map((r) => r[j]))
  const overrides = Object.fromEntries(names.map((n) => [n, { group: 'pixels', min: 0, max: 16 } as FeatureOverride]))
  return { columns, profiles: profileFeatures(columns, names, overrides), names }
}

function spec(kind: PerturbationKind, severity: number, features: string[], group?: string): PerturbationSpec {
  return group === undefined ? { kind, severity, features } : { kind, severity, features, group }
}

/** n seeded cells from `values`, cycling. */
function cycle<T extends Cell>(values: T[], n: number): T[] {
  return Array.from({ length: n }, (_, i) => values[i % values.length])
}

/** Binomial tolerance: |count − n·p| ≤ 4 sd (a fixed seed makes the outcome fixed; 4 sd is the margin of the claim). */
function expectRate(count: number, n: number, p: number): void {
  expect(Math.abs(count - n * p)).toBeLessThanOrEqual(4 * Math.sqrt(n * p * (1 - p)))
}

// Module-level binding: a global `Math` lookup in a hot loop is slow inside jest's vm context.
const { min } = Math

/** Optimal string alignment distance (Damerau–Levenshtein with adjacent transpositions), by code point. */
function editDistance(a: string, b: string): number {
  const s = Array.from(a)
  const t = Array.from(b)
  const width = t.length + 1
  const d = new Int32Array((s.length + 1) * width)
  for (let j = 0; j <= t.length; j++) d[j] = j
  for (let i = 1; i <= s.length; i++) {
    d[i * width] = i
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1
      let best = min(d[(i - 1) * width + j] + 1, d[i * width + j - 1] + 1, d[(i - 1) * width + j - 1] + cost)
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) best = min(best, d[(i - 2) * width + j - 2] + 1)
      d[i * width + j] = best
    }
  }
  return d[s.length * width + t.length]
}

describe('numeric perturbations', () => {
  const { columns } = digits()
  const free = ['px_5', 'px_36']
  // The same two pixels, not grouped: per-feature noise scales with each one's sd.
  const ungrouped = profileFeatures([columns[5], columns[36]], free)

  it('gaussian noise respects the bounds and integer-ness and moves values', () => {
    const out = perturb([columns[5], columns[36]], ungrouped, spec('gaussian_noise', 1, free), createRng(7))
    for (const [j, col] of out.entries()) {
      expect(col.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 16)).toBe(true)
      expect(col.filter((x, i) => x !== [columns[5], columns[36]][j][i]).length).toBeGreaterThan(15)
    }
  })

  it('gaussian noise has sd = severity·sd before clipping', () => {
    // Values ±1 (sd 1, mean 0) with far bounds, 10,000 rows: the change has sd 0.5 up to sampling error.
    const cells = cycle([-1, 1], 10_000)
    const [profile] = profileFeatures([cells], ['x'], { x: { min: -100, max: 100, integer: false } })
    const [out] = perturb([cells], [profile], spec('gaussian_noise', 0.5, ['x']), createRng(11))
    const d = out.map((x, i) => (x as number) - cells[i])
    const mean = d.reduce((s, v) => s + v, 0) / d.length
    const sd = Math.sqrt(d.reduce((s, v) => s + (v - mean) ** 2, 0) / d.length)
    expect(Math.abs(mean)).toBeLessThan(4 * (0.5 / 100))
    expect(Math.abs(sd - 0.5)).toBeLessThan(4 * (0.5 / Math.sqrt(2 * 10_000)))
  })

  it('shift multiplies, clips to the bounds and rounds integers', () => {
    const cells: Cell[] = [0, 7, 10, 15, null, 16]
    const [p] = profileFeatures([cells], ['x'])
    expect(perturb([cells], [p], spec('shift', 0.1, ['x']), createRng(1))[0]).toEqual([0, 8, 11, 16, null, 16])
    expect(perturb([cells], [p], spec('shift', -0.01, ['x']), createRng(1))[0]).toEqual([0, 7, 10, 15, null, 16])
    const real: Cell[] = [1.5, 2, 4]
    const [q] = profileFeatures([real], ['y'])
    expect(perturb([real], [q], spec('shift', -0.1, ['y']), createRng(1))[0]).toEqual([1.5, 1.8, 3.6])
  })

  it('drift scales the spread around the mean and keeps the mean', () => {
    const cells: Cell[] = [2, 4, 6, 8] // mean 5
    const [p] = profileFeatures([cells], ['x'], { x: { integer: false, min: 0, max: 20 } })
    expect(perturb([cells], [p], spec('drift', 0.5, ['x']), createRng(1))[0]).toEqual([0.5, 3.5, 6.5, 9.5])
    expect(perturb([cells], [p], spec('drift', -0.5, ['x']), createRng(1))[0]).toEqual([3.5, 4.5, 5.5, 6.5])
  })

  it('quantize rounds to a grid of severity·sd', () => {
    const cells: Cell[] = [-1, 1, 0.3, 0.38, -0.6] // sd of these: see below
    const [p] = profileFeatures([cells], ['x'], { x: { min: -10, max: 10 } })
    const step = 0.25 * p.std!
    const expected = cells.map((x) => Number((Math.round((x as number) / step) * step).toPrecision(15)))
    expect(perturb([cells], [p], spec('quantize', 0.25, ['x']), createRng(1))[0]).toEqual(expected)
    // sd 1 exactly: ±1 repeated; grid 0.25.
    const unit: Cell[] = [-1, 1, -1, 1]
    const [u] = profileFeatures([unit], ['u'], { u: { min: -2, max: 2, integer: false } })
    expect(perturb([[0.3, 0.38, -0.6, 1.1]], [u], spec('quantize', 0.25, ['u']), createRng(1))[0]).toEqual([0.25, 0.5, -0.5, 1])
  })
})

describe('identity, immutability and scope', () => {
  const cells = {
    num: cycle([1.5, 2.25, null, 9], 40) as Cell[],
    int: cycle([1, 2, 3, null], 40) as Cell[],
    cat: cycle(['a', 'b', 'c', null], 40) as Cell[],
    text: cycle(['Crème brûlée, très bon!', 'Ça  va  bien, merci.', 'Tapas y café: ¡delicioso!', null], 40) as Cell[],
    px1: cycle([0, 4, 16, 9], 40) as Cell[],
    px2: cycle([3, 12, 0, 16], 40) as Cell[],
  }
  const names = Object.keys(cells)
  const columns = Object.values(cells)
  const groups: Record<string, FeatureOverride> = { px1: { group: 'img' }, px2: { group: 'img' } }
  const profiles = profileFeatures(columns, names, groups)

  it('zero severity is the identity for every kind, bit for bit', () => {
    for (const kind of ALL_KINDS) {
      const out = perturb(columns, profiles, spec(kind, 0, names, 'img'), createRng(3))
      expect(out).not.toBe(columns)
      out.forEach((col, j) => expect(col).toBe(columns[j]))
    }
  })

  it('never moves an immutable feature, nor features outside the spec, and never mutates its input', () => {
    const immutable = profileFeatures(
      columns,
      names,
      Object.fromEntries(names.map((n) => [n, { ...groups[n], immutable: true, missing: true }])),
    )
    const before = structuredClone(columns)
    for (const kind of ALL_KINDS) {
      const out = perturb(columns, immutable, spec(kind, 0.9, names, 'img'), createRng(5))
      out.forEach((col, j) => expect(col).toBe(columns[j]))
      const scoped = perturb(columns, profiles, spec(kind, 0.9, [], 'img'), createRng(5))
      scoped.forEach((col, j) => expect(col).toBe(columns[j]))
    }
    expect(columns).toEqual(before)
  })

  it('leaves features of the wrong kind alone', () => {
    const changed = (kind: PerturbationKind) =>
      perturb(columns, profiles, spec(kind, 0.9, names, 'img'), createRng(9))
        .map((col, j) => (col === columns[j] ? null : names[j]))
        .filter((n) => n !== null)
    expect(changed('gaussian_noise')).toEqual(['num', 'int', 'px1', 'px2'])
    expect(changed('missing')).toEqual(['num', 'int', 'cat', 'text'])
    expect(changed('category_swap')).toEqual(['cat'])
    expect(changed('unseen_category')).toEqual(['cat'])
    expect(changed('typo')).toEqual(['text'])
    expect(changed('punctuation')).toEqual(['text'])
    expect(changed('case')).toEqual(['cat', 'text'])
    expect(changed('accents')).toEqual(['cat', 'text'])
    expect(changed('brightness')).toEqual(['px1', 'px2'])
  })

  it('is reproducible: the same seed gives the same output, another seed another', () => {
    for (const kind of ['gaussian_noise', 'missing', 'category_swap', 'typo', 'case', 'whitespace', 'tensor_noise'] as const) {
      const run = (seed: number) => perturb(columns, profiles, spec(kind, 0.5, names, 'img'), createRng(seed))
      expect(run(42)).toEqual(run(42))
      expect(run(42)).not.toEqual(run(43))
    }
  })

  it('rejects a non-finite severity and a tensor perturbation without a group', () => {
    expect(() => perturb(columns, profiles, spec('shift', NaN, names), createRng(1))).toThrow(
      'perturb shift: severity NaN is not a finite number',
    )
    expect(() => perturb(columns, profiles, spec('contrast', 0.1, names), createRng(1))).toThrow(
      'perturb contrast: the spec names no tensor group',
    )
  })
})

describe('missing values and categories', () => {
  it('injects missing values at the severity rate, only where missing is allowed', () => {
    const cells = cycle([1, 2, 3, 4], 10_000)
    const profiles = profileFeatures([cells, cells], ['allowed', 'not'], { allowed: { missing: true } })
    const [allowed, not] = perturb([cells, cells], profiles, spec('missing', 0.1, ['allowed', 'not']), createRng(2024))
    expect(not).toBe(cells)
    const nulls = allowed.filter((c) => c === null).length
    expectRate(nulls, 10_000, 0.1)
    expect(allowed.every((c, i) => c === null || c === cells[i])).toBe(true)
  })

  it('swaps a category for another of the vocabulary, never the same one, uniformly', () => {
    const cells = cycle(['a', 'b', 'c', 'd', null], 10_000)
    const profiles = profileFeatures([cells], ['c'])
    const [out] = perturb([cells], profiles, spec('category_swap', 0.3, ['c']), createRng(8))
    const swapped = out.filter((c, i) => c !== cells[i])
    expectRate(swapped.length, 8_000, 0.3)
    expect(out.every((c, i) => (cells[i] === null ? c === null : ['a', 'b', 'c', 'd'].includes(c as string)))).toBe(true)
    // From "a": b, c and d each a third of the swaps.
    const fromA = out.filter((c, i) => cells[i] === 'a' && c !== 'a')
    for (const to of ['b', 'c', 'd']) expectRate(fromA.filter((c) => c === to).length, fromA.length, 1 / 3)
    // At rate 1 every value changes.
    const [all] = perturb([cells], profiles, spec('category_swap', 1, ['c']), createRng(8))
    expect(all.every((c, i) => cells[i] === null || c !== cells[i])).toBe(true)
  })

  it('keeps booleans boolean when swapping', () => {
    const cells = cycle([true, false], 100)
    const profiles = profileFeatures([cells], ['flag'])
    const [out] = perturb([cells], profiles, spec('category_swap', 1, ['flag']), createRng(1))
    expect(out).toEqual(cells.map((b) => !b))
  })

  it('puts unseen categories outside the vocabulary, in the column type', () => {
    const strings = cycle(['x', 'y', UNSEEN_CATEGORY], 1000)
    const [s] = profileFeatures([strings], ['s'])
    const [outS] = perturb([strings], [s], spec('unseen_category', 0.2, ['s']), createRng(4))
    const unseen = outS.filter((c, i) => c !== strings[i])
    expect(new Set(unseen)).toEqual(new Set([`_${UNSEEN_CATEGORY}_`]))
    expectRate(unseen.length, 1000, 0.2)

    const codes = cycle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 1000)
    const [c] = profileFeatures([codes], ['digit'], { digit: { kind: 'categorical' } })
    const [outC] = perturb([codes], [c], spec('unseen_category', 0.2, ['digit']), createRng(4))
    expect(new Set(outC.filter((v, i) => v !== codes[i]))).toEqual(new Set([10]))
  })
})

describe('text perturbations', () => {
  const sentences = [
    'The quick brown fox jumps over the lazy dog',
    'Pack my box with five dozen liquor jugs',
    'Sphinx of black quartz, judge my vow!',
    'How vexingly quick daft zebras jump',
  ]
  const text = cycle(sentences, 2000)
  const [profile] = profileFeatures([text], ['review'])

  it('makes typos at the per-letter rate in words of 4+ letters, keeping strings non-empty', () => {
    expect(profile.kind).toBe('text')
    const [out] = perturb([text], [profile], spec('typo', 0.05, ['review']), createRng(99))
    const letters = text.reduce((n, t) => n + (t.match(/\p{L}{4,}/gu) ?? []).join('').length, 0)
    const edits = out.reduce((n: number, t, i) => n + editDistance(text[i], t as string), 0)
    // Each edited letter is one edit (a swap covers two letters, so the rate of edits is a little under 5%).
    expect(edits / letters).toBeGreaterThan(0.04)
    expect(edits / letters).toBeLessThan(0.055)
    // Short words are never touched and no word is emptied (typos never touch spaces, so words line up).
    const broken = out.filter((t, i) => {
      const before = text[i].split(' ')
      const after = (t as string).split(' ')
      return (
        after.length !== before.length ||
        before.some((w, k) => (w.replace(/\P{L}/gu, '').length < TYPO_MIN_WORD ? after[k] !== w : after[k].length === 0))
      )
    })
    expect(broken).toEqual([])
  })

  it('at rate 1 edits every word of 4+ letters, touches nothing else and never empties a word', () => {
    const cells: Cell[] = ['abcd', 'Zoë 42, ok; wxyz!', 'aaaa']
    const [p] = profileFeatures([cells], ['t'], { t: { kind: 'text' } })
    for (let seed = 1; seed <= 50; seed++) {
      const [out] = perturb([cells], [p], spec('typo', 1, ['t']), createRng(seed))
      expect((out[0] as string).length).toBeGreaterThan(0)
      expect(out[0]).not.toBe('abcd')
      expect(out[2]).not.toBe('aaaa')
      expect((out[1] as string).replace(/\p{L}/gu, '')).toBe(' 42, ; !')
      expect((out[1] as string).startsWith('Zoë ')).toBe(true)
    }
  })

  it('changes case to upper, lower or title per value', () => {
    const [out] = perturb([text], [profile], spec('case', 1, ['review']), createRng(6))
    const modes = out.map((t, i) => {
      const s = text[i]
      if (t === s.toUpperCase()) return 'upper'
      if (t === s.toLowerCase()) return 'lower'
      if (t === s.toLowerCase().replace(/\b\p{L}/gu, (c) => c.toUpperCase())) return 'title'
      return 'other'
    })
    for (const mode of ['upper', 'lower', 'title']) expectRate(modes.filter((m) => m === mode).length, 2000, 1 / 3)
    expect(modes).not.toContain('other')
  })

  it('removes punctuation marks at the severity rate', () => {
    const [all] = perturb([text], [profile], spec('punctuation', 1, ['review']), createRng(6))
    expect(all.every((t, i) => t === text[i].replace(/[,!]/g, ''))).toBe(true)
    const [half] = perturb([text], [profile], spec('punctuation', 0.5, ['review']), createRng(6))
    const marks = text.reduce((n, t) => n + (t.match(/\p{P}/gu) ?? []).length, 0)
    const removed = half.reduce((n: number, t, i) => n + text[i].length - (t as string).length, 0)
    expectRate(removed, marks, 0.5)
  })

  it('adds leading, trailing and doubled whitespace or tabs, leaving the words', () => {
    const [out] = perturb([text], [profile], spec('whitespace', 1, ['review']), createRng(6))
    const broken = out.filter((t, i) => {
      const s = t as string
      const inner = s.slice(1, -1)
      return !(s.startsWith(' ') && s.endsWith(' ') && inner.split(/ {2}|\t/).join(' ') === text[i])
    })
    expect(broken).toEqual([])
  })

  it('strips accents', () => {
    const cells: Cell[] = ['Crème brûlée', 'Ångström naïve façade', 'plain', 'Ελληνικά ά']
    const [p] = profileFeatures([cells], ['dish'])
    expect(perturb([cells], [p], spec('accents', 1, ['dish']), createRng(1))[0]).toEqual([
      'Creme brulee',
      'Angstrom naive facade',
      'plain',
      'Ελληνικα α',
    ])
  })
})

describe('tensor perturbations on the digits group', () => {
  const { columns, profiles, names } = digits()

  it('brightness adds severity·range, rounds and clips to the group bounds', () => {
    const out = perturb(columns, profiles, spec('brightness', 0.1, names, 'pixels'), createRng(1))
    out.forEach((col, j) => expect(col).toEqual(columns[j].map((x) => Math.min(16, Math.round((x as number) + 1.6)))))
    const darker = perturb(columns, profiles, spec('brightness', -0.1, names, 'pixels'), createRng(1))
    darker.forEach((col, j) => expect(col).toEqual(columns[j].map((x) => Math.max(0, Math.round((x as number) - 1.6)) || 0)))
  })

  it('contrast scales around each image mean, rounds and clips', () => {
    const out = perturb(columns, profiles, spec('contrast', 0.5, names, 'pixels'), createRng(1))
    for (let i = 0; i < 30; i++) {
      const row = columns.map((col) => col[i] as number)
      const mean = row.reduce((s, v) => s + v, 0) / 64
      const expected = row.map((x) => Math.min(16, Math.max(0, Math.round(mean + (x - mean) * 1.5))) || 0)
      expect(out.map((col) => col[i])).toEqual(expected)
    }
  })

  it('tensor noise uses σ = severity·range, keeps integers in bounds, and only touches the listed members', () => {
    const half = names.slice(0, 32)
    const out = perturb(columns, profiles, spec('tensor_noise', 0.1, half, 'pixels'), createRng(12))
    out.slice(32).forEach((col, j) => expect(col).toBe(columns[32 + j]))
    const moved = out.slice(0, 32).flat()
    expect(moved.every((x) => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 16)).toBe(true)
    // σ = 1.6 pixel levels: px_0 (always 0) is clipped at 0, so it moves up only, in about half the rows.
    expect(out[0].filter((x) => (x as number) > 0).length).toBeGreaterThan(5)
  })
})

describe('defaultPerturbations and describePerturbation', () => {
  it('builds the default suite from mixed profiles', () => {
    const profiles = profileFeatures(
      [
        [1.5, 2, null],
        [0, 0, 0],
        [1, 2, 3],
        ['a', 'b', 'a'],
        ['so good', 'not bad', 'meh'],
        [0, 5, 16],
        [1, 16, 0],
      ],
      ['x', 'constant', 'age', 'colour', 'review', 'p0', 'p1'],
      { age: { immutable: true }, p0: { group: 'img' }, p1: { group: 'img' } },
    )
    expect(defaultPerturbations(profiles)).toEqual([
      { kind: 'gaussian_noise', severity: 0.05, features: ['x'] },
      { kind: 'gaussian_noise', severity: 0.1, features: ['x'] },
      { kind: 'gaussian_noise', severity: 0.25, features: ['x'] },
      { kind: 'shift', severity: -0.1, features: ['x', 'constant'] },
      { kind: 'shift', severity: -0.01, features: ['x', 'constant'] },
      { kind: 'shift', severity: 0.01, features: ['x', 'constant'] },
      { kind: 'shift', severity: 0.1, features: ['x', 'constant'] },
      { kind: 'missing', severity: 0.1, features: ['x'] },
      { kind: 'category_swap', severity: 0.1, features: ['colour'] },
      { kind: 'typo', severity: 0.05, features: ['review'] },
      { kind: 'case', severity: 1, features: ['review'] },
      { kind: 'tensor_noise', severity: 0.05, features: ['p0', 'p1'], group: 'img' },
      { kind: 'brightness', severity: 0.1, features: ['p0', 'p1'], group: 'img' },
      { kind: 'contrast', severity: 0.1, features: ['p0', 'p1'], group: 'img' },
    ])
  })

  it('describes each perturbation in one line', () => {
    const thirty = Array.from({ length: 30 }, (_, i) => `f${i}`)
    expect(describePerturbation(spec('gaussian_noise', 0.1, thirty))).toBe('gaussian noise σ = 0.1·sd on 30 features')
    expect(describePerturbation(spec('shift', -0.01, ['age']))).toBe('shift −1% on age')
    expect(describePerturbation(spec('shift', 0.1, ['a', 'b']))).toBe('shift +10% on a, b')
    expect(describePerturbation(spec('drift', 0.07, thirty))).toBe('spread drift +7% around the mean on 30 features')
    expect(describePerturbation(spec('quantize', 0.5, ['x']))).toBe('quantized to a grid of 0.5·sd on x')
    expect(describePerturbation(spec('missing', 0.1, thirty))).toBe('10% missing values on 30 features')
    expect(describePerturbation(spec('category_swap', 0.1, ['c']))).toBe('10% of categories swapped on c')
    expect(describePerturbation(spec('unseen_category', 0.05, ['c']))).toBe('5% unseen categories on c')
    expect(describePerturbation(spec('typo', 0.05, ['review']))).toBe('typos in 5% of letters on review')
    expect(describePerturbation(spec('case', 1, ['review']))).toBe('case changed in 100% of values on review')
    expect(describePerturbation(spec('accents', 1, ['review']))).toBe('accents stripped in 100% of values on review')
    expect(describePerturbation(spec('brightness', -0.1, thirty.slice(0, 1), 'pixels'))).toBe(
      'brightness −10% of range on group pixels (1 feature)',
    )
    expect(describePerturbation(spec('contrast', 0.1, thirty, 'pixels'))).toBe('contrast +10% on group pixels (30 features)')
    expect(describePerturbation(spec('tensor_noise', 0.05, thirty, 'pixels'))).toBe(
      'tensor noise σ = 0.05·range on group pixels (30 features)',
    )
  })
})

describe('stressValues', () => {
  it('gives non-finite, extreme, empty, wrong-type and missing values for a numeric feature', () => {
    const [p] = profileFeatures([[-3, 250]], ['x'])
    expect(stressValues(p)).toEqual([
      { label: 'nan', value: NaN },
      { label: 'inf', value: Infinity },
      { label: '-inf', value: -Infinity },
      { label: 'max', value: 1e308 },
      { label: '-max', value: -1e308 },
      { label: 'huge', value: 251e6 },
      { label: '-huge', value: -251e6 },
      { label: 'zero', value: 0 },
      { label: 'empty', value: '' },
      { label: 'wrong-type', value: 'not a number' },
      { label: 'missing', value: null },
    ])
  })

  it('treats numeric category codes as numbers and strings as strings', () => {
    const [codes] = profileFeatures([[0, 7, 3]], ['digit'], { digit: { kind: 'categorical' } })
    expect(stressValues(codes).find((s) => s.label === 'huge')?.value).toBe(8e6)
    const [text] = profileFeatures([['a', 'b']], ['t'])
    const values = stressValues(text)
    expect(values.map((s) => s.label)).toEqual(['empty', 'blank', 'long', 'unicode', 'wrong-type', 'nan', 'missing'])
    expect(values.find((s) => s.label === 'wrong-type')?.value).toBe(0)
    expect((values.find((s) => s.label === 'long')?.value as string).length).toBe(10_000)
  })
})
