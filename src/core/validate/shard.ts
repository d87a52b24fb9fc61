/*
 * validate-model across a workflow matrix. A shard runs stages 1 and 2 (plan, score) on its blocks of
 * rows (shard/spec.ts) and writes what stage 2 produced, not a verdict; the merge rebuilds the one
 * Scoring an unsharded run would have produced and runs stages 3–6 on it unchanged.
 *
 * Why the per-row answers and not per-metric partial states: with each row's label and scores back in
 * file order, every number the merge computes is the unsharded one to the last bit: no summation order
 * changes, exact ROC AUC and average precision, the bootstrap's per-row Poisson weights (stats/random.ts)
 * land on the same rows, and slices, fairness and calibration see the same arrays. The state costs a few
 * numbers per row, which the metrics keep in memory anyway.
 */
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { z } from 'zod'
import { mergeContractSummaries, type ContractSummary } from '../data/contract.js'
import type { Cell } from '../data/types.js'
import { UserError } from '../errors.js'
import type { BaselineReport } from '../result/load.js'
import type { ModelInfo } from '../runners/types.js'
import type { Settings } from '../settings/index.js'
import {
  checkShardSet,
  decodeFloat64,
  encodeFloat64,
  float64Schema,
  identityDigest,
  parseWith,
  portablePath as portable,
  readShardState,
  restoredPath as restored,
  settingsIdentity,
  SHARD_FORMAT,
  SHARD_FORMAT_VERSION,
  type LoadedShard,
  type ShardState,
} from '../shard/state.js'
import { PredictionAccumulator, type AccumulatorState } from './accumulate.js'
import { ParityCounter, type ParityState } from './parity.js'
import type { DatasetRun, Scored, Scoring, ValidationPlan } from './stages.js'

const cell = z.union([z.number(), z.string(), z.boolean(), z.null()])
const label = z.union([z.number(), z.string()])
/** JSON has no Infinity: a parity difference with NaN on one side is Infinity, written as text. */
const extended = z.union([z.number(), z.literal('Infinity')])

const adjustmentSchema = z
  .object({
    output: z.string(),
    tolerance: z.number(),
    clippedValues: z.number().int().min(0),
    clippedRows: z.number().int().min(0),
    maxExcess: z.number(),
    offSumRows: z.number().int().min(0),
    maxSumError: z.number(),
  })
  .strict()

const accumulatorSchema = z
  .object({
    seen: z.boolean(),
    yTrue: z.array(label),
    labels: z.array(label),
    probabilities: float64Schema,
    values: float64Schema,
    rowIndex: float64Schema,
    classes: z.array(label).optional(),
    sources: z.object({ labels: z.string().optional(), probabilities: z.string().optional(), values: z.string().optional() }).strict(),
    hasLabels: z.boolean(),
    hasProbabilities: z.boolean(),
    hasValues: z.boolean(),
    skipped: z.number().int().min(0),
    guard: adjustmentSchema.optional(),
    guardOutput: z.string().optional(),
    disagreements: z.object({ count: z.number().int().min(0), rows: z.array(z.number().int().min(1)) }).strict(),
    consistencySeconds: z.number().min(0),
  })
  .strict()

const scoredSchema = z.object({ acc: accumulatorSchema, latenciesMs: z.array(z.number()) }).strict()
const examplesSchema = z.array(z.object({ row: z.number().int(), message: z.string() }).strict())

const runSchema = z
  .object({
    name: z.string(),
    seconds: z.number().min(0),
    candidate: scoredSchema,
    baseline: scoredSchema.optional(),
    contract: z
      .object({ schema: z.string(), violations: z.number().int().min(0), rowsChecked: z.number().int().min(0), examples: examplesSchema })
      .strict()
      .optional(),
    parity: z
      .object({
        reference: z.string(),
        rows: z.number().int().min(0),
        labelMismatches: z.number().int().min(0),
        probabilityMismatches: z.number().int().min(0),
        maxAbsDiff: extended,
        tolerance: z.number(),
        examples: examplesSchema,
        disagreeingRows: z.number().int().min(0),
      })
      .strict()
      .optional(),
    kept: z.record(z.string(), z.array(cell)),
    checkSeconds: z.object({ contract: z.number(), parity: z.number() }).strict(),
    emptyFeatures: z.array(z.string()),
  })
  .strict()

