import { z } from 'zod'
import { UserError } from '../errors.js'
import type { Cell, Column } from '../data/types.js'
import { plural } from '../report/common.js'
import type { FeatureProfile } from './types.js'

/*
 * Feature profiles: what a sample of rows says about each feature's domain, so that perturbations
 * stay inside it (bounds, integer-ness, vocabulary, whether missing values are legitimate).
 * The manifest can override any inference; an override always wins.
 */

/** Most frequent categories kept per feature: swaps draw from these. */
export const VOCABULARY_LIMIT = 100

/** Mean string length above which a string feature is free text rather than a category. */
const TEXT_MEAN_LENGTH = 20

export const featureOverrideSchema = z
  .object({
    kind: z
      .enum(['numeric', 'categorical', 'text'])
      .optional()
      .describe('The feature kind, when the data alone would be read differently (e.g. numeric codes that are categories).'),
    min: z.number().optional().describe('Lowest legitimate value; perturbed values are clipped to it. Default: the observed minimum.'),
    max: z.number().optional().describe('Highest legitimate value; perturbed values are clipped to it. Default: the observed maximum.'),
    integer: z.boolean().optional().describe('Values are whole numbers, so perturbed values are rounded. Default: inferred from the data.'),
    immutable: z.boolean().optional().describe('Never perturb this feature (e.g. a protected attribute). Default false.'),
    missing: z
      .boolean()
      .optional()
      .describe('The feature may be missing, so missing-value injection may touch it. Default: whether the data has missing values.'),
    group: z
      .string()
      .min(1)
      .optional()
      .describe('Tensor group this feature belongs to (e.g. "pixels"): brightness, contrast and tensor noise act on the group together.'),
  })
  .strict()
  .refine((o) => o.min === undefined || o.max === undefined || o.min <= o.max, { message: 'min must not exceed max' })
  .describe('What the data alone cannot tell about one feature; these declarations win over what is inferred.')

export type FeatureOverride = z.infer<typeof featureOverrideSchema>

/** Running count, mean and sum of squared deviations (Welford), so large offsets do not cancel. */
interface Moments {
  n: number
  mean: number
  m2: number
  min: number
  max: number
  integer: boolean
}

/**
 * Profiles each feature from a sample of rows: `columns[j]` holds feature `names[j]` (the model's order).
 * Numeric when every non-missing cell is a number; text when the strings are long or are varied phrases;
 * otherwise categorical. Throws a UserError when an override names a feature that is not there.
 */
export function profileFeatures(columns: Column[], names: string[], overrides: Record<string, FeatureOverride> = {}): FeatureProfile[] {
  if (columns.length !== names.length) {
    throw new Error(`profileFeatures: ${columns.length} columns for ${names.length} feature names`)
  }
  const unknown = Object.keys(overrides).filter((name) => !names.includes(name))
  if (unknown.length > 0) {
    throw new UserError(
      `robustness feature overrides name ${unknown.map((n) => `"${n}"`).join(', ')}, not among the model's features (${listNames(names)})`,
      { field: unknown[0] },
    )
  }
  return columns.map((cells, j) => {
    const override = overrides[names[j]]
    return applyOverride(inferProfile(names[j], cells, override?.kind), override)
  })
}

/** The profile of one feature as the data shows it, as `kind` when the manifest declares the kind. */
function inferProfile(name: string, cells: Column, kind?: FeatureProfile['kind']): FeatureProfile {
  if (cells instanceof Float64Array && (kind === undefined || kind === 'numeric')) return typedProfile(name, cells)
  const present = Array.from(cells as ArrayLike<Cell>).filter((c) => !isMissing(c))
  const base = { name, missingAllowed: present.length < cells.length, immutable: false }
  const resolved = kind ?? inferKind(present)
  if (resolved === 'text') return { ...base, kind: 'text', integer: false }
  if (resolved === 'categorical') return { ...base, kind: 'categorical', integer: false, vocabulary: vocabularyOf(present) }
  const m = moments(present.filter((c): c is number => typeof c === 'number'))
  if (m.n === 0) return { ...base, kind: 'numeric', integer: false }
  return { ...base, kind: 'numeric', integer: m.integer, min: m.min, max: m.max, mean: m.mean, std: Math.sqrt(m.m2 / m.n) }
}

