import type { SensitivitySpec } from '../schema.js'
import type { SensitivityRow } from '../types.js'
import { firstLine, median, pickRows, type TestContext } from './common.js'
import { moveValue, unitOf } from './directional.js'

/**
 * Minimal flipping perturbation. For one numeric feature and each searched row: the smallest |change|
 * of that feature alone, in either direction, that flips the row's decision. The search doubles the
 * change from max-sd/64 up to max-sd (querying +m and −m at each level), then bisects between the
 * last level that did not flip and the first that did, on the direction(s) that flipped, until the
 * bracket is within 1% or the row's query budget is spent. The queries of all rows at one step go to
 * the model in one call. Changes are clipped to the feature's bounds and rounded for integer features;
 * the change recorded is the one actually made.
 */

/** Doubling levels: max-sd/64, …, max-sd. */
const LEVELS = 7

interface Search {
  row: number
  x: number
  level: number
  phase: 'grow' | 'bisect' | 'done'
  /** Largest magnitude (in sd) known not to flip, smallest known to flip. */
  lo: number
  hi: number
  dirs: (1 | -1)[]
  queries: number
  /** Smallest actual |change| that flipped, in the feature's units. */
  best?: number
}

interface Query {
  search: Search
  dir: 1 | -1
  magnitude: number
  value: number
}

export interface SensitivityOutcome {
  row: SensitivityRow
  /** Why the search stopped early (the model failed), when it did. */
  error?: string
}

export async function searchFeature(ctx: TestContext, feature: string, spec: SensitivitySpec): Promise<SensitivityOutcome> {
  const j = ctx.profiles.findIndex((p) => p.name === feature)
  const profile = ctx.profiles[j]
  const unit = unitOf(profile)
  const level = (k: number) => spec['max-sd'] * 2 ** (k - (LEVELS - 1))
  const searches: Search[] = []
  const limit = Math.min(spec.rows, ctx.columns[j].length)
  for (let i = 0; i < limit; i++) {
    const x = ctx.columns[j][i]
    if (typeof x === 'number' && Number.isFinite(x))
      searches.push({ row: i, x, level: 0, phase: 'grow', lo: 0, hi: Infinity, dirs: [1, -1], queries: 0 })
  }
  const valueAt = (s: Search, dir: 1 | -1, m: number) => moveValue(s.x, profile, dir * m * unit) as number
  let queries = 0
  let error: string | undefined

  for (;;) {
    const batch: Query[] = []
    for (const s of searches) {
      // A level whose moves are all no-ops (bounds, integer rounding) costs nothing: go straight past it.
      while (s.phase === 'grow') {
        const m = level(s.level)
        const moves = s.dirs.map((dir) => ({ dir, value: valueAt(s, dir, m) })).filter((q) => q.value !== s.x)
        if (moves.length > 0) {
          for (const q of moves.slice(0, spec.budget - s.queries)) batch.push({ search: s, dir: q.dir, magnitude: m, value: q.value })
          break
        }
        if (++s.level === LEVELS) s.phase = 'done'
      }
      while (s.phase === 'bisect') {
        const m = (s.lo + s.hi) / 2
        const moves = s.dirs.map((dir) => ({ dir, value: valueAt(s, dir, m) })).filter((q) => q.value !== s.x)
        if (moves.length > 0) {
          for (const q of moves.slice(0, spec.budget - s.queries)) batch.push({ search: s, dir: q.dir, magnitude: m, value: q.value })
          break
        }
        s.lo = m
        if (converged(s)) s.phase = 'done'
      }
    }
    if (batch.length === 0) break
    const columns = pickRows(
      ctx.columns,
      batch.map((q) => q.search.row),
    )
    columns[j] = batch.map((q) => q.value)
    const result = await ctx.session.tryPredict(columns, ctx.probe)
    queries += batch.length
    if (!result.ok) {
      error = firstLine(result.message)
      break
    }
    const decisions = ctx.judge.decisions(result.out)
    const flippedBy = new Map<Search, Query[]>()
    const asked = new Set<Search>()
    batch.forEach((q, k) => {
      q.search.queries++
      asked.add(q.search)
      if (ctx.judge.differs(ctx.cleanDecisions[q.search.row], decisions[k]))
        flippedBy.set(q.search, [...(flippedBy.get(q.search) ?? []), q])
    })
    for (const s of asked) advance(s, flippedBy.get(s) ?? [], spec, level)
  }

  const changes = searches.flatMap((s) => (s.best === undefined ? [] : [s.best]))
  const med = median(changes)
  return {
    row: {
      feature,
      rowsSearched: searches.length,
      rowsFlipped: changes.length,
      medianChange: med,
      medianChangeInSd: med === null || !(profile.std !== undefined && profile.std > 0) ? null : med / profile.std,
      queries,
    },
    error,
  }
}

function advance(s: Search, flipped: Query[], spec: SensitivitySpec, level: (k: number) => number): void {
  for (const q of flipped) {
    const change = Math.abs(q.value - s.x)
    if (s.best === undefined || change < s.best) s.best = change
  }
  if (s.phase === 'grow') {
    if (flipped.length > 0) {
      s.phase = 'bisect'
      s.hi = level(s.level)
      s.lo = s.level === 0 ? 0 : level(s.level - 1)
      s.dirs = flipped.map((q) => q.dir)
    } else if (++s.level === LEVELS) s.phase = 'done'
  } else if (flipped.length > 0) {
    s.hi = flipped[0].magnitude
    s.dirs = flipped.map((q) => q.dir)
  } else {
    s.lo = (s.lo + s.hi) / 2
  }
  if (s.phase === 'bisect' && converged(s)) s.phase = 'done'
  if (s.queries >= spec.budget) s.phase = 'done'
}

/** The bracket is within 1% of the flipping magnitude. */
function converged(s: Search): boolean {
  return s.hi - s.lo <= 0.01 * s.hi
}

/** Most sensitive first: smallest median change in sd (then in units), features that never flipped last. */
export function sortSensitivity(rows: SensitivityRow[]): SensitivityRow[] {
  const key = (r: SensitivityRow) => (r.rowsFlipped === 0 ? Infinity : (r.medianChangeInSd ?? r.medianChange ?? Infinity))
  return [...rows].sort((a, b) => key(a) - key(b) || (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0))
}