const modelInfoSchema = z
  .object({
    source: z.string(),
    runner: z.enum(['onnx', 'command', 'http', 'predictions']),
    digest: z.string().optional(),
    sizeBytes: z.number().optional(),
    inputs: z.array(z.unknown()),
    outputs: z.array(z.unknown()),
    notes: z.array(z.string()),
  })
  .strict()

const payloadSchema = z
  .object({
    plan: z
      .object({
        features: z.array(z.string()),
        modelFeatures: z.array(z.string()),
        baselineFeatures: z.array(z.string()).optional(),
        featureWarning: z.string().optional(),
        candidate: modelInfoSchema,
        baseline: modelInfoSchema.optional(),
        /** The baseline as the shards resolved it (a registered version becomes a model or a report). */
        baselineSource: z
          .object({ kind: z.enum(['model', 'report']), source: z.string() })
          .strict()
          .optional(),
        baselineFrom: z.record(z.string(), z.unknown()).optional(),
        baselineNote: z.string().optional(),
        baselineEvidence: z.string().optional(),
        baselineReport: z
          .object({
            source: z.string(),
            digest: z.string().optional(),
            primary: z.record(z.string(), z.number()),
            byDataset: z.array(z.tuple([z.string(), z.record(z.string(), z.number())])),
          })
          .strict()
          .optional(),
      })
      .strict(),
    runs: z.array(runSchema).min(1),
  })
  .strict()

type Payload = z.infer<typeof payloadSchema>
type RunPayload = z.infer<typeof runSchema>

function accumulatorState(acc: PredictionAccumulator, seen: boolean): z.input<typeof accumulatorSchema> {
  const s = acc.state()
  return {
    ...s,
    seen,
    probabilities: encodeFloat64(s.probabilities instanceof Float64Array ? s.probabilities : Float64Array.from(s.probabilities)),
    values: encodeFloat64(s.values),
    rowIndex: encodeFloat64(s.rowIndex),
  }
}

function scoredState(scored: Scored, seen: boolean): z.input<typeof scoredSchema> {
  return { acc: accumulatorState(scored.acc, seen), latenciesMs: scored.latenciesMs }
}

