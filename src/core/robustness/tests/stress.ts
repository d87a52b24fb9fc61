import type { Cell } from '../../data/types.js'
import { stressValues } from '../perturb.js'
import type { RobustnessTest } from '../types.js'
import { describeCell, sliceColumns, skippedTest, type TestContext } from './common.js'

/** Rows each stress value is tried on: enough to see a broken output, few enough for every feature × value. */
export const STRESS_ROWS = 3
/**
 * A value that has crashed the model this many times is not tried on further features: each crash
 * costs a restart (loading the model again), and more crashes of the same kind say nothing new.
 */
export const MAX_CRASHES_PER_VALUE = 3

interface Finding {
  feature: string
  value: Cell
  message: string
}

interface LabelTally {
  label: string
  tested: string[]
  values: Cell[]
  broke: Finding[]
  rejected: Finding[]
  crashes: number
  /** Features not tried after the value crashed the model MAX_CRASHES_PER_VALUE times. */
  spared: string[]
}

/**
 * Stress inputs, one feature at a time: each stress value replaces the feature in a few rows.
 * - valid outputs: pass;
 * - the runner refuses the value as input its type cannot hold (a CellError naming the cell, e.g. ONNX
 *   given a string for a float input): pass, "rejected with a clear error" — refusing is valid behaviour;
 * - any other error (a crashed process, an error reply, a malformed answer) or invalid outputs (NaN or
 *   out-of-range probabilities, missing labels, non-finite values): a finding naming the feature, the
 *   value and the error; the model is probed and restarted if it died, and the run goes on.
 * One test per stress value (`stress/nan`, `stress/empty`, …) across all features; a value that crashed
 * the model three times (each crash costs a restart) is not tried on the remaining features.
 * `hasTime` is asked before each feature; features left over are listed as not tested.
 */
export async function runStress(ctx: TestContext, hasTime: () => boolean): Promise<{ tests: RobustnessTest[]; untested: string[] }> {
  const rows = Math.min(STRESS_ROWS, ctx.columns[0]?.length ?? 0)
  const base = sliceColumns(ctx.columns, 0, rows)
  const tallies = new Map<string, LabelTally>()
  const untested: string[] = []
  for (let j = 0; j < ctx.profiles.length; j++) {
    const profile = ctx.profiles[j]
    if (!hasTime() || ctx.session.dead !== undefined) {
      untested.push(profile.name)
      continue
    }
    for (const { label, value } of stressValues(profile)) {
      const tally = tallies.get(label) ?? { label, tested: [], values: [], broke: [], rejected: [], crashes: 0, spared: [] }
      tallies.set(label, tally)
      if (ctx.session.dead !== undefined) break
      if (tally.crashes >= MAX_CRASHES_PER_VALUE) {
        tally.spared.push(profile.name)
        continue
      }
      const columns = base.map((cells, k) => (k === j ? cells.map(() => value) : cells))
      const restarts = ctx.session.restarts
      const r = await ctx.session.tryPredict(columns, ctx.probe)
      if (ctx.session.restarts > restarts || ctx.session.dead !== undefined) tally.crashes++
      tally.tested.push(profile.name)
      tally.values.push(value)
      if (r.ok) {
        const bad = ctx.judge.invalid(r.out)
        if (bad !== undefined) tally.broke.push({ feature: profile.name, value, message: `invalid output: ${bad}` })
      } else if (r.refused) tally.rejected.push({ feature: profile.name, value, message: r.message })
      else tally.broke.push({ feature: profile.name, value, message: `the model failed: ${r.message}` })
    }
  }
  const tests = [...tallies.values()].map((t) => judgeTally(ctx, t, rows, untested))
  return { tests, untested }
}

function judgeTally(ctx: TestContext, t: LabelTally, rows: number, untested: string[]): RobustnessTest {
  const base = {
    id: `stress/${t.label}`,
    kind: 'stress' as const,
    parameters: { value: t.label, features: t.tested } as RobustnessTest['parameters'],
  }
  const distinct = [...new Set(t.values.map(describeCell))]
  // Scaled values (huge, -huge) differ per feature: one example says what they look like.
  const values = distinct.length <= 3 ? distinct.join(', ') : `per feature, e.g. ${distinct[0]}`
  if (t.tested.length === 0) return skippedTest(base, ctx.session.dead ?? `no feature was tested with ${t.label}`)
  const example = (f: Finding) => `${f.feature} = ${describeCell(f.value)}: ${f.message}`
  const examples = t.broke.slice(0, 5).map((f) => ({ row: ctx.rowNumbers[0], message: example(f) }))
  const spared =
    t.spared.length > 0 ? `; not tried on ${t.spared.length} more feature(s) after it crashed the model ${MAX_CRASHES_PER_VALUE} times` : ''
  const left = `${spared}${untested.length > 0 ? `; ${untested.length} feature(s) not tested (time budget or the model stopped answering)` : ''}`
  const rejected =
    t.rejected.length > 0 ? `; rejected with a clear error for ${t.rejected.length} feature(s), e.g. ${example(t.rejected[0])}` : ''
  if (t.rejected.length > 0) base.parameters.rejected = t.rejected.map((f) => f.feature)
  if (t.spared.length > 0) base.parameters.untried = t.spared
  if (t.broke.length > 0) {
    return {
      ...base,
      rows: t.tested.length * rows,
      violations: t.broke.length,
      examples,
      status: 'fail',
      message: `${t.label} (${values}) broke the model in ${t.broke.length} of ${t.tested.length} features: ${example(t.broke[0])}${rejected}${left}`,
    }
  }
  return {
    ...base,
    rows: t.tested.length * rows,
    violations: 0,
    examples,
    status: 'pass',
    message: `${t.label} (${values}) in each of ${t.tested.length} features: no crash, valid outputs${rejected}${left}`,
  }
}
