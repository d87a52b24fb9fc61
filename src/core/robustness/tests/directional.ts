import { cellAt, type Cell, type Column } from '../../data/types.js'
import { plural } from '../../report/common.js'
import type { DirectionalEntry } from '../schema.js'
import type { FeatureProfile, RobustnessTest } from '../types.js'
import { describeCell, failedCallTest, fmt, percent, scoreCopies, type Columns, type TestContext } from './common.js'

/**
 * Score changes up to this (relative to the score when above 1) are float noise, not violations. Not
 * smaller: float32 runtimes approximate the logistic function, and a monotone model's p wobbles by
 * up to a few 1e-8 where p is near 0 or 1 (ONNX Runtime on the breast-cancer example: 8.9e-8 → 1.2e-7).
 */
export const DIRECTIONAL_TOLERANCE = 1e-6

/** A feature moved up or down by a fixed amount, clipped to its bounds (integers by at least 1). */
export function moveValue(x: Cell, p: FeatureProfile, delta: number): Cell {
  if (typeof x !== 'number' || !Number.isFinite(x)) return x
  let y = x + delta
  if (p.integer) y = x + (delta > 0 ? Math.max(1, Math.round(delta)) : Math.min(-1, Math.round(delta)))
  if (p.min !== undefined && y < p.min) y = p.min
  if (p.max !== undefined && y > p.max) y = p.max
  return y
}

/** moveValue on every cell; a typed column stays typed (a missing value, NaN, is not moved). */
function moveColumn(cells: Column, p: FeatureProfile, delta: number): Column {
  if (cells instanceof Float64Array) return cells.map((x) => moveValue(x, p, delta) as number)
  return cells.map((x) => moveValue(x, p, delta))
}

/** The feature's sd, or 1 when the sample gives none (constant or empty): the step is then in its own units. */
export function unitOf(p: FeatureProfile): number {
  return p.std !== undefined && p.std > 0 ? p.std : 1
}

/**
 * Each expectation on every row: raise the feature by step·sd and compare the score.
 * `increasing`: the score must not fall; `decreasing`: it must not rise. Rows whose value cannot move
 * (missing, or already at the bound) are not counted. All expectations share the model calls.
 */
export async function runDirectional(ctx: TestContext, entries: DirectionalEntry[]): Promise<RobustnessTest[]> {
  const index = entries.map((e) => ctx.profiles.findIndex((p) => p.name === e.feature))
  const deltas = entries.map((e, k) => e.step * unitOf(ctx.profiles[index[k]]))
  const results = await scoreCopies(
    ctx,
    entries.map(
      (_, k) => (chunk: Columns) => chunk.map((cells, j) => (j === index[k] ? moveColumn(cells, ctx.profiles[j], deltas[k]) : cells)),
    ),
  )
  return entries.map((e, k) => {
    const base = {
      id: `directional/${e.feature}/${e.direction}`,
      kind: 'directional' as const,
      parameters: { feature: e.feature, direction: e.direction, step: e.step },
    }
    const r = results[k]
    if (!r.ok) return failedCallTest(base, r.failure, `${e.feature} raised by ${fmt(e.step)}·sd`)
    return judgeDirection(ctx, e, index[k], deltas[k], base, r.out)
  })
}

function judgeDirection(
  ctx: TestContext,
  e: DirectionalEntry,
  j: number,
  delta: number,
  base: Pick<RobustnessTest, 'id' | 'kind' | 'parameters'>,
  out: Parameters<TestContext['judge']['decisions']>[0],
): RobustnessTest {
  const judge = ctx.judge
  const p = ctx.profiles[j]
  const decisions = judge.decisions(out)
  const examples: { row: number; message: string }[] = []
  let rows = 0
  let violations = 0
  for (let i = 0; i < out.length; i++) {
    const x = cellAt(ctx.columns[j], i)
    const y = moveValue(x, p, delta)
    if (typeof x !== 'number' || typeof y !== 'number' || y === x) continue
    rows++
    const before = judge.score(ctx.clean, ctx.cleanDecisions, i, ctx.cleanDecisions[i])
    const after = judge.score(out, decisions, i, ctx.cleanDecisions[i])
    const change = after - before
    const noise = DIRECTIONAL_TOLERANCE * Math.max(1, Math.abs(before))
    const broke = e.direction === 'increasing' ? change < -noise : change > noise
    if (!broke) continue
    violations++
    if (examples.length < 5) {
      const name = judge.scoreName(ctx.cleanDecisions[i])
      examples.push({
        row: ctx.rowNumbers[i],
        message: `row ${ctx.rowNumbers[i]}: ${name} ${fmt(before)} → ${fmt(after)} when ${e.feature} ${describeCell(x)} → ${describeCell(y)}`,
      })
    }
  }
  const unit = p.std !== undefined && p.std > 0 ? 'sd' : 'unit (the sample gives it no sd)'
  const expectation = `raising ${e.feature} by ${fmt(e.step)} ${unit} must not ${e.direction === 'increasing' ? 'lower' : 'raise'} ${scoreWord(ctx)}`
  if (rows === 0) {
    return {
      ...base,
      rows: 0,
      violations: 0,
      examples,
      status: 'skipped',
      message: `skipped: ${expectation}, but no row could be moved (missing values or all at the bound)`,
    }
  }
  const rate = violations / rows
  const status = rate > e['max-violations'] ? 'fail' : 'pass'
  const allowed = e['max-violations'] > 0 ? ` (allowed: ${percent(e['max-violations'])})` : ''
  return {
    ...base,
    rows,
    violations,
    examples,
    status,
    message:
      violations === 0
        ? `${expectation}: holds on all ${plural(rows, 'row')}`
        : `${expectation}: broken on ${violations} of ${plural(rows, 'row')} (${percent(rate)})${allowed}, e.g. ${examples[0].message}`,
  }
}

function scoreWord(ctx: TestContext): string {
  if (ctx.judge.task === 'regression') return 'the prediction'
  if (ctx.judge.task === 'binary') return `p(${String(ctx.judge.positiveClass)})`
  return "the probability of the row's clean predicted class (multiclass)"
}
