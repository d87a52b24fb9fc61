/*
 * Stage 6 of validate-model, result: the notes about the run as a whole (what the baseline was, or why
 * there was none; which outputs the metrics came from; inferred features) and the ValidationResult,
 * whose first data set's metrics are the headline ones.
 */
import { overallStatus } from '../gates/evaluate.js'
import { RESULT_SCHEMA_VERSION, type ValidationResult } from '../result/types.js'
import { runContext, type CiContext } from './context.js'
import type { Checked, Scoring, DescribedModel, ValidationPlan } from './stages.js'

export function buildResult(
  plan: ValidationPlan<DescribedModel>,
  scoring: Scoring,
  checked: Checked,
  run: { context: CiContext; started: Date; t0: number },
): ValidationResult {
  const { given, settings, baselineReport } = plan
  const baselineInfo = plan.baseline?.info
  const info = plan.candidate.info
  const { data: dataResults, analyses, checks, primaryBaseline } = checked
  const notes = [...checked.notes]
  const warnings = [...(plan.featureWarning ? [plan.featureWarning] : []), ...checked.warnings]
  if (settings.baselineNote) notes.push(settings.baselineNote)
  const from = settings.baselineFrom
  if (from && !from.version) {
    notes.push(
      `No ${from.ref.startsWith('production') || from.stage === 'prod' || from.stage === 'production' ? 'production version' : `version in stage ${from.stage}`} yet: no version of ${from.name} holds stage ${from.stage} in ${from.registry}, so change thresholds and comparisons were skipped (as on a first run).`,
    )
  } else if (settings.gates.some((g) => g.bound.kind === 'change') && !settings.baseline) {
    notes.push(
      'No baseline yet (first run): change thresholds were skipped. Set `baseline` to a model or a previous report to enable them.',
    )
  }
  notes.push(...describeSources(dataResults[0].metricSources))
  if (settings.features !== given.features) notes.push(`Features (inferred): ${settings.features.join(', ')}.`)
  if (settings.baseline?.kind === 'report' && settings.comparison.metrics) {
    notes.push(
      'The baseline is a previous report, which holds no per-row predictions: the comparison section needs a baseline model or predictions file on the same rows, so no intervals or verdicts were computed.',
    )
  }

  const comparisons = analyses.flatMap((a) => a.comparisons)
  const slices = analyses.flatMap((a) => a.slices)
  const fairness = analyses.flatMap((a) => a.fairness)
  const calibration = analyses.flatMap((a) => (a.calibration ? [a.calibration] : []))
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    status: overallStatus(checks),
    task: scoring.task,
    metrics: dataResults[0].metrics,
    checks,
    model: { name: settings.name, ...info },
    ...(settings.features.length > 0 ? { features: settings.features } : {}),
    data: dataResults,
    baseline:
      settings.baseline && primaryBaseline
        ? {
            // A registered version is named by name and version, not by the cache folder it was fetched into.
            source: from?.version
              ? `${from.name} ${from.version}`
              : settings.baseline.kind === 'model'
                ? (baselineInfo?.source ?? settings.baseline.source)
                : settings.baseline.path,
            kind: settings.baseline.kind,
            metrics: primaryBaseline,
            digest: settings.baseline.kind === 'model' ? baselineInfo?.digest : baselineReport?.digest,
          }
        : undefined,
    ...(from ? { registryBaseline: from } : {}),
    comparisons: comparisons.length > 0 ? comparisons : undefined,
    slices: slices.length > 0 ? slices : undefined,
    fairness: fairness.length > 0 ? fairness : undefined,
    calibration: calibration.length > 0 ? calibration : undefined,
    notes,
    ...(warnings.length > 0 ? { warnings } : {}),
    context: runContext(run.context, settings.manifestPath, run.started, run.t0),
  }
}

function describeSources(sources: Record<string, string>): string[] {
  const byOutput = new Map<string, string[]>()
  for (const [metric, output] of Object.entries(sources)) byOutput.set(output, [...(byOutput.get(output) ?? []), metric])
  return [...byOutput].map(([output, metrics]) => `Metrics from the model output "${output}": ${metrics.join(', ')}.`)
}