/** What a shard writes: stage 2's output and the facts of stage 1 the later stages read. */
export function shardState(plan: ValidationPlan, scoring: Scoring, tool: { name: string; version: string }): ShardState<Payload> {
  const { settings } = plan
  if (!settings.shard) throw new Error('shardState: the settings name no shard')
  const ws = settings.workspace
  const info = (i: ModelInfo): z.infer<typeof modelInfoSchema> => ({ ...i, source: portable(i.source, ws) })
  const identity = settingsIdentity(plan.given)
  const report = plan.baselineReport
  const payload: Payload = {
    plan: {
      features: settings.features,
      modelFeatures: settings.model.features,
      ...(settings.baseline?.kind === 'model' ? { baselineFeatures: settings.baseline.model.features } : {}),
      ...(plan.featureWarning ? { featureWarning: plan.featureWarning } : {}),
      candidate: info(plan.candidate.info),
      ...(plan.baseline ? { baseline: info(plan.baseline.info) } : {}),
      ...(settings.baseline
        ? {
            baselineSource: {
              kind: settings.baseline.kind,
              source: portable(settings.baseline.kind === 'model' ? settings.baseline.source : settings.baseline.path, ws),
            },
          }
        : {}),
      ...(settings.baselineFrom ? { baselineFrom: { ...settings.baselineFrom } } : {}),
      ...(settings.baselineNote ? { baselineNote: settings.baselineNote } : {}),
      ...(settings.baselineEvidence ? { baselineEvidence: readFileSync(settings.baselineEvidence, 'utf8') } : {}),
      ...(report
        ? {
            baselineReport: {
              source: portable(report.source, ws),
              ...(report.digest ? { digest: report.digest } : {}),
              primary: report.primary,
              byDataset: [...report.byDataset.entries()],
            },
          }
        : {}),
    },
    runs: scoring.runs.map((run) => {
      const seen = run.scored > 0
      const parity = run.parity?.state()
      return {
        name: run.data.name,
        seconds: run.seconds,
        candidate: scoredState(run.candidate, seen) as RunPayload['candidate'],
        ...(run.baseline ? { baseline: scoredState(run.baseline, seen) as RunPayload['candidate'] } : {}),
        ...(run.contract ? { contract: { ...run.contract, schema: portable(run.contract.schema, ws) } } : {}),
        ...(parity
          ? {
              parity: {
                ...parity,
                reference: portable(parity.reference, ws),
                maxAbsDiff: Number.isFinite(parity.maxAbsDiff) ? parity.maxAbsDiff : ('Infinity' as const),
              },
            }
          : {}),
        kept: run.kept,
        checkSeconds: run.checkSeconds,
        emptyFeatures: run.emptyFeatures,
      }
    }) as Payload['runs'],
  }
  return {
    format: SHARD_FORMAT,
    version: SHARD_FORMAT_VERSION,
    kind: 'validate',
    tool,
    shard: settings.shard,
    settings: { digest: identityDigest(identity), identity },
    models: {
      candidate: plan.candidate.info.digest ?? `${plan.candidate.info.runner}:${portable(plan.candidate.info.source, ws)}`,
      ...(plan.baseline
        ? { baseline: plan.baseline.info.digest ?? `${plan.baseline.info.runner}:${portable(plan.baseline.info.source, ws)}` }
        : report
          ? { baseline: report.digest ?? `report:${portable(report.source, ws)}` }
          : {}),
    },
    data: scoring.runs.map((run) => ({ name: run.data.name, digest: run.digest, rows: run.rows, scored: run.scored })),
    payload,
  }
}

/** The shards' files, read and checked as one complete set made with `given`, the merge's own settings. */
export function loadValidationShards(files: string[], given: Settings): LoadedShard<Payload>[] {
  const shards = files.map((file) => {
    const state = readShardState(file)
    return { file, state: { ...state, payload: parseWith(payloadSchema, state.payload, file, ['payload']) } }
  })
  shards.sort((a, b) => a.state.shard.index - b.state.shard.index)
  checkShardSet(shards, { kind: 'validate', identity: settingsIdentity(given) })
  const names = given.data.map((d) => d.name).join(', ')
  for (const { file, state } of shards) {
    if (
      state.payload.runs.map((r) => r.name).join(', ') !== state.data.map((d) => d.name).join(', ') ||
      state.data.length !== given.data.length
    )
      throw new UserError(`${file}: payload.runs do not match its data sets (${names})`, { file, field: 'payload.runs' })
  }
  return shards
}

function toAccumulatorState(s: z.infer<typeof accumulatorSchema>, file: string, where: string): AccumulatorState & { seen: boolean } {
  const out = {
    ...s,
    probabilities: decodeFloat64(s.probabilities),
    values: decodeFloat64(s.values),
    rowIndex: decodeFloat64(s.rowIndex),
  }
  const n = out.rowIndex.length
  const k = s.classes?.length ?? 0
  const bad =
    s.yTrue.length !== n
      ? 'yTrue'
      : s.hasLabels && s.labels.length !== n
        ? 'labels'
        : s.hasProbabilities && out.probabilities.length !== n * k
          ? 'probabilities'
          : s.hasValues && out.values.length !== n
            ? 'values'
            : undefined
  if (bad)
    throw new UserError(`${file}: ${where}.${bad}: holds a different number of rows than rowIndex (${n})`, {
      file,
      field: `${where}.${bad}`,
    })
  for (let i = 1; i < n; i++)
    if (!(out.rowIndex[i] > out.rowIndex[i - 1]))
      throw new UserError(`${file}: ${where}.rowIndex: rows are not in ascending order at ${i}`, { file, field: `${where}.rowIndex` })
  return out
}

