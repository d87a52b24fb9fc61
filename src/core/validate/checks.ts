/*
 * Stage 5 of validate-model, checks: each data set's entry in the result, with what its outputs showed
 * (probabilities adjusted, labels that disagree with the probabilities, unlabelled rows) and the checks
 * the streaming pass measured (data contract, conversion parity); then the gates on every data set's
 * metrics and whether a registered baseline still reproduces its report. The order of checks and notes
 * here is the order the report lists them in.
 */
import { inferFormat } from '../data/open.js'
import { evaluateGates } from '../gates/evaluate.js'
import { plural } from '../report/common.js'
import type { CheckResult, DatasetResult } from '../result/types.js'
import type { Settings } from '../settings/index.js'
import { describeAdjustment } from './probabilities.js'
import { reproducibilityChecks } from './reproducible.js'
import { describeEmpty } from './score.js'
import type { AnalysedDataset, Analysis, Checked, DatasetRun, DescribedModel, ValidationPlan } from './stages.js'

export function checkRun(plan: ValidationPlan<DescribedModel>, datasets: AnalysedDataset[]): Checked {
  const { settings } = plan
  const data: DatasetResult[] = []
  const analyses: Analysis[] = []
  const extraChecks: CheckResult[] = []
  const notes: string[] = []
  const warnings: string[] = []
  const gateSeconds = new Map<string, number>()
  for (const dataset of datasets) {
    gateSeconds.set(dataset.run.data.name, dataset.gateSeconds)
    const entry = datasetEntry(settings, dataset, datasets.length > 1)
    data.push(entry.result)
    if (dataset.analysis) analyses.push(dataset.analysis)
    extraChecks.push(...entry.checks)
    notes.push(...entry.notes)
    warnings.push(...entry.warnings)
  }
  const gateInputs = datasets.map((d) => d.gate)
  const reproduced = reproducibilityChecks(
    settings.baselineEvidence,
    plan.baseline?.info.digest,
    `${settings.baselineFrom?.name ?? 'the baseline'} ${settings.baselineFrom?.version ?? ''}`.trim(),
    data.map((result, i) => ({ result, baseline: gateInputs[i]?.baseline })),
  )
  notes.push(...reproduced.notes)
  const checks = [
    ...extraChecks,
    ...evaluateGates(settings.gates, gateInputs).map((c) => ({ ...c, seconds: gateSeconds.get(c.dataset ?? '') ?? 0 })),
    ...reproduced.checks,
  ]
  return { data, analyses, checks, notes, warnings, primaryBaseline: gateInputs[0].baseline }
}

