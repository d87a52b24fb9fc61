import { fileURLToPath } from 'node:url'
import { describe, expect, it } from '@jest/globals'
import { openTable } from '../../src/core/data/open.js'
import type { Cell } from '../../src/core/data/types.js'
import { UserError } from '../../src/core/errors.js'
import {
  featureOverrideSchema,
  profileFeatures,
  profileNotes,
  VOCABULARY_LIMIT,
  type FeatureOverride,
} from '../../src/core/robustness/profile.js'
import { readColumns } from '../data/helpers.js'

const FIXTURES = fileURLToPath(new URL('../fixtures/robustness/', import.meta.url))

/** A CSV fixture as columns in header order. */
async function table(name: string): Promise<{ names: string[]; columns: Cell[][] }> {
  const source = openTable(FIXTURES + name)
  const names = await source.columns()
  const byName = await readColumns(source, { batchSize: 7 })
  return { names, columns: names.map((n) => byName[n]) }
}

describe('profileFeatures on real tables', () => {
  it('profiles 30 rows of the breast cancer test set: numeric, observed bounds, population sd', async () => {
    const { names, columns } = await table('breast-cancer-30.csv')
    const profiles = profileFeatures(columns, names)
    expect(profiles).toHaveLength(31)
    expect(names[30]).toBe('target')
    expect(profiles.every((p) => p.kind === 'numeric' && !p.missingAllowed && !p.immutable)).toBe(true)
    const radius = profiles[names.indexOf('mean_radius')]
    // numpy on the same 30 rows: min, max, mean, std (ddof = 0).
    expect(radius).toMatchObject({ name: 'mean_radius', kind: 'numeric', integer: false, min: 6.981, max: 20.29 })
    expect(radius.mean).toBeCloseTo(14.247700000000002, 12)
    expect(radius.std).toBeCloseTo(3.014611098743363, 12)
    const area = profiles[names.indexOf('mean_area')]
    expect(area).toMatchObject({ integer: false, min: 143.5, max: 1297 })
    expect(area.std).toBeCloseTo(276.39377185859706, 10)
    const target = profiles[names.indexOf('target')]
    expect(target).toMatchObject({ integer: true, min: 0, max: 1 })
    expect(target.std).toBeCloseTo(0.4714045207910317, 12)
    expect(radius.vocabulary).toBeUndefined()
    expect(profileNotes(profiles.slice(0, 30))).toEqual([])
    // A 0/1 column: σ = 0.1·sd = 0.047 rounds back to the same value almost always.
    expect(profileNotes([target])).toEqual(['target is integer with sd < 5: noise of σ = 0.1·sd mostly rounds back to the same value'])
  })

  it('profiles 30 rows of digits: integer pixels 0–16, constant border pixels, a declared group', async () => {
    const { names, columns } = await table('digits-30.csv')
    expect(profileNotes(profileFeatures(columns.slice(0, 64), names.slice(0, 64)))).toEqual([
      '13 features (px_0, px_8, px_15, px_16, px_23 and 8 more) are constant in the sample: noise scaled by their sd cannot move them',
      '26 features (px_1, px_2, px_3, px_4, px_6 and 21 more) are integer with sd < 5: noise of σ = 0.1·sd mostly rounds back to the same value',
    ])
    const pixels = names.filter((n) => n.startsWith('px_'))
    const overrides: Record<string, FeatureOverride> = Object.fromEntries(pixels.map((n) => [n, { group: 'pixels', min: 0, max: 16 }]))
    overrides.target = { immutable: true, kind: 'categorical' }
    const profiles = profileFeatures(columns, names, overrides)
    const px5 = profiles[names.indexOf('px_5')]
    expect(px5).toMatchObject({ kind: 'numeric', integer: true, min: 0, max: 16, group: 'pixels' })
    expect(px5.mean).toBeCloseTo(5.633333333333334, 12)
    expect(px5.std).toBeCloseTo(5.901882938708817, 12)
    // px_0 is 0 in all 30 rows; the declared bounds still win over the observed [0, 0].
    expect(profiles[0]).toMatchObject({ name: 'px_0', min: 0, max: 16, mean: 0, std: 0, integer: true })
    const target = profiles[names.indexOf('target')]
    expect(target).toEqual({
      name: 'target',
      kind: 'categorical',
      integer: false,
      missingAllowed: false,
      immutable: true,
      // 30 rows: digits 0–9 three times each, so frequency ties are broken by value.
      vocabulary: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    })
    // Grouped pixels are perturbed on the group's range, so the per-sd notes leave them out.
    expect(profileNotes(profiles)).toEqual(['target is immutable: never perturbed', 'group pixels: 64 features, values in [0, 16]'])
  })
})