/** The shards' accumulators of one model as one; outputs that differ between shards are refused, as between batches. */
function mergeScored(parts: { file: string; scored: z.infer<typeof scoredSchema> }[], where: string, data: string): Scored {
  const states = parts.map((p) => toAccumulatorState(p.scored.acc, p.file, `${where}.acc`))
  const seen = states.map((s, i) => ({ s, file: parts[i].file })).filter((x) => x.s.seen)
  const first = seen[0]
  for (const { s, file } of seen.slice(1)) {
    if (
      s.hasLabels !== first.s.hasLabels ||
      s.hasProbabilities !== first.s.hasProbabilities ||
      s.hasValues !== first.s.hasValues ||
      JSON.stringify(s.classes) !== JSON.stringify(first.s.classes)
    )
      throw new UserError(`${file}: the model gave other outputs in this shard than in ${first.file}`, { file, field: `${where}.acc` })
  }
  const ordered = first ? [first.s, ...states.filter((s) => s !== first.s)] : states
  // Duplicated rows across shards would be counted twice: the row indices must be disjoint.
  const rows = new Set<number>()
  for (const [i, s] of states.entries())
    for (const r of s.rowIndex) {
      if (rows.has(r))
        throw new UserError(`${parts[i].file}: data row ${r + 1} is also in another shard: shards must not overlap`, {
          file: parts[i].file,
          field: `${where}.acc.rowIndex`,
        })
      rows.add(r)
    }
  return { acc: PredictionAccumulator.merge(ordered, data), latenciesMs: parts.flatMap((p) => p.scored.latenciesMs) }
}

/** Columns kept per labelled row, interleaved back into file order by the candidate's row indices. */
function mergeKept(runs: RunPayload[], order: Float64Array[]): Record<string, Cell[]> {
  const names = Object.keys(runs[0].kept)
  const out: Record<string, Cell[]> = Object.fromEntries(names.map((n) => [n, []]))
  const at = runs.map(() => 0)
  const total = order.reduce((n, o) => n + o.length, 0)
  for (let done = 0; done < total; done++) {
    let s = -1
    for (let j = 0; j < runs.length; j++) if (at[j] < order[j].length && (s < 0 || order[j][at[j]] < order[s][at[s]])) s = j
    const i = at[s]++
    for (const n of names) out[n].push(runs[s].kept[n]?.[i] ?? null)
  }
  return out
}

/**
 * The plan and the scoring an unsharded run would have had: the settings completed as the shards completed
 * them (features inferred, a registered baseline resolved), the models as they described themselves, and
 * each data set's answers in file order. `cleanup` removes the registered evidence's temporary copy.
 */
