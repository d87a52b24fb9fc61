import { performance } from 'node:perf_hooks'
import { buildScoredRows } from '../evaluation/build.js'
import type { ScoredRows } from '../evaluation/types.js'
import type { CheckResult, CheckStatus, Comparison, Task } from '../result/types.js'
import { UserError } from '../errors.js'
import { sensitiveColumns } from '../fairness/schema.js'
import { evaluateFairness, fairnessUnsupported } from '../fairness/evaluate.js'
import { calibrationNotes, evaluateCalibration } from '../calibration/evaluate.js'
import type { ComparisonSettings, Settings } from '../settings/index.js'
import { comparableMetrics, compareModels } from '../compare/compare.js'
import { METRIC_DIRECTIONS } from '../metrics/index.js'
import { checkSliceColumns, checkSliceMetrics, discoveryFeatures, sliceColumns } from '../slices/schema.js'
import { evaluateSlices } from '../slices/evaluate.js'
import { discoverWeakSlices } from '../slices/discover.js'
import type { AnalysedDataset, Analysis, DatasetMetrics, Scoring, DescribedModel, ValidationPlan } from './stages.js'

/*
 * The statistics on top of the metrics (issue 3): champion vs challenger, slices, fairness, calibration.
 * Each works on one data set's ScoredRows; this module decides what runs and turns results into checks.
 * Stage 4 of validate-model (analyse, run.ts lists the stages), with the checks of the manifest's
 * statistics settings that the earlier stages make before any row is scored.
 */

export type { Analysis } from './stages.js'

const direction = (metric: string) => METRIC_DIRECTIONS[metric] ?? 'higher'

/** The columns the statistics need kept per row while the data streams past. */
export function keptColumns(settings: Settings): string[] {
  const out = new Set<string>()
  if (settings.slices) {
    for (const c of sliceColumns(settings.slices)) out.add(c)
    if (settings.slices.discover) for (const c of discoveryFeatures(settings.slices, settings.features)) out.add(c)
  }
  if (settings.fairness) for (const c of sensitiveColumns(settings.fairness)) out.add(c)
  return [...out]
}

/** Checks that need the data's columns, before any row is scored. */
export function checkAnalysisColumns(settings: Settings, columns: string[], file: string): void {
  if (settings.slices) checkSliceColumns(settings.slices, columns, settings.manifestPath ?? file)
}

/** Checks that need the task. */
export function checkAnalysisMetrics(settings: Settings, task: Task): void {
  if (settings.slices) checkSliceMetrics(settings.slices, task, settings.manifestPath)
  const unsupported = settings.fairness ? fairnessUnsupported(task) : undefined
  if (unsupported)
    throw new UserError(`${settings.manifestPath ? `${settings.manifestPath}: ` : ''}fairness: ${unsupported}`, {
      file: settings.manifestPath,
      field: 'fairness',
    })
}

/** The task's headline metrics, compared report-only when the manifest names none (those the outputs allow). */
function defaultComparisonMetrics(rows: ScoredRows): string[] {
  if (rows.task === 'regression') return ['mae', 'rmse', 'r2']
  if (rows.task === 'multiclass') return comparableMetrics(rows, ['accuracy', 'f1_macro', 'log_loss'])
  return comparableMetrics(rows, ['accuracy', 'f1', 'roc_auc', 'log_loss'])
}

/** Whether anything here has work to do, so that a plain validation does not pay for the per-row arrays. */
export function wantsAnalysis(settings: Settings, hasBaselineRows: boolean): boolean {
  return hasBaselineRows || settings.slices !== undefined || settings.fairness !== undefined || settings.calibration
}

/** The statistics of one data set, on the rows and matched labels its metrics were computed from. */
export function analyseDataset(plan: ValidationPlan<DescribedModel>, scoring: Scoring, measured: DatasetMetrics): AnalysedDataset {
  const { settings } = plan
  const { run, candidate: m, baseline: baselineOut } = measured
  if (!wantsAnalysis(settings, baselineOut !== undefined)) return measured
  const scoredRows = buildScoredRows({
    task: scoring.task,
    classes: m.classes,
    positiveClass: settings.positiveClass,
    threshold: settings.decisionThreshold,
    eceBins: settings.eceBins,
    yTrue: m.yTrue,
    candidate: m.predictions,
    baseline: baselineOut?.predictions,
    columns: run.kept,
  })
  const ta = performance.now()
  const analysis = analyse(settings, scoredRows, run.data.name)
  const analysisSeconds = (performance.now() - ta) / 1000
  for (const c of analysis.checks) c.seconds ??= analysisSeconds
  return { ...measured, analysis }
}