/** One data set's entry in the result, and its checks, notes and warnings in the report's order. */
function datasetEntry(
  settings: Settings,
  dataset: AnalysedDataset,
  several: boolean,
): { result: DatasetResult; checks: CheckResult[]; notes: string[]; warnings: string[] } {
  const { run, candidate: m, analysis } = dataset
  const checks: CheckResult[] = [...(analysis?.checks ?? [])]
  const notes: string[] = [...dataset.notes, ...(analysis?.notes ?? [])]
  const warnings: string[] = []
  const result: DatasetResult = {
    name: run.data.name,
    path: run.data.path,
    format: run.data.format ?? inferFormat(run.data.path),
    digest: run.digest,
    rows: run.rows,
    metrics: dataset.metrics,
    metricSources: m.sources,
    confusionMatrix: m.confusionMatrix,
    perClass: m.perClass,
    performance: dataset.performance,
    ...(dataset.drift ? { drift: dataset.drift } : {}),
    ...(dataset.integrity ? { integrity: dataset.integrity } : {}),
  }
  const prefix = several ? `${run.data.name}: ` : ''
  if (run.emptyFeatures.length > 0)
    warnings.push(
      `${describeEmpty(run.emptyFeatures, run.data.path, run.rows, true)}: the model was scored on a column with nothing in it. Check the column name and the file.`,
    )
  const adjustment = run.candidate.acc.guard?.summary()
  if (adjustment) {
    result.probabilityAdjustment = adjustment
    notes.push(...describeAdjustment(adjustment, `${prefix}the model`))
  }
  const baselineAdjustment = run.baseline?.acc.guard?.summary()
  if (baselineAdjustment) notes.push(...describeAdjustment(baselineAdjustment, `${prefix}the baseline`))
  const consistency = outputConsistency(settings, run)
  if (consistency) {
    result.outputConsistency = consistency.result
    if (consistency.check) checks.push(consistency.check)
  }
  if (run.candidate.acc.skipped > 0) {
    result.skippedRows = run.candidate.acc.skipped
    notes.push(
      `${run.data.name}: ${plural(run.candidate.acc.skipped, 'row')} ${run.candidate.acc.skipped === 1 ? 'has' : 'have'} no value in the label column "${settings.label}" and ${run.candidate.acc.skipped === 1 ? 'was' : 'were'} not scored.`,
    )
  }
  if (run.contract) {
    result.contract = run.contract
    checks.push({
      id: `contract/${run.data.name}`,
      kind: 'contract',
      dataset: run.data.name,
      status: run.contract.violations === 0 ? 'pass' : 'fail',
      severity: 'fail',
      value: run.contract.violations,
      threshold: { op: '==', value: 0, expression: 'violations == 0' },
      seconds: run.checkSeconds.contract,
      message:
        run.contract.violations === 0
          ? `all ${run.contract.rowsChecked} rows match the data contract`
          : `${run.contract.violations} of ${run.contract.rowsChecked} rows violate the data contract, e.g. ${run.contract.examples[0]?.message ?? ''}`,
    })
  }
  if (run.parity) {
    const p = run.parity.result()
    result.parity = p
    const allowed = settings.referencePredictions!.maxMismatches
    const n = run.parity.mismatches
    checks.push({
      id: `parity/${run.data.name}`,
      kind: 'parity',
      dataset: run.data.name,
      status: n <= allowed ? 'pass' : 'fail',
      severity: 'fail',
      value: n,
      threshold: { op: '<=', value: allowed, expression: `mismatching rows <= ${allowed}` },
      seconds: run.checkSeconds.parity,
      message:
        n === 0
          ? `all ${p.rows} rows agree with the reference predictions (largest difference ${p.maxAbsDiff.toExponential(2)}, tolerance ${p.tolerance})`
          : `${n} of ${p.rows} rows disagree with the reference predictions (labels: ${p.labelMismatches}, beyond tolerance ${p.tolerance}: ${p.probabilityMismatches})`,
    })
  }
  return { result, checks, notes, warnings }
}

/**
 * A classifier that gives labels and probabilities may disagree with itself: tree ensembles break ties
 * between equal probabilities their own way, and a custom threshold moves the label. The metrics use
 * each output as the report says, so a disagreement is shown, never hidden.
 */
function outputConsistency(
  settings: Settings,
  run: DatasetRun,
): { result: NonNullable<DatasetResult['outputConsistency']>; check?: CheckResult } | undefined {
  const acc = run.candidate.acc
  if (!acc.hasLabels || !acc.hasProbabilities) return undefined
  const rows = acc.rows
  const { count, rows: examples } = acc.disagreements
  const result = {
    labelOutput: acc.sources.labels ?? 'labels',
    probabilityOutput: acc.sources.probabilities ?? 'probabilities',
    rows,
    disagreements: count,
    examples,
  }
  if (settings.outputConsistency === 'off') return { result }
  const shown = examples.join(', ') + (count > examples.length ? ', …' : '')
  return {
    result,
    check: {
      id: `output-consistency/${run.data.name}`,
      kind: 'consistency',
      dataset: run.data.name,
      status: count === 0 ? 'pass' : settings.outputConsistency,
      severity: settings.outputConsistency,
      value: count,
      threshold: { op: '==', value: 0, expression: 'disagreeing rows == 0' },
      seconds: acc.consistencySeconds,
      message:
        count === 0
          ? `the label output "${result.labelOutput}" is the argmax of "${result.probabilityOutput}" on all ${plural(rows, 'row')}`
          : `the label output "${result.labelOutput}" is not the argmax of "${result.probabilityOutput}" on ${count} of ${plural(rows, 'row')} (data row${examples.length === 1 ? '' : 's'} ${shown}); label metrics use "${result.labelOutput}", probability metrics "${result.probabilityOutput}"`,
    },
  }
}
