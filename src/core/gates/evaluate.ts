import type { CheckResult, CheckStatus, Severity, Status } from '../result/types.js'
import { compare, type GateSpec } from './expression.js'
import type { FailOn } from '../settings/index.js'
import { EXIT_GATE_FAILED, EXIT_PASS } from '../errors.js'

export interface GateInput {
  dataset: string
  metrics: Record<string, number>
  /** Baseline metrics on the same data set; undefined when there is no baseline yet. */
  baseline?: Record<string, number>
  /** Why a metric is absent (e.g. "the model gives no probabilities"), for the message. */
  unavailable?: Record<string, string>
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : Number(x.toPrecision(6)).toString())
const signed = (x: number) => (x >= 0 ? `+${fmt(x)}` : fmt(x))

/** The bound a change gate compares with: baseline + delta, or baseline + delta·|baseline| when relative. */
export function changeBound(baseline: number, delta: number, relative: boolean): number {
  return relative ? baseline + delta * Math.abs(baseline) : baseline + delta
}

export function evaluateGate(gate: GateSpec, input: GateInput): CheckResult {
  const id = `${gate.bound.kind === 'absolute' ? 'threshold' : 'change'}/${input.dataset}/${gate.expression.replace(/\s+/g, '')}`
  const base = {
    id,
    kind: gate.bound.kind === 'absolute' ? 'threshold' : 'change',
    dataset: input.dataset,
    severity: gate.severity,
    metric: gate.metric,
  } as const
  const value = input.metrics[gate.metric]
  const violated = (): CheckStatus => gate.severity
  if (value === undefined || Number.isNaN(value)) {
    const why = input.unavailable?.[gate.metric] ?? 'the metric was not computed'
    return { ...base, status: violated(), value: null, message: `${gate.metric} is not available: ${why}` }
  }
  if (gate.bound.kind === 'absolute') {
    const ok = compare(value, gate.op, gate.bound.value)
    return {
      ...base,
      status: ok ? 'pass' : violated(),
      value,
      threshold: { op: gate.op, value: gate.bound.value, expression: gate.expression },
      message: `${gate.metric} = ${fmt(value)}, ${ok ? 'meets' : 'does not meet'} ${gate.op} ${fmt(gate.bound.value)}`,
    }
  }
  const baselineValue = input.baseline?.[gate.metric]
  if (input.baseline === undefined) {
    return { ...base, status: 'skipped', value, baseline: null, message: `no baseline yet (first run): ${gate.expression} skipped` }
  }
  if (baselineValue === undefined || Number.isNaN(baselineValue)) {
    return { ...base, status: 'skipped', value, baseline: null, message: `the baseline has no ${gate.metric}: ${gate.expression} skipped` }
  }
  const bound = changeBound(baselineValue, gate.bound.delta, gate.bound.relative)
  const ok = compare(value, gate.op, bound)
  return {
    ...base,
    status: ok ? 'pass' : violated(),
    value,
    baseline: baselineValue,
    threshold: { op: gate.op, value: bound, expression: gate.expression },
    message: `${gate.metric} = ${fmt(value)} vs baseline ${fmt(baselineValue)} (${signed(value - baselineValue)}); needs ${gate.op} ${fmt(bound)}`,
  }
}

export function evaluateGates(gates: GateSpec[], inputs: GateInput[]): CheckResult[] {
  return inputs.flatMap((input) => gates.map((g) => evaluateGate(g, input)))
}

/** The run's status from its checks: any failed `fail` check fails it; any warning makes it `warn`. */
export function overallStatus(checks: CheckResult[]): Status {
  if (checks.some((c) => c.status === 'fail')) return 'fail'
  if (checks.some((c) => c.status === 'warn')) return 'warn'
  return 'pass'
}

export function exitCodeFor(status: Status, failOn: FailOn): number {
  if (status === 'error') return 2
  if (failOn === 'never') return EXIT_PASS
  if (status === 'fail') return EXIT_GATE_FAILED
  if (status === 'warn' && failOn === 'warn') return EXIT_GATE_FAILED
  return EXIT_PASS
}

export function checkStatusFor(ok: boolean, severity: Severity): CheckStatus {
  return ok ? 'pass' : severity
}