describe('profileFeatures inference', () => {
  const profile = (cells: Cell[], override?: FeatureOverride) => profileFeatures([cells], ['f'], override ? { f: override } : undefined)[0]

  it('orders the vocabulary by frequency, ties by value (numbers first, strings by code unit)', () => {
    expect(profile(['b', 'a', 'B', 'a', 'c', 'b', 'a', 'é', 'Z']).vocabulary).toEqual(['a', 'b', 'B', 'Z', 'c', 'é'])
    expect(profile(['x', 2, 10, 'x', 1, null])).toMatchObject({ kind: 'categorical', missingAllowed: true, vocabulary: ['x', 1, 2, 10] })
  })

  it('keeps at most 100 categories, the most frequent', () => {
    const cells: Cell[] = []
    for (let v = 0; v < 150; v++) for (let k = 0; k < (v < 20 ? 2 : 1); k++) cells.push(`v${String(v).padStart(3, '0')}`)
    const vocabulary = profile(cells).vocabulary!
    expect(vocabulary).toHaveLength(VOCABULARY_LIMIT)
    expect(vocabulary.slice(0, 3)).toEqual(['v000', 'v001', 'v002'])
    expect(vocabulary[20]).toBe('v020')
    expect(vocabulary[99]).toBe('v099')
    expect(profileNotes([profile(cells)])).toEqual(['f has at least 100 categories: swaps draw from the 100 most frequent'])
  })

  it('tells text from categories: long strings, or varied multi-word strings', () => {
    // Mean length (35 + 5 + 4) / 3 = 14.7 and one value in three has a space: a category.
    expect(profile(['a rather long review of the product', 'short', 'fine']).kind).toBe('categorical')
    // Mean length (35 + 25 + 4) / 3 = 21.3 > 20: text.
    expect(profile(['a rather long review of the product', 'another fairly long one..', 'fine'])).toEqual({
      name: 'f',
      kind: 'text',
      integer: false,
      missingAllowed: false,
      immutable: false,
    })
    // Mostly multi-word and mostly distinct: text.
    expect(profile(['so good', 'not bad', 'meh', 'very nice', 'too slow']).kind).toBe('text')
    // Multi-word but a handful of values repeated: categories.
    const cities = ['New York', 'Los Angeles', 'New York', 'Paris', 'Los Angeles', 'New York', 'Los Angeles', 'New York']
    expect(profile(cities)).toMatchObject({ kind: 'categorical', vocabulary: ['New York', 'Los Angeles', 'Paris'] })
  })

  it('reads numbers, integers, missing values and booleans', () => {
    expect(profile([3, null, 5, NaN, 1])).toMatchObject({ kind: 'numeric', integer: true, missingAllowed: true, min: 1, max: 5, mean: 3 })
    expect(profile([0.5, 2])).toMatchObject({ integer: false, std: 0.75 })
    expect(profile([true, false, true, null])).toMatchObject({ kind: 'categorical', vocabulary: ['true', 'false'], missingAllowed: true })
    // All missing: numeric with nothing known, and a note saying so.
    const empty = profile([null, null])
    expect(empty).toEqual({ name: 'f', kind: 'numeric', integer: false, missingAllowed: true, immutable: false })
    expect(profileNotes([empty])).toEqual(['f has no observed values: only declared bounds and stress values apply to it'])
  })

  it('computes mean and sd without cancelling on large offsets', () => {
    const p = profile([1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16])
    expect(p.mean).toBe(1e9 + 10)
    expect(p.std).toBeCloseTo(Math.sqrt(22.5), 6)
  })

  it('lets overrides win over inference', () => {
    expect(profile([1, 2, 2, 3], { kind: 'categorical' })).toEqual({
      name: 'f',
      kind: 'categorical',
      integer: false,
      missingAllowed: false,
      immutable: false,
      vocabulary: [2, 1, 3],
    })
    expect(profile([1.5, 2.5], { min: 0, max: 10, integer: true, missing: true, immutable: true, group: 'g' })).toMatchObject({
      min: 0,
      max: 10,
      integer: true,
      missingAllowed: true,
      immutable: true,
      group: 'g',
    })
    expect(profile([1, null], { missing: false }).missingAllowed).toBe(false)
    expect(profile(['a', 'b'], { kind: 'text' })).toEqual({
      name: 'f',
      kind: 'text',
      integer: false,
      missingAllowed: false,
      immutable: false,
    })
  })

  it('rejects an override for a feature the model does not have, naming it and the features', () => {
    let error: unknown
    try {
      profileFeatures([[1], [2]], ['age', 'income'], { agee: { immutable: true } })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(UserError)
    expect((error as UserError).message).toBe(`robustness feature overrides name "agee", not among the model's features (age, income)`)
    expect((error as UserError).field).toBe('agee')
  })

  it('notes single-category features and small-sd integer features', () => {
    const profiles = profileFeatures(
      [
        ['a', 'a'],
        [0, 1, 2, 3],
        [0, 100, 200],
      ],
      ['one', 'small', 'wide'],
    )
    expect(profileNotes(profiles)).toEqual([
      'small is integer with sd < 5: noise of σ = 0.1·sd mostly rounds back to the same value',
      'one has fewer than two categories: category swaps cannot change it',
    ])
  })
})

describe('featureOverrideSchema', () => {
  it('parses a manifest entry and rejects unknown keys and inverted bounds', () => {
    expect(featureOverrideSchema.parse({ kind: 'numeric', min: 0, max: 16, integer: true, group: 'pixels' })).toEqual({
      kind: 'numeric',
      min: 0,
      max: 16,
      integer: true,
      group: 'pixels',
    })
    expect(featureOverrideSchema.safeParse({ immutable: true, missing: true }).success).toBe(true)
    expect(featureOverrideSchema.safeParse({ imutable: true }).success).toBe(false)
    const inverted = featureOverrideSchema.safeParse({ min: 2, max: 1 })
    expect(inverted.success).toBe(false)
    expect(inverted.error?.issues[0].message).toBe('min must not exceed max')
    expect(featureOverrideSchema.safeParse({ kind: 'image' }).success).toBe(false)
  })

  it('describes every field (the published JSON Schema shows these)', () => {
    const json = featureOverrideSchema.toJSONSchema() as { properties: Record<string, { description?: string }> }
    const keys = Object.keys(json.properties)
    expect(keys).toEqual(['kind', 'min', 'max', 'integer', 'immutable', 'missing', 'group'])
    for (const key of keys) expect(json.properties[key].description).toMatch(/\w{3}/)
  })
})
