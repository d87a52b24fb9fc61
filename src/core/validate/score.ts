/*
 * Stage 2 of validate-model: each data set is read once, in batches, and every batch goes through the
 * candidate, the baseline model and the reference predictions together, so that memory holds
 * predictions (accumulate.ts), not rows. The streaming checks (data contract, conversion parity) and the
 * columns the statistics need ride along on the same pass. Once every data set is scored, what the
 * models gave decides the task when the manifest did not.
 */
import { performance } from 'node:perf_hooks'
import { createContractChecker, contractColumns } from '../data/contract.js'
import { digestFile, openTable } from '../data/open.js'
import { shardBatches, shardName } from '../shard/spec.js'
import type { Task } from '../result/types.js'
import { cellAt, columnCells, isBlankAt, type Batch, type Cell } from '../data/types.js'
import { CellError, UserError } from '../errors.js'
import { decideTask } from '../evaluation/task.js'
import { currentProgress } from '../progress.js'
import { plural } from '../report/common.js'
import { createPredictionsRunner } from '../runners/predictions.js'
import type { FeatureBatch, ModelInfo, ModelRunner, PredictionBatch } from '../runners/types.js'
import type { ResolvedData, ResolvedModel, Settings } from '../settings/index.js'
import type { StagedFiles } from '../files.js'
import { PredictionAccumulator } from './accumulate.js'
import { collect, collectorsFor, driftReadColumns, profileReference, type DriftReference } from './drift.js'
import { checkAnalysisColumns, checkAnalysisMetrics, keptColumns } from './analysis.js'
import { ParityCounter } from './parity.js'
import { checkGateMetrics } from './plan.js'
import { createPredictionsFile, predictionsPathFor, type PredictionsFile } from './predictions-file.js'
import type { DatasetRun, Opened, Scored, Scoring, ValidationPlan } from './stages.js'

export async function scoreDatasets(
  plan: ValidationPlan,
  out: { log: (line: string) => void; predictionsPath?: string; staged?: StagedFiles },
  opened: Opened,
): Promise<Scoring> {
  const { settings, candidate, baseline } = plan
  if (settings.shard && (settings.drift || settings.integrity))
    throw new UserError(
      `${settings.manifestPath ? `${settings.manifestPath}: ` : ''}${settings.drift ? 'drift' : 'integrity'}: a sharded run cannot check it yet (each shard sees part of the rows); run it without --shard`,
      { file: settings.manifestPath, field: settings.drift ? 'drift' : 'integrity' },
    )
  const reference = await profileReference(settings, candidate.runner, out.log)
  const runs: DatasetRun[] = []
  for (const data of settings.data) {
    const predictions = settings.referencePredictions
      ? await createPredictionsRunner({ path: settings.referencePredictions.path, ...runnerHints(settings) })
      : undefined
    if (predictions) opened.runners.push(predictions)
    const sink = out.predictionsPath
      ? createPredictionsFile(predictionsPathFor(out.predictionsPath, data.name, settings.data.length), {
          label: settings.label,
          id: settings.idColumn,
          staged: out.staged,
        })
      : undefined
    if (sink) opened.sinks.push(sink)
    const text = unique([
      ...textColumns(candidate.info, settings.model.features),
      ...(baseline && settings.baseline?.kind === 'model' ? textColumns(baseline.info, settings.baseline.model.features) : []),
    ])
    runs.push(
      await scoreDataset(
        settings,
        data,
        candidate.runner,
        baseline?.runner,
        predictions,
        keptColumns(settings),
        out.log,
        sink,
        text,
        reference,
      ),
    )
  }

  // A shard's answers may be too few to tell the task (or none at all): the merge decides it on them all.
  if (settings.shard) return { runs, task: settings.task ?? 'binary' }
  return { runs, task: taskOf(settings, runs), ...(reference ? { reference } : {}) }
}

/** What the models gave decides the task when the manifest did not; then its metrics are checked. */
export function taskOf(settings: Settings, runs: DatasetRun[]): Task {
  const acc0 = runs[0].candidate.acc
  const task = decideTask(
    settings.task,
    settings.classes,
    { values: acc0.hasValues, labels: acc0.hasLabels, probabilities: acc0.hasProbabilities, classes: acc0.classes },
    [acc0.yTrue, acc0.labels],
  )
  checkGateMetrics(settings, task)
  checkAnalysisMetrics(settings, task)
  return task
}

function runnerHints(settings: Settings): { task?: 'classification' | 'regression'; classes?: (number | string)[] } {
  return {
    task: settings.task === undefined ? undefined : settings.task === 'regression' ? 'regression' : 'classification',
    classes: settings.classes,
  }
}