export function analyse(settings: Settings, rows: ScoredRows, dataset: string): Analysis {
  const out: Analysis = { comparisons: [], slices: [], fairness: [], checks: [], notes: [] }
  const bootstrap = settings.comparison.bootstrap
  if (rows.baseline) {
    const specs: NonNullable<ComparisonSettings['metrics']> =
      settings.comparison.metrics ?? defaultComparisonMetrics(rows).map((metric) => ({ metric }))
    const possible = new Set(
      comparableMetrics(
        rows,
        specs.map((x) => x.metric),
      ),
    )
    for (const spec of specs.filter((x) => !possible.has(x.metric))) {
      // Asked for, but one of the models' outputs cannot give it (e.g. ROC AUC without probabilities).
      const why = `${dataset}: ${spec.metric} was not compared: one of the models gives no output it can be computed from`
      out.notes.push(why)
      if (spec.superiority !== undefined || spec.nonInferiority !== undefined) {
        out.checks.push({
          id: `comparison/${dataset}/${spec.metric}`,
          kind: 'comparison',
          dataset,
          status: 'fail',
          severity: 'fail',
          metric: spec.metric,
          value: null,
          message: why,
        })
      }
    }
    out.comparisons = compareModels(
      rows,
      dataset,
      specs.filter((x) => possible.has(x.metric)),
      bootstrap,
      direction,
    )
    out.checks.push(...out.comparisons.filter((c) => c.verdict).map((c) => comparisonCheck(c, settings.comparison)))
  }
  if (settings.slices) {
    const evaluated = evaluateSlices(rows, dataset, settings.slices, bootstrap, direction)
    out.slices.push(...evaluated.slices)
    out.checks.push(...evaluated.checks)
    if (settings.slices.discover) {
      const features = Object.fromEntries(discoveryFeatures(settings.slices, settings.features).map((f) => [f, rows.columns[f]]))
      const found = discoverWeakSlices(rows, dataset, settings.slices, bootstrap, features)
      out.slices.push(...found.slices)
      if (found.note) out.notes.push(found.note)
    }
  }
  if (settings.fairness) {
    const f = evaluateFairness(rows, dataset, settings.fairness, bootstrap)
    out.fairness.push(...f.results)
    out.checks.push(...f.checks)
    out.notes.push(...f.notes)
  }
  if (settings.calibration) {
    out.calibration = evaluateCalibration(rows, dataset, bootstrap)
    if (out.calibration) out.notes.push(...calibrationNotes(out.calibration))
    else out.notes.push(`${dataset}: calibration needs a binary model with probabilities; none was computed.`)
  }
  return out
}

function comparisonCheck(c: Comparison, settings: ComparisonSettings): CheckResult {
  const onInconclusive: Record<ComparisonSettings['inconclusive'], CheckStatus> = { warn: 'warn', fail: 'fail', pass: 'pass' }
  const status: CheckStatus = c.verdict === 'inconclusive' ? onInconclusive[settings.inconclusive] : c.verdict === 'pass' ? 'pass' : 'fail'
  const margin = c.margin!
  return {
    id: `comparison/${c.dataset}/${c.metric}/${margin.kind}`,
    kind: 'comparison',
    dataset: c.dataset,
    status,
    severity: c.verdict === 'inconclusive' && settings.inconclusive === 'warn' ? 'warn' : 'fail',
    metric: c.metric,
    // value and baseline are the metric's, as in a change gate; the margin bounds their difference.
    value: c.candidate,
    baseline: c.baseline,
    threshold: {
      op: direction(c.metric) === 'higher' ? '>' : '<',
      value: direction(c.metric) === 'higher' ? margin.delta : -margin.delta,
      expression: `${c.metric} ${margin.kind} ${margin.delta >= 0 ? '+' : '−'}${Math.abs(margin.delta)}`,
    },
    message: c.message,
  }
}
