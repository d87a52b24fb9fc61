import type { Cell } from '../../data/types.js'
import { stressValues } from '../perturb.js'
import type { RobustnessTest } from '../types.js'
import { plural } from '../../report/common.js'
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
  /** What happened, without a row number: the row, when known, is `row`. */
  message: string
  /** The data row (1-based, as the report numbers rows) the problem showed in, when it concerns one row. */
  row?: number
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
      const columns = base.map((cells, k) => (k === j ? new Array<Cell>(cells.length).fill(value) : cells))
      const restarts = ctx.session.restarts
      const r = await ctx.session.tryPredict(columns, ctx.probe)
      if (ctx.session.restarts > restarts || ctx.session.dead !== undefined) tally.crashes++
      tally.tested.push(profile.name)
      tally.values.push(value)
      if (r.ok) {
        const bad = ctx.judge.invalid(r.out)
        if (bad !== undefined) {
          const row = bad.row === undefined ? undefined : ctx.rowNumbers[bad.row]
          tally.broke.push({
            feature: profile.name,
            value,
            message: `invalid output: ${bad.problem}`,
            ...(row === undefined ? {} : { row }),
          })
        }
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
  // `stress value NaN`, not `nan (NaN)`: the value in brackets only when it says more than the label.
  const input = `stress value ${values.toLowerCase() === t.label.toLowerCase() ? values : `${t.label} (${values})`}`
  if (t.tested.length === 0) return skippedTest(base, ctx.session.dead ?? `no feature was tested with ${t.label}`)
  // An example row carries its row number; a message names it once, with the input that caused it.
  const example = (f: Finding) => `${f.feature} = ${describeCell(f.value)}: ${f.message}`
  const instance = (f: Finding) => `${f.feature} = ${describeCell(f.value)}${f.row === undefined ? '' : ` in row ${f.row}`}: ${f.message}`
  const examples = t.broke.slice(0, 5).map((f) => ({ row: f.row ?? ctx.rowNumbers[0], message: example(f) }))
  const features = (n: number) => plural(n, 'feature')
  const spared =
    t.spared.length > 0
      ? `; not tried on ${plural(t.spared.length, 'more feature', 'more features')} after it crashed the model ${MAX_CRASHES_PER_VALUE} times`
      : ''
  const left = `${spared}${untested.length > 0 ? `; ${features(untested.length)} not tested (time budget or the model stopped answering)` : ''}`
  const rejected =
    t.rejected.length > 0 ? `; rejected with a clear error for ${features(t.rejected.length)}, e.g. ${instance(t.rejected[0])}` : ''
  const across = t.tested.length === 1 ? `in ${t.tested[0]}` : `in each of ${features(t.tested.length)}`
  if (t.rejected.length > 0) base.parameters.rejected = t.rejected.map((f) => f.feature)
  if (t.spared.length > 0) base.parameters.untried = t.spared
  if (t.broke.length > 0) {
    return {
      ...base,
      rows: t.tested.length * rows,
      violations: t.broke.length,
      examples,
      status: 'fail',
      message: `${input} broke the model in ${t.broke.length} of ${features(t.tested.length)}: ${instance(t.broke[0])}${rejected}${left}`,
    }
  }
  return {
    ...base,
    rows: t.tested.length * rows,
    violations: 0,
    examples,
    status: 'pass',
    message: `${input} ${across}: no crash, valid outputs${rejected}${left}`,
  }
}