async function scoreDataset(
  settings: Settings,
  data: ResolvedData,
  candidate: ModelRunner,
  baseline: ModelRunner | undefined,
  reference: ModelRunner | undefined,
  keep: string[],
  log: (line: string) => void,
  sink?: PredictionsFile,
  text: string[] = [],
  driftReference?: DriftReference,
): Promise<DatasetRun> {
  const source = openTable(data.path, data.format)
  const contract = data.contract ? await createContractChecker(data.contract) : undefined
  const baselineModel = settings.baseline?.kind === 'model' ? settings.baseline.model : undefined
  const [digest, fileColumns] = await Promise.all([digestFile(data.path), source.columns()])
  checkAnalysisColumns(settings, fileColumns, data.path)
  // Columns the models need must exist (the reader names what is missing); a contract may name optional ones.
  const readColumns = unique([
    ...settings.model.features,
    ...(baselineModel?.features ?? []),
    settings.label,
    ...(settings.idColumn ? [settings.idColumn] : []),
    ...(contract ? contractColumns(contract.schema).filter((c) => fileColumns.includes(c)) : []),
    ...keep,
    ...driftReadColumns(settings),
  ])
  const collectors = collectorsFor(settings, driftReference)
  const kept: Record<string, Cell[]> = Object.fromEntries(keep.map((c) => [c, []]))
  // A shard's rows are not all the file's: each kept row's place in the file goes to the merge with it.
  const rowIndex = settings.shard !== undefined
  const cand: Scored = { acc: new PredictionAccumulator({ rowIndex }), latenciesMs: [] }
  const base: Scored | undefined = baseline ? { acc: new PredictionAccumulator({ rowIndex }), latenciesMs: [] } : undefined
  const parity = reference ? new ParityCounter(settings.referencePredictions!.path, settings.referencePredictions!.tolerance) : undefined
  const started = performance.now()
  const checkSeconds = { contract: 0, parity: 0 }
  const present = new PresenceCounter(settings.model.features)
  let rows = 0
  let scored = 0
  const progress = currentProgress().phase(data.name, { file: data.path })
  const onBytesRead = (bytes: number) => progress.bytes(bytes)
  for await (const read of source.batches({ batchSize: settings.batchSize, columns: readColumns, text, onBytesRead })) {
    rows += read.length
    // A shard reads every row (a CSV cannot be entered mid-file) but scores only its own blocks.
    for (const batch of shardBatches(read, settings.shard, settings.batchSize)) {
      scored += batch.length
      // Labels as cells: the metrics take classes as numbers or text alike (one column of the batch: cheap).
      const labels = columnCells(batch.columns[settings.label])
      present.count(batch)
      const pred = await timed(cand.latenciesMs, data, () => candidate.predict(featureBatch(batch, settings.model)))
      checkLength(pred, batch, candidate, settings.model)
      try {
        cand.acc.add(labels, pred, data.path, batch.offset)
      } catch (e) {
        throw explainNaN(e, batch, settings.model.features, present, data.path)
      }
      await sink?.write(batch.offset, pred, labels, settings.idColumn ? columnCells(batch.columns[settings.idColumn]) : undefined)
      let bp: PredictionBatch | undefined
      if (baseline && base && baselineModel) {
        bp = await timed(base.latenciesMs, data, () => baseline.predict(featureBatch(batch, baselineModel)))
        checkLength(bp, batch, baseline, baselineModel)
        base.acc.add(labels, bp, data.path, batch.offset)
      }
      if (reference && parity) {
        const tp = performance.now()
        const rp = await reference.predict(featureBatch(batch, settings.model))
        parity.add(pred, rp, batch.offset)
        checkSeconds.parity += (performance.now() - tp) / 1000
      }
      if (contract) {
        const tc = performance.now()
        contract.check(batch)
        checkSeconds.contract += (performance.now() - tc) / 1000
      }
      keepLabelledRows(kept, batch, labels)
      collect(collectors, settings, batch, pred, bp)
    }
    progress.rows(rows)
  }
  progress.end()
  const seconds = (performance.now() - started) / 1000
  if (rows === 0) throw new UserError(`${data.path}: no data rows (the file has a header or schema but no rows)`, { file: data.path })
  // A shard may hold no labelled row (a file of fewer blocks than shards): the merge judges the whole.
  if (cand.acc.rows === 0 && !settings.shard)
    throw new UserError(
      `${data.path}: none of its ${plural(rows, 'row')} has a value in the label column "${settings.label}"; the metrics need labelled rows`,
      { file: data.path, field: settings.label },
    )
  // Predictions files are read in lockstep with the data: left-over rows mean the two do not line up.
  for (const runner of [candidate, baseline, reference]) {
    const r = runner as (ModelRunner & { checkRowCount?: (rows: number) => Promise<void> }) | undefined
    await r?.checkRowCount?.(rows)
  }
  log(
    settings.shard
      ? `${data.name}: shard ${shardName(settings.shard)} scored ${scored.toLocaleString('en-US')} of ${rows.toLocaleString('en-US')} rows in ${seconds.toFixed(2)} s`
      : `${data.name}: scored ${rows.toLocaleString('en-US')} rows in ${seconds.toFixed(2)} s`,
  )
  return {
    data,
    digest,
    rows,
    scored,
    seconds,
    candidate: cand,
    baseline: base,
    contract: contract?.summary(),
    parity,
    kept,
    checkSeconds,
    emptyFeatures: present.empty(),
    ...(collectors.side || collectors.integrity ? { collectors } : {}),
  }
}

