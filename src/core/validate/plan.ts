/*
 * Stage 1 of validate-model (run.ts lists the stages): all that can be settled before a row is read. A
 * baseline named by stage or version is fetched and verified, features are inferred, the models are opened
 * and described, and what the manifest alone shows to be wrong (a misspelt metric, one reference file for
 * several data sets) is refused here, so that a typo costs no scoring.
 */
import { completeFeatures } from '../evaluation/features.js'
import { UserError } from '../errors.js'
import { PERFORMANCE_METRIC_NAMES, metricNames } from '../metrics/index.js'
import { resolveRegistryBaseline } from '../registry/baseline.js'
import { loadBaselineReport } from '../result/load.js'
import type { Task } from '../result/types.js'
import { createRunner, type RunnerEnvironment } from '../runners/index.js'
import type { ResolvedModel, Settings } from '../settings/index.js'
import { displayPath } from '../workspace.js'
import { checkAnalysisMetrics } from './analysis.js'
import type { Opened, OpenedModel, ValidationPlan } from './stages.js'

export async function planValidation(
  given: Settings,
  env: { runnerEnv?: RunnerEnvironment; log: (line: string) => void },
  opened: Opened,
): Promise<ValidationPlan> {
  const inferred = await completeFeatures(await resolveRegistryBaseline(given, env.log))
  const settings = inferred.settings
  const hints = { task: settings.task, classes: settings.classes }
  const open = async (model: ResolvedModel): Promise<OpenedModel> => {
    const runner = await createRunner(model, env.runnerEnv, hints)
    opened.runners.push(runner)
    return { runner, info: await runner.describe() }
  }
  const candidate = await open(settings.model)
  env.log(`model: ${displayPath(candidate.info.source, settings.workspace)} (${candidate.info.runner})`)
  const baseline = settings.baseline?.kind === 'model' ? await open(settings.baseline.model) : undefined
  const baselineReport = settings.baseline?.kind === 'report' ? loadBaselineReport(settings.baseline.path) : undefined

  // With the task known up front, a misspelt metric is reported before any row is scored; without it,
  // a name no task knows is refused before scoring too, and the task's own list is checked after.
  if (settings.task) {
    checkGateMetrics(settings, settings.task)
    checkAnalysisMetrics(settings, settings.task)
  } else checkGateMetrics(settings)
  if (settings.referencePredictions && settings.data.length > 1)
    throw new UserError(
      `${settings.manifestPath ? `${settings.manifestPath}: ` : ''}reference-predictions: one file holds the predictions of one data set, but there are ${settings.data.length}; keep the data sets you check parity on in their own manifest, or drop reference-predictions`,
      { file: settings.manifestPath, field: 'reference-predictions' },
    )
  return { given, settings, featureWarning: inferred.warning, candidate, baseline, baselineReport }
}

/** Refuses a threshold on a metric the task does not have; with no task, on one no task has. */
export function checkGateMetrics(settings: Settings, task?: Task): void {
  const tasks = task ? [task] : (['binary', 'multiclass', 'regression'] as const)
  const known = new Set(tasks.flatMap((t) => metricNames(t)))
  for (const g of settings.gates) {
    if (known.has(g.metric)) continue
    const data = dataGateProblem(settings, g.metric)
    if (data === undefined) continue
    if (data !== null)
      throw new UserError(`${settings.thresholdsFrom}: "${g.expression}": ${data}`, {
        file: settings.thresholdsFrom.startsWith(`${settings.manifestPath}:`) ? settings.manifestPath : undefined,
        field: 'thresholds',
      })
    // Before scoring the task may not be known yet: the message lists each task's metrics.
    const lists = task
      ? ` for a ${task} model; known: ${metricNames(task).join(', ')}`
      : `; known: ${tasks
          .map(
            (t) =>
              `${t}: ${metricNames(t)
                .filter((m) => !PERFORMANCE_METRIC_NAMES.includes(m))
                .join(', ')}`,
          )
          .join('; ')}; any task: ${PERFORMANCE_METRIC_NAMES.join(', ')}`
    throw new UserError(`${settings.thresholdsFrom}: "${g.expression}": unknown metric "${g.metric}"${lists}`, {
      file: settings.thresholdsFrom.startsWith(`${settings.manifestPath}:`) ? settings.manifestPath : undefined,
      field: 'thresholds',
    })
  }
}

const DRIFT_TOTALS = ['share_drifted', 'drifted_columns', 'dataset_drift']
const DRIFT_STATISTICS = ['statistic', 'p_value', 'psi', 'drifted', 'ks', 'chisquare', 'z', 'wasserstein', 'jensenshannon']
const INTEGRITY_TOTALS = [
  'duplicate_rows',
  'duplicate_row_share',
  'duplicate_columns',
  'constant_columns',
  'near_constant_columns',
  'mixed_type_columns',
  'missing_share',
  'leakage_rows',
  'leakage_share',
]
const INTEGRITY_COLUMN = ['missing_share', 'out_of_range', 'new_categories']

/**
 * A gate on the data (drift.*, integrity.*): undefined when the name is one the run will give, a message
 * when it cannot be (no drift: key, an unknown column or statistic), null when it is not a data gate at all.
 */
function dataGateProblem(settings: Settings, metric: string): string | undefined | null {
  const [head, ...rest] = metric.split('.')
  if (head !== 'drift' && head !== 'integrity') return null
  const configured = head === 'drift' ? settings.drift : settings.integrity
  if (!configured) return `${head === 'drift' ? 'a drift' : 'an integrity'} gate needs the manifest's ${head}: key`
  const totals = head === 'drift' ? DRIFT_TOTALS : INTEGRITY_TOTALS
  if (rest.length === 1)
    return totals.includes(rest[0])
      ? undefined
      : `unknown ${head} metric "${metric}"; known: ${totals.map((t) => `${head}.${t}`).join(', ')}, ${head}.<column>.<${(head === 'drift' ? DRIFT_STATISTICS : INTEGRITY_COLUMN).join('|')}>`
  const stat = rest[rest.length - 1]
  const column = rest.slice(0, -1).join('.')
  const columns =
    head === 'drift'
      ? [...(settings.drift?.features ?? settings.model.features), 'prediction', 'prediction_vs_baseline', 'label']
      : undefined
  if (columns && settings.model.features.length > 0 && !columns.includes(column))
    return `"${column}" is not among the columns drift compares (${columns.join(', ')})`
  const stats = head === 'drift' ? DRIFT_STATISTICS : INTEGRITY_COLUMN
  return stats.includes(stat) ? undefined : `unknown statistic "${stat}" in "${metric}"; known: ${stats.join(', ')}`
}