export function mergedScoring(
  given: Settings,
  shards: LoadedShard<Payload>[],
): { plan: ValidationPlan<{ info: ModelInfo }>; runs: DatasetRun[]; cleanup: () => void } {
  const ws = given.workspace
  const p = shards[0].state.payload.plan
  let evidenceDir: string | undefined
  let baselineEvidence: string | undefined
  if (p.baselineEvidence !== undefined) {
    evidenceDir = mkdtempSync(path.join(tmpdir(), 'modelgate-merge-'))
    baselineEvidence = path.join(evidenceDir, 'validate-report.json')
    writeFileSync(baselineEvidence, p.baselineEvidence)
  }
  const baseline: Settings['baseline'] = p.baselineSource
    ? p.baselineSource.kind === 'model'
      ? {
          kind: 'model',
          source: p.baselineSource.source,
          model:
            given.baseline?.kind === 'model'
              ? { ...given.baseline.model, features: p.baselineFeatures ?? given.baseline.model.features }
              : // A registered version the shards fetched: only its features matter after scoring.
                { ...given.model, runner: 'onnx', path: undefined, url: undefined, headers: undefined, features: p.baselineFeatures ?? [] },
        }
      : { kind: 'report', path: restored(p.baselineSource.source, ws) }
    : undefined
  // The given arrays where nothing was inferred: the result notes inferred features by telling them apart.
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i])
  const settings: Settings = {
    ...given,
    features: same(p.features, given.features) ? given.features : p.features,
    model: same(p.modelFeatures, given.model.features) ? given.model : { ...given.model, features: p.modelFeatures },
    baseline,
    ...(p.baselineFrom ? { baselineFrom: p.baselineFrom as unknown as Settings['baselineFrom'] } : {}),
    ...(p.baselineNote ? { baselineNote: p.baselineNote } : {}),
    ...(baselineEvidence ? { baselineEvidence } : {}),
  }
  const info = (i: z.infer<typeof modelInfoSchema>): ModelInfo => ({ ...(i as unknown as ModelInfo), source: restored(i.source, ws) })
  const baselineReport: BaselineReport | undefined = p.baselineReport
    ? { ...p.baselineReport, source: restored(p.baselineReport.source, ws), byDataset: new Map(p.baselineReport.byDataset) }
    : undefined
  const plan: ValidationPlan<{ info: ModelInfo }> = {
    given,
    settings,
    featureWarning: p.featureWarning,
    candidate: { info: info(p.candidate) },
    ...(p.baseline ? { baseline: { info: info(p.baseline) } } : {}),
    ...(baselineReport ? { baselineReport } : {}),
  }
  const runs = given.data.map((data, d): DatasetRun => {
    const parts = shards.map((s) => ({ file: s.file, run: s.state.payload.runs[d], meta: s.state.data[d] }))
    const candidate = mergeScored(
      parts.map((x) => ({ file: x.file, scored: x.run.candidate })),
      `payload.runs[${d}].candidate`,
      data.path,
    )
    const withBaseline = parts.filter((x) => x.run.baseline)
    if (withBaseline.length !== 0 && withBaseline.length !== parts.length)
      throw new UserError(`${parts.find((x) => !x.run.baseline)!.file}: this shard scored no baseline model, but others did`, {
        file: parts.find((x) => !x.run.baseline)!.file,
        field: `payload.runs[${d}].baseline`,
      })
    const base =
      withBaseline.length > 0
        ? mergeScored(
            parts.map((x) => ({ file: x.file, scored: x.run.baseline! })),
            `payload.runs[${d}].baseline`,
            data.path,
          )
        : undefined
    const contracts = parts.map((x) => x.run.contract).filter((c): c is ContractSummary => c !== undefined)
    const parities = parts.map((x) => x.run.parity).filter((c) => c !== undefined)
    let parity: ParityCounter | undefined
    if (parities.length > 0) {
      parity = new ParityCounter(restored(parities[0].reference, ws), parities[0].tolerance)
      for (const q of parities)
        parity.absorb({ ...q, maxAbsDiff: q.maxAbsDiff === 'Infinity' ? Infinity : q.maxAbsDiff, reference: q.reference } as ParityState)
    }
    const order = parts.map((x) => decodeFloat64(x.run.candidate.acc.rowIndex))
    const empty = parts.map((x) => new Set(x.run.emptyFeatures))
    return {
      data,
      digest: parts[0].meta.digest,
      rows: parts[0].meta.rows,
      scored: parts.reduce((n, x) => n + x.meta.scored, 0),
      // The shards ran side by side: the slowest one is the run's wall time.
      seconds: Math.max(...parts.map((x) => x.run.seconds)),
      candidate,
      baseline: base,
      contract: contracts.length > 0 ? { ...mergeContractSummaries(contracts), schema: restored(contracts[0].schema, ws) } : undefined,
      parity,
      kept: mergeKept(
        parts.map((x) => x.run),
        order,
      ),
      checkSeconds: {
        contract: parts.reduce((n, x) => n + x.run.checkSeconds.contract, 0),
        parity: parts.reduce((n, x) => n + x.run.checkSeconds.parity, 0),
      },
      // Empty in the whole file: empty in every shard.
      emptyFeatures: parts[0].run.emptyFeatures.filter((f) => empty.every((e) => e.has(f))),
    }
  })
  if (runs.every((r) => r.candidate.acc.rows === 0) && runs.length > 0)
    throw new UserError(
      `${given.data[0].path}: none of its ${runs[0].rows} rows has a value in the label column "${given.label}"; the metrics need labelled rows`,
      {
        file: given.data[0].path,
        field: given.label,
      },
    )
  return { plan, runs, cleanup: () => evidenceDir && rmSync(evidenceDir, { recursive: true, force: true }) }
}
