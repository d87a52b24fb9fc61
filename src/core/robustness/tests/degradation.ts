import { compare, type GateSpec } from '../../gates/expression.js'
import { changeBound } from '../../gates/evaluate.js'
import { plural } from '../../report/common.js'
import type { RobustnessTest } from '../types.js'
import { fmt, type TestContext } from './common.js'
import type { InvarianceOutcome } from './invariance.js'

/**
 * One test per degradation gate: the gate must hold under every invariance perturbation, with the
 * clean metric in the place of validate's baseline. The test reports the perturbation that came
 * closest to (or went furthest past) the bound, and lists every one that broke it.
 */
export function runDegradation(ctx: TestContext, gates: GateSpec[], outcomes: InvarianceOutcome[]): RobustnessTest[] {
  return gates.map((gate) => judgeGate(ctx, gate, outcomes))
}

function judgeGate(ctx: TestContext, gate: GateSpec, outcomes: InvarianceOutcome[]): RobustnessTest {
  const base = {
    id: `degradation/${gate.expression.replace(/\s+/g, '')}`,
    kind: 'degradation' as const,
    parameters: { gate: gate.expression, severity: gate.severity } as RobustnessTest['parameters'],
  }
  const clean = ctx.cleanMetrics[gate.metric]
  if (clean === undefined) {
    return {
      ...base,
      rows: 0,
      status: gate.severity,
      message: `${gate.metric} is not available on the clean rows: ${gate.expression} cannot be judged`,
    }
  }
  const bound = gate.bound.kind === 'absolute' ? gate.bound.value : changeBound(clean, gate.bound.delta, gate.bound.relative)
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
