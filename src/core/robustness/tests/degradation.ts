import { compare, type GateSpec } from '../../gates/expression.js'
import { changeBound } from '../../gates/evaluate.js'
import { plural } from '../../report/common.js'
import { FLIP_RATE } from '../schema.js'
import type { RobustnessTest } from '../types.js'
import { fmt } from './common.js'
import type { InvarianceOutcome } from './invariance.js'

/**
 * One test per degradation gate: the gate must hold under every invariance perturbation, with the
 * clean metric in the place of validate's baseline. The test reports the perturbation that came
 * closest to (or went furthest past) the bound, and lists every one that broke it.
 * `flip_rate` gates judge each test's flip rate, against a number or the baseline model's flip rate on
 * the same test; `noBaseline` says why there is none (such gates are then skipped, as validate skips its
 * change gates on a first run).
 */
export function runDegradation(
  ctx: { cleanMetrics: Record<string, number>; against?: string },
  gates: GateSpec[],
  outcomes: InvarianceOutcome[],
  noBaseline?: string,
): RobustnessTest[] {
  return gates.map((gate) =>
    gate.metric === FLIP_RATE ? judgeFlipGate(gate, outcomes, ctx.against, noBaseline) : judgeGate(ctx, gate, outcomes),
  )
}

function gateBase(gate: GateSpec) {
  return {
    id: `degradation/${gate.expression.replace(/\s+/g, '')}`,
    kind: 'degradation' as const,
    parameters: { gate: gate.expression, severity: gate.severity } as RobustnessTest['parameters'],
  }
}

/**
 * A flip-rate gate over every invariance test that measured a flip rate: `flip_rate <= 0.05`, or
 * `flip_rate <= baseline + 0.02` with the baseline model's flip rate on the same rows and perturbed
 * inputs. The point estimates decide, as they do for flip-fail; the paired interval is in each test.
 */
function judgeFlipGate(gate: GateSpec, outcomes: InvarianceOutcome[], against = 'the baseline', noBaseline?: string): RobustnessTest {
  const base = gateBase(gate)
  const relative = gate.bound.kind === 'change'
  if (relative && noBaseline !== undefined) return { ...base, rows: 0, status: 'skipped', message: `skipped: ${noBaseline}` }
  const measured = outcomes.filter((o) => o.test.flipRate !== undefined)
  const judged = relative ? measured.filter((o) => o.test.baseline !== undefined) : measured
  if (judged.length === 0) {
    const what = relative ? 'flip rates of both models' : 'a flip rate'
    return { ...base, rows: 0, status: 'skipped', message: `skipped: no invariance test measured ${what} to judge ${gate.expression}` }
  }
  const broken: string[] = []
  let worst: { test: RobustnessTest; value: number; bound: number; margin: number } | undefined
  for (const o of judged) {
    const value = o.test.flipRate!
    const bound = boundOf(gate, o.test.baseline?.flipRate ?? NaN)
    if (!compare(value, gate.op, bound)) broken.push(o.test.id)
    const margin = marginOf(value, gate, bound)
    if (worst === undefined || margin < worst.margin) worst = { test: o.test, value, bound, margin }
  }
  const w = worst!
  const reference = relative && w.test.baseline ? ` (${against} ${fmt(w.test.baseline.flipRate)})` : ''
  const worstText = `${w.test.id.replace(/^invariance\//, '')}: flip rate ${fmt(w.value)}, needs ${gate.op} ${fmt(w.bound)}${reference}`
  const unjudged = measured.length - judged.length
  const left = unjudged > 0 ? `; ${plural(unjudged, 'test')} without the baseline's flip rate (its model call failed) not judged` : ''
  return {
    ...base,
    parameters: { ...base.parameters, broken },
    rows: judged[0].test.rows,
    violations: broken.length,
    gate: {
      test: w.test.id,
      op: gate.op,
      value: w.value,
      bound: w.bound,
      ...(relative && w.test.baseline ? { baseline: w.test.baseline.flipRate } : {}),
    },
    status: broken.length === 0 ? 'pass' : gate.severity,
    message:
      (broken.length === 0
        ? `${gate.expression} holds under all ${plural(judged.length, 'perturbation')}; closest ${worstText}`
        : `${gate.expression} breaks under ${broken.length} of ${plural(judged.length, 'perturbation')}; worst ${worstText}`) + left,
  }
}

function boundOf(gate: GateSpec, reference: number): number {
  return gate.bound.kind === 'absolute' ? gate.bound.value : changeBound(reference, gate.bound.delta, gate.bound.relative)
}

function judgeGate(ctx: { cleanMetrics: Record<string, number> }, gate: GateSpec, outcomes: InvarianceOutcome[]): RobustnessTest {
  const base = gateBase(gate)
  const clean = ctx.cleanMetrics[gate.metric]
  if (clean === undefined) {
    return {
      ...base,
      rows: 0,
      status: gate.severity,
      message: `${gate.metric} is not available on the clean rows: ${gate.expression} cannot be judged`,
    }
  }
  const bound = boundOf(gate, clean)
  const judged = outcomes.filter((o) => o.metrics !== undefined)
  if (judged.length === 0) {
    return { ...base, rows: 0, status: 'skipped', message: `skipped: no invariance test produced metrics to judge ${gate.expression}` }
  }
  const broken: string[] = []
  let worst: { id: string; value: number; margin: number } | undefined
  for (const o of judged) {
    const value = o.metrics!.metrics[gate.metric]
    // A metric the perturbed outputs leave undefined counts as broken: the gate cannot be shown to hold.
    const margin = value === undefined ? -Infinity : marginOf(value, gate, bound)
    if (value === undefined || !compare(value, gate.op, bound)) broken.push(o.test.id)
    if (worst === undefined || margin < worst.margin) worst = { id: o.test.id, value: value ?? NaN, margin }
  }
  const rows = judged[0].test.rows
  const worstTest = judged.find((o) => o.test.id === worst!.id)!.test
  const metric = Number.isFinite(worst!.value)
    ? {
        name: gate.metric,
        clean,
        perturbed: worst!.value,
        absolute: worst!.value - clean,
        relative: clean === 0 ? 0 : (worst!.value - clean) / Math.abs(clean),
      }
    : undefined
  const needs = `needs ${gate.op} ${fmt(bound)} (clean ${fmt(clean)})`
  const worstText = `${worstTest.id.replace(/^invariance\//, '')}: ${gate.metric} ${Number.isFinite(worst!.value) ? fmt(worst!.value) : 'not computed'}`
  return {
    ...base,
    parameters: { ...base.parameters, broken },
    rows,
    metric,
    violations: broken.length,
    status: broken.length === 0 ? 'pass' : gate.severity,
    message:
      broken.length === 0
        ? `${gate.expression} holds under all ${plural(judged.length, 'perturbation')}; closest ${worstText}, ${needs}`
        : `${gate.expression} breaks under ${broken.length} of ${plural(judged.length, 'perturbation')}; worst ${worstText}, ${needs}`,
  }
}

/** How far the value is on the passing side of the bound (negative: failing). */
function marginOf(value: number, gate: GateSpec, bound: number): number {
  if (gate.op === '>=' || gate.op === '>') return value - bound
  if (gate.op === '<=' || gate.op === '<') return bound - value
  return -Math.abs(value - bound)
}