/** A typed column's numeric profile in one pass: what inferProfile gives for the same numbers as cells. */
function typedProfile(name: string, cells: Float64Array): FeatureProfile {
  const m: Moments = { n: 0, mean: 0, m2: 0, min: Infinity, max: -Infinity, integer: true }
  let present = 0
  for (let i = 0; i < cells.length; i++) {
    const x = cells[i]
    if (x !== x) continue
    present++
    if (x - x !== 0) continue
    m.n++
    const delta = x - m.mean
    m.mean += delta / m.n
    m.m2 += delta * (x - m.mean)
    if (x < m.min) m.min = x
    if (x > m.max) m.max = x
    if (m.integer && !Number.isInteger(x)) m.integer = false
  }
  const base = { name, missingAllowed: present < cells.length, immutable: false }
  if (m.n === 0) return { ...base, kind: 'numeric', integer: false }
  return { ...base, kind: 'numeric', integer: m.integer, min: m.min, max: m.max, mean: m.mean, std: Math.sqrt(m.m2 / m.n) }
}

function inferKind(present: Cell[]): FeatureProfile['kind'] {
  if (present.every((c) => typeof c === 'number')) return 'numeric'
  return looksLikeText(present) ? 'text' : 'categorical'
}

/** `NaN` is treated as missing like `null`: readers map both to null, but callers may pass raw numbers. */
function isMissing(c: Cell): boolean {
  return c === null || (typeof c === 'number' && Number.isNaN(c))
}

function moments(values: number[]): Moments {
  const m: Moments = { n: 0, mean: 0, m2: 0, min: Infinity, max: -Infinity, integer: true }
  for (const x of values) {
    // ±Infinity would make the mean and sd meaningless; it is a value for the stress tests, not the domain.
    if (!Number.isFinite(x)) continue
    m.n++
    const delta = x - m.mean
    m.mean += delta / m.n
    m.m2 += delta * (x - m.mean)
    if (x < m.min) m.min = x
    if (x > m.max) m.max = x
    if (!Number.isInteger(x)) m.integer = false
  }
  return m
}

/**
 * Free text: long strings on average, or mostly multi-word strings that are mostly distinct. The
 * distinctness condition keeps multi-word categories ("New York", "Los Angeles") categorical.
 */
function looksLikeText(present: Cell[]): boolean {
  const strings = present.filter((c): c is string => typeof c === 'string')
  if (strings.length === 0) return false
  const meanLength = strings.reduce((s, t) => s + t.length, 0) / strings.length
  if (meanLength > TEXT_MEAN_LENGTH) return true
  const spaced = strings.filter((s) => /\s/.test(s.trim())).length
  const distinct = new Set(strings).size
  return spaced > strings.length / 2 && (distinct > VOCABULARY_LIMIT || distinct > strings.length / 2)
}

/**
 * Values by frequency (most frequent first), ties by value: numbers before strings, numbers ascending,
 * strings by code unit (not locale, so the order is the same on every machine). Booleans are kept as
 * "true"/"false", the vocabulary's type having no booleans; perturbations map them back.
 */
function vocabularyOf(present: Cell[]): (string | number)[] {
  const counts = new Map<string | number, number>()
  for (const c of present) {
    const v = typeof c === 'boolean' ? String(c) : (c as string | number)
    counts.set(v, (counts.get(v) ?? 0) + 1)
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || compareValues(a[0], b[0]))
    .slice(0, VOCABULARY_LIMIT)
    .map(([v]) => v)
}

function compareValues(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  if (typeof a === 'number') return -1
  if (typeof b === 'number') return 1
  return a < b ? -1 : a > b ? 1 : 0
}