/** NaN out of the model is most often NaN in: the error says which features had no value in that row, or at all so far. */
function explainNaN(e: unknown, batch: Batch, features: string[], present: PresenceCounter, file: string): unknown {
  if (!(e instanceof UserError)) return e
  const row = Number(/: data row (\d+):/.exec(e.message)?.[1])
  const i = row - 1 - batch.offset
  let blank = Number.isInteger(i) && i >= 0 && i < batch.length ? features.filter((f) => isBlankAt(batch.columns[f], i)) : []
  const empty = present.empty()
  // A feature empty in every row so far is said once, as such.
  blank = blank.filter((f) => !empty.includes(f))
  const notes = [
    ...(blank.length > 0
      ? [`in data row ${row}, ${blank.map((f) => `"${f}"`).join(', ')} ${blank.length === 1 ? 'has' : 'have'} no value (missing or NaN)`]
      : []),
    ...(empty.length > 0 ? [describeEmpty(empty, file, batch.offset + batch.length, false)] : []),
  ]
  if (notes.length === 0) return e
  return new UserError(`${e.message}; note: ${notes.join('; ')}`, { file: e.file, field: e.field })
}

/** Columns the statistics need per row (slices, fairness groups), aligned with the scored rows: unlabelled rows are skipped there too. */
function keepLabelledRows(kept: Record<string, Cell[]>, batch: Batch, labels: Cell[]): void {
  for (const [name, out] of Object.entries(kept)) {
    const cells = batch.columns[name]
    for (let i = 0; i < batch.length; i++) if (labels[i] !== null && labels[i] !== undefined) out.push(cellAt(cells, i))
  }
}

/** Times one model call; a value the model cannot take is reported against the data file it came from. */
async function timed<T>(sink: number[], data: ResolvedData, fn: () => Promise<T>): Promise<T> {
  const t = performance.now()
  let out: T
  try {
    out = await fn()
  } catch (e) {
    if (e instanceof CellError)
      throw new UserError(`${data.path}: column '${e.column}', data row ${e.row}: ${e.reason}`, { file: data.path, field: e.column })
    throw e
  }
  sink.push(performance.now() - t)
  return out
}

function featureBatch(batch: Batch, model: ResolvedModel): FeatureBatch {
  return { offset: batch.offset, length: batch.length, features: model.features, columns: model.features.map((f) => batch.columns[f]) }
}

function checkLength(pred: PredictionBatch, batch: Batch, runner: ModelRunner, model: ResolvedModel): void {
  if (pred.length !== batch.length) {
    throw new UserError(`${model.path ?? model.url ?? runner.kind}: the model returned ${pred.length} predictions for ${batch.length} rows`)
  }
}

/** Counts, per feature, the rows that have a value (neither missing nor NaN). */
class PresenceCounter {
  private readonly seen: number[]
  constructor(private readonly features: string[]) {
    this.seen = features.map(() => 0)
  }
  count(batch: Batch): void {
    this.features.forEach((f, j) => {
      if (this.seen[j] > 0) return
      const cells = batch.columns[f]
      if (cells === undefined) return
      for (let i = 0; i < cells.length; i++) {
        if (!isBlankAt(cells, i)) {
          this.seen[j]++
          return
        }
      }
    })
  }
  empty(): string[] {
    return this.features.filter((_, j) => this.seen[j] === 0)
  }
}

/** `whole`: the rows are the whole file; otherwise those read so far. */
export function describeEmpty(features: string[], file: string, rows: number, whole: boolean): string {
  const names = features.map((f) => `"${f}"`).join(', ')
  const where = whole ? `any of the ${rows.toLocaleString('en-US')} rows` : `any of the first ${rows.toLocaleString('en-US')} rows`
  return `${features.length === 1 ? 'feature' : 'features'} ${names} ${features.length === 1 ? 'has' : 'have'} no value (missing or NaN) in ${where} of ${file}`
}

/** Features a model takes as strings: read as text, so that a category "007" reaches it as "007". */
export function textColumns(info: ModelInfo, features: string[]): string[] {
  const strings = info.inputs.filter((i) => i.dtype === 'string')
  if (info.inputs.length === 1 && strings.length === 1) return features
  const names = new Set(strings.map((i) => i.name))
  return features.filter((f) => names.has(f))
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)]
}
