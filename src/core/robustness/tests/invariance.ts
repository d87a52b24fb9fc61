import type { MetricsResult } from '../../metrics/index.js'
import { plural } from '../../report/common.js'
import { differenceText } from '../../report/robustness.js'
import type { PredictionBatch } from '../../runners/types.js'
import { compareFlips } from '../paired.js'
import { describePerturbation, perturb } from '../perturb.js'
import type { BaselineFlips, PerturbationSpec, RobustnessTest } from '../types.js'
import {
  HEADLINE_METRIC,
  failedCallTest,
  fmt,
  percent,
  rngFor,
  scorePairedCopies,
  wilson,
  type CopyResult,
  type TestContext,
} from './common.js'

/** One invariance test to run: a perturbation at one severity, with its stable id. */
export interface InvarianceCase {
  id: string
  spec: PerturbationSpec
}

export interface FlipThresholds {
  fail: number
  major: number
}

export interface InvarianceOutcome {
  test: RobustnessTest
  /** Every metric under the perturbation, for the degradation gates; undefined when the model failed. */
  metrics?: MetricsResult
  /** Why the baseline model has no flip rate on this test although the candidate has one (its call failed). */
  baselineFailure?: string
}

/** `invariance/<kind>/<severity>`, made unique with `#2`, `#3` when the manifest repeats one. */
export function invarianceCases(specs: PerturbationSpec[]): InvarianceCase[] {
  const seen = new Map<string, number>()
  return specs.map((spec) => {
    const base = `invariance/${spec.kind}/${spec.severity}`
    const n = (seen.get(base) ?? 0) + 1
    seen.set(base, n)
    return { id: n === 1 ? base : `${base}#${n}`, spec }
  })
}

/**
 * Flip rates of every case over the whole sample, all cases in the same model calls (see scoreCopies).
 * Each case perturbs with its own seeded stream, so its result does not depend on the other cases.
 * With a baseline model, it scores the very perturbed rows the candidate scored (scorePairedCopies).
 */
export async function runInvariance(ctx: TestContext, cases: InvarianceCase[], flips: FlipThresholds): Promise<InvarianceOutcome[]> {
  const streams = cases.map((c) => rngFor(ctx.seed, c.id))
  const scored = await scorePairedCopies(
    ctx,
    cases.map((c, k) => (chunk, _start, target) => perturb(chunk, ctx.profiles, c.spec, streams[k], target)),
  )
  const results = scored.candidate
  return cases.map((c, k) => {
    const r = results[k]
    const base = {
      id: c.id,
      kind: 'invariance' as const,
      perturbation: c.spec.kind,
      parameters: parametersOf(c.spec),
    }
    if (!r.ok) return { test: failedCallTest(base, r.failure, `the perturbed rows (${describePerturbation(c.spec)})`) }
    return judgeFlips(ctx, c, base, r.out, flips, scored.baseline?.[k])
  })
}

function parametersOf(spec: PerturbationSpec): RobustnessTest['parameters'] {
  const p: RobustnessTest['parameters'] = { severity: spec.severity, features: spec.features }
  if (spec.group !== undefined) p.group = spec.group
  return p
}

function judgeFlips(
  ctx: TestContext,
  c: InvarianceCase,
  base: Pick<RobustnessTest, 'id' | 'kind' | 'perturbation' | 'parameters'>,
  out: PredictionBatch,
  flips: FlipThresholds,
  baselineOut?: CopyResult,
): InvarianceOutcome {
  const judge = ctx.judge
  const decisions = judge.decisions(out)
  const n = out.length
  const examples: { row: number; message: string }[] = []
  const rowFlips = new Array<boolean>(n).fill(false)
  let flipped = 0
  for (let i = 0; i < n; i++) {
    if (!judge.flipped(ctx.cleanDecisions, decisions, i)) continue
    rowFlips[i] = true
    flipped++
    if (examples.length < 5) {
      examples.push({
        row: ctx.rowNumbers[i],
        message: `row ${ctx.rowNumbers[i]}: ${describeDecision(ctx.cleanDecisions[i])} → ${describeDecision(decisions[i])}`,
      })
    }
  }
  const rate = flipped / n
  const interval = wilson(flipped, n)
  let metrics: MetricsResult | undefined
  try {
    metrics = judge.metrics(out)
  } catch {
    metrics = undefined
  }
  const name = HEADLINE_METRIC[judge.task]
  const cleanValue = ctx.cleanMetrics[name]
  const perturbed = metrics?.metrics[name]
  const metric =
    cleanValue !== undefined && perturbed !== undefined
      ? {
          name,
          clean: cleanValue,
          perturbed,
          absolute: perturbed - cleanValue,
          relative: cleanValue === 0 ? 0 : (perturbed - cleanValue) / Math.abs(cleanValue),
        }
      : undefined
  // Point estimate decides; a warning when flips were seen and the interval cannot rule out the threshold.
  const status = rate >= flips.fail ? 'fail' : flipped > 0 && interval.high >= flips.fail ? 'warn' : 'pass'
  const level = status === 'fail' ? (rate >= flips.major ? 'major' : 'minor') : undefined
  const what = judge.task === 'regression' ? 'moved beyond the tolerance' : 'changed label'
  const metricText = metric
    ? `; ${name} ${fmt(metric.clean)} → ${fmt(metric.perturbed)} (${metric.absolute >= 0 ? '+' : ''}${fmt(metric.absolute)}, ${metric.relative >= 0 ? '+' : ''}${percent(metric.relative)})`
    : ''
  const versus = ctx.baseline && baselineOut?.ok ? pairedFlips(ctx, rowFlips, baselineOut.out) : undefined
  const baselineText = versus ? `; ${ctx.baseline!.against}: ${percent(versus.flipRate)}, ${differenceText(versus)}` : ''
  const verdict =
    status === 'fail'
      ? ` — ${level} (fails at ${percent(flips.fail)}${level === 'major' ? `, major at ${percent(flips.major)}` : ''})`
      : status === 'warn'
        ? ` — the 95% interval reaches the ${percent(flips.fail)} threshold`
        : ''
  return {
    metrics,
    ...(ctx.baseline && baselineOut && !baselineOut.ok ? { baselineFailure: baselineOut.failure.message } : {}),
    test: {
      ...base,
      rows: n,
      flipRate: rate,
      flipInterval: interval,
      metric,
      violations: flipped,
      examples,
      status,
      level,
      message: `${describePerturbation(c.spec)}: ${flipped} of ${plural(n, 'row')} ${what} (${percent(rate)}, 95% CI ${percent(interval.low)}–${percent(interval.high)})${metricText}${baselineText}${verdict}`,
      ...(versus ? { baseline: versus } : {}),
    },
  }
}

/** The baseline's flips on the same perturbed rows (each against its own clean decision), paired with the candidate's. */
function pairedFlips(ctx: TestContext, candidate: boolean[], out: PredictionBatch): BaselineFlips {
  const decisions = ctx.judge.decisions(out)
  const flipped = candidate.map((_, i) => ctx.judge.flipped(ctx.baseline!.cleanDecisions, decisions, i))
  return compareFlips(candidate, flipped)
}

function describeDecision(d: unknown): string {
  return typeof d === 'number' ? fmt(d) : JSON.stringify(d)
}
