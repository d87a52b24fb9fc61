/**
 * The metric catalogue: the one place that says which metrics exist, for which tasks, which way is better,
 * what each is computed from, whether the weighted bootstrap has a kernel for it, and what it means in
 * scikit-learn's terms. Every list of metric names elsewhere (`metricNames`, `METRIC_DIRECTIONS`, the
 * weighted kernels' lists, the gate and slice checks, the README's table) is derived from it, so adding a
 * metric is one entry here plus its implementation; `__tests__/metrics/catalog.test.ts` keeps the two in step.
 *
 * Order matters, because reports and messages list metrics in it: within each task, entries stand in the
 * order `computeMetrics` reports them (label metrics, then probability metrics), and the performance
 * metrics come last. Tasks share entries (accuracy, mcc, log_loss), so the binary and multiclass lists are
 * interleaved; `METRIC_DIRECTIONS` lists binary's, then the multiclass-only, then the regression metrics,
 * then the performance ones (the order slice messages name them in).
 */
import type { Task } from '../result/types.js'

/** Which output of the model a metric was computed from (`MetricsResult.sources`). */
export type MetricSource = 'labels' | 'probabilities' | 'values'

/**
 * What a metric needs: `labels`, a predicted class per row (the model's labels, or its thresholded or
 * argmax probabilities); `probabilities`, the class probabilities; `values`, regression predictions;
 * `run`, the timing of the run or the model file (performance metrics, for every task).
 */
export type MetricNeeds = MetricSource | 'run'

export type MetricDirection = 'higher' | 'lower'

export interface MetricEntry {
  /** The tasks whose validation reports it. */
  tasks: readonly Task[]
  /** Whether a larger value is better. */
  better: MetricDirection
  needs: MetricNeeds
  /** Whether `src/core/stats` has a weighted kernel for it: bootstrap intervals, comparisons, slices. */
  weighted: boolean
  /** What it is, in scikit-learn's terms: the README's metric table. */
  definition: string
}

const BINARY: readonly Task[] = ['binary']
const MULTICLASS: readonly Task[] = ['multiclass']
const CLASSIFICATION: readonly Task[] = ['binary', 'multiclass']
const REGRESSION: readonly Task[] = ['regression']
const EVERY_TASK: readonly Task[] = ['binary', 'multiclass', 'regression']

/** Entries that share what `common` says (what they need, …), each giving the rest. */
function section<Common extends Partial<MetricEntry>>(
  common: Common,
  entries: Record<string, Omit<MetricEntry, keyof Common>>,
): Record<string, MetricEntry> {
  return Object.fromEntries(Object.entries(entries).map(([name, entry]) => [name, { ...common, ...entry } as MetricEntry]))
}

/** Metrics of the predicted classes: the model's labels, or its thresholded or argmax probabilities. */
const LABEL_METRICS = section(
  { needs: 'labels', weighted: true },
  {
    accuracy: { tasks: CLASSIFICATION, better: 'higher', definition: '`accuracy_score`' },
    balanced_accuracy: { tasks: CLASSIFICATION, better: 'higher', definition: '`balanced_accuracy_score`' },
    precision: { tasks: BINARY, better: 'higher', definition: '`precision_score(pos_label=positive class)`' },
    recall: { tasks: BINARY, better: 'higher', definition: '`recall_score(pos_label=positive class)`' },
    f1: { tasks: BINARY, better: 'higher', definition: '`f1_score(pos_label=positive class)`' },
    precision_macro: { tasks: MULTICLASS, better: 'higher', definition: '`precision_score(average="macro")`' },
    precision_micro: { tasks: MULTICLASS, better: 'higher', definition: '`precision_score(average="micro")`' },
    precision_weighted: { tasks: MULTICLASS, better: 'higher', definition: '`precision_score(average="weighted")`' },
    recall_macro: { tasks: MULTICLASS, better: 'higher', definition: '`recall_score(average="macro")`' },
    recall_micro: { tasks: MULTICLASS, better: 'higher', definition: '`recall_score(average="micro")`' },
    recall_weighted: { tasks: MULTICLASS, better: 'higher', definition: '`recall_score(average="weighted")`' },
    f1_macro: { tasks: MULTICLASS, better: 'higher', definition: '`f1_score(average="macro")`' },
    f1_micro: { tasks: MULTICLASS, better: 'higher', definition: '`f1_score(average="micro")`' },
    f1_weighted: { tasks: MULTICLASS, better: 'higher', definition: '`f1_score(average="weighted")`' },
    mcc: { tasks: CLASSIFICATION, better: 'higher', definition: '`matthews_corrcoef`' },
  },
)