/** The declared facts replace the inferred ones (the kind was applied while profiling). */
function applyOverride(inferred: FeatureProfile, override: FeatureOverride | undefined): FeatureProfile {
  if (override === undefined) return inferred
  const p: FeatureProfile = { ...inferred }
  if (override.min !== undefined) p.min = override.min
  if (override.max !== undefined) p.max = override.max
  if (override.integer !== undefined) p.integer = override.integer
  if (override.immutable !== undefined) p.immutable = override.immutable
  if (override.missing !== undefined) p.missingAllowed = override.missing
  if (override.group !== undefined) p.group = override.group
  return p
}

/** Up to 5 names, then how many more. */
export function listNames(names: string[], limit = 5): string {
  const shown = names.slice(0, limit).join(', ')
  return names.length > limit ? `${shown} and ${names.length - limit} more` : shown
}

/**
 * Facts about the profiles worth a line in the report, because they limit what some perturbations can do:
 * constant or empty features, integer features that small noise rounds back, categories with a single
 * value, truncated vocabularies, immutable features, tensor groups. Notes on a feature's sd skip grouped
 * features: group perturbations scale with the group's range, not the member's sd.
 */
export function profileNotes(profiles: FeatureProfile[]): string[] {
  const notes: string[] = []
  const named = (filter: (p: FeatureProfile) => boolean) => profiles.filter(filter).map((p) => p.name)
  const add = (names: string[], one: string, many: string) => {
    if (names.length === 1) notes.push(`${names[0]} ${one}`)
    else if (names.length > 1) notes.push(`${names.length} features (${listNames(names)}) ${many}`)
  }
  add(
    named((p) => p.kind === 'numeric' && p.min === undefined),
    'has no observed values: only declared bounds and stress values apply to it',
    'have no observed values: only declared bounds and stress values apply to them',
  )
  add(
    named((p) => p.kind === 'numeric' && p.group === undefined && p.std === 0),
    'is constant in the sample: noise scaled by its sd cannot move it',
    'are constant in the sample: noise scaled by their sd cannot move them',
  )
  add(
    named((p) => p.kind === 'numeric' && p.group === undefined && p.integer && p.std !== undefined && p.std > 0 && 0.1 * p.std < 0.5),
    'is integer with sd < 5: noise of σ = 0.1·sd mostly rounds back to the same value',
    'are integer with sd < 5: noise of σ = 0.1·sd mostly rounds back to the same value',
  )
  add(
    named((p) => p.kind === 'categorical' && (p.vocabulary?.length ?? 0) < 2),
    'has fewer than two categories: category swaps cannot change it',
    'have fewer than two categories: category swaps cannot change them',
  )
  add(
    named((p) => p.kind === 'categorical' && p.vocabulary?.length === VOCABULARY_LIMIT),
    `has at least ${VOCABULARY_LIMIT} categories: swaps draw from the ${VOCABULARY_LIMIT} most frequent`,
    `have at least ${VOCABULARY_LIMIT} categories each: swaps draw from the ${VOCABULARY_LIMIT} most frequent`,
  )
  add(
    named((p) => p.immutable),
    'is immutable: never perturbed',
    'are immutable: never perturbed',
  )
  for (const [group, members] of groupsOf(profiles)) {
    const { min, max } = groupBounds(members)
    const range = min === undefined || max === undefined ? 'no observed values' : `values in [${min}, ${max}]`
    notes.push(`group ${group}: ${plural(members.length, 'feature')}, ${range}`)
  }
  return notes
}

/** Tensor groups in first-member order. */
export function groupsOf(profiles: FeatureProfile[]): Map<string, FeatureProfile[]> {
  const groups = new Map<string, FeatureProfile[]>()
  for (const p of profiles) if (p.group !== undefined) groups.set(p.group, [...(groups.get(p.group) ?? []), p])
  return groups
}

/** A group's bounds: the lowest min and highest max of its members (pixels share one scale). */
export function groupBounds(members: FeatureProfile[]): { min?: number; max?: number } {
  const mins = members.map((p) => p.min).filter((v): v is number => v !== undefined)
  const maxs = members.map((p) => p.max).filter((v): v is number => v !== undefined)
  return { min: mins.length ? Math.min(...mins) : undefined, max: maxs.length ? Math.max(...maxs) : undefined }
}