/** Metrics of the class probabilities. */
const PROBABILITY_METRICS = section(
  { needs: 'probabilities', weighted: true },
  {
    roc_auc: { tasks: BINARY, better: 'higher', definition: '`roc_auc_score` on p(positive class)' },
    roc_auc_ovr: { tasks: MULTICLASS, better: 'higher', definition: '`roc_auc_score(multi_class="ovr", average="macro")`' },
    average_precision: { tasks: BINARY, better: 'higher', definition: '`average_precision_score` on p(positive class)' },
    log_loss: { tasks: CLASSIFICATION, better: 'lower', definition: '`log_loss` (probabilities clipped to [eps, 1−eps], float64 eps)' },
    brier: { tasks: BINARY, better: 'lower', definition: '`brier_score_loss` on p(positive class)' },
    ece: {
      tasks: BINARY,
      better: 'lower',
      definition:
        'expected calibration error: Σ n_b/n · |mean(y) − mean(p)| over equal-width bins of p(positive) (`ece-bins`, default 10; numpy histogram edges)',
    },
    mce: { tasks: BINARY, better: 'lower', definition: 'maximum calibration error: the largest |mean(y) − mean(p)| over the same bins' },
  },
)

/** Metrics of the predicted values. */
const REGRESSION_METRICS = section(
  { tasks: REGRESSION, needs: 'values', weighted: true },
  {
    mae: { better: 'lower', definition: '`mean_absolute_error`' },
    mse: { better: 'lower', definition: '`mean_squared_error`' },
    rmse: { better: 'lower', definition: '`mean_squared_error(squared=False)`' },
    r2: { better: 'higher', definition: '`r2_score`' },
    mape: { better: 'lower', definition: '`mean_absolute_percentage_error`' },
    max_error: { better: 'lower', definition: '`max_error`' },
  },
)

/** Metrics of the run itself: how long the model took, how large its file is. */
const PERFORMANCE_METRICS = section(
  { tasks: EVERY_TASK, needs: 'run', weighted: false },
  {
    latency_p50_ms: { better: 'lower', definition: 'median time of one model call (one batch), ms (`np.percentile`, linear)' },
    latency_p95_ms: { better: 'lower', definition: '95th percentile time of one model call, ms' },
    latency_p99_ms: { better: 'lower', definition: '99th percentile time of one model call, ms' },
    latency_mean_ms: { better: 'lower', definition: 'mean time of one model call, ms' },
    latency_max_ms: { better: 'lower', definition: 'longest model call, ms' },
    rows_per_second: { better: 'higher', definition: 'rows read, scored and accumulated per second of wall time, end to end' },
    model_size_bytes: { better: 'lower', definition: 'size of the model file (its sha256 is in the report)' },
  },
)

/** Every metric, in the order described at the top of this file. */
export const METRIC_CATALOGUE: Readonly<Record<string, MetricEntry>> = {
  ...LABEL_METRICS,
  ...PROBABILITY_METRICS,
  ...REGRESSION_METRICS,
  ...PERFORMANCE_METRICS,
}

const ENTRIES = Object.entries(METRIC_CATALOGUE)

/** Every metric name a validation of `task` can report: the task's metrics, then the performance ones. */
export function metricNames(task: Task): string[] {
  return ENTRIES.filter(([, e]) => e.tasks.includes(task)).map(([name]) => name)
}

/** The metrics of `task` computed from `needs`, in the order `computeMetrics` reports them. */
export function metricsNeeding(task: Task, needs: MetricNeeds): string[] {
  return metricNames(task).filter((name) => METRIC_CATALOGUE[name].needs === needs)
}

/** Names `performanceMetrics` produces, plus the model file size. */
export const PERFORMANCE_METRIC_NAMES: string[] = ENTRIES.filter(([, e]) => e.needs === 'run').map(([name]) => name)

/** Binary's metrics, then the multiclass-only, then the regression ones, then the performance ones. */
const DIRECTION_ORDER = [
  ...new Set(EVERY_TASK.flatMap((task) => metricNames(task).filter((name) => !PERFORMANCE_METRIC_NAMES.includes(name)))),
  ...PERFORMANCE_METRIC_NAMES,
]

/** Whether a larger value of each metric is better. */
export const METRIC_DIRECTIONS: Record<string, MetricDirection> = Object.fromEntries(
  DIRECTION_ORDER.map((name) => [name, METRIC_CATALOGUE[name].better]),
)
