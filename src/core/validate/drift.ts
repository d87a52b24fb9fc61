/*
 * Drift and integrity in validate-model (core/drift): the reference is read once before the data sets,
 * through the candidate too when prediction drift is asked for; each data set then feeds its own side as
 * its rows stream through scoring (score.ts), and stage 3 (metrics.ts) compares the two and hands the
 * gates their `drift.*` and `integrity.*` metrics.
 */
import { digestFile, openTable } from '../data/open.js'
import type { Batch } from '../data/types.js'
import { DriftSide, predictionValues } from '../drift/collect.js'
import { driftMetrics, evaluateDrift } from '../drift/evaluate.js'
import { IntegrityAccumulator, ReferenceProfile, type IntegrityResult } from '../drift/integrity.js'
import { UserError } from '../errors.js'
import type { DriftResult } from '../result/types.js'
import type { FeatureBatch, ModelRunner, PredictionBatch } from '../runners/types.js'
import type { Settings } from '../settings/index.js'
import { currentProgress } from '../progress.js'

/** The reference, profiled: what each data set is compared with. */
export interface DriftReference {
  path: string
  digest: string
  side?: DriftSide
  profile?: ReferenceProfile
}

/** What one data set collects while it streams. */
export interface DriftCollectors {
  side?: DriftSide
  integrity?: IntegrityAccumulator
}

/** The columns drift compares: the manifest's list, else the model's features. */
export function driftColumns(settings: Settings): string[] {
  return settings.drift?.features ?? settings.model.features
}

/** The columns integrity checks: the model's features, the label, and the drift columns. */
function integrityColumns(settings: Settings): string[] {
  return [...new Set([...settings.model.features, settings.label, ...(settings.drift ? driftColumns(settings) : [])])]
}

/** Columns the scoring pass must read for drift and integrity. */
export function driftReadColumns(settings: Settings): string[] {
  if (!settings.drift && !settings.integrity) return []
  return integrityColumns(settings)
}

/** The model's answer per row, as drift compares it; the positive class of a binary model by the settings. */
export function answers(settings: Settings, pred: PredictionBatch): ReturnType<typeof predictionValues> {
  const classes = pred.classes?.map(String)
  const positive = settings.positiveClass ?? pred.classes?.[pred.classes.length - 1]
  const index = classes && positive !== undefined ? classes.indexOf(String(positive)) : undefined
  return predictionValues(pred, index !== undefined && index >= 0 ? index : undefined)
}

/** Reads the reference once: its drift side (through the candidate, for prediction drift) and its integrity profile. */
export async function profileReference(
  settings: Settings,
  candidate: ModelRunner,
  log: (line: string) => void,
): Promise<DriftReference | undefined> {
  const drift = settings.drift
  if (!drift) return undefined
  if (settings.shard)
    throw new UserError(
      `${settings.manifestPath ? `${settings.manifestPath}: ` : ''}drift: a sharded run cannot compare distributions yet (each shard sees part of the rows); run drift without --shard`,
      { file: settings.manifestPath, field: 'drift' },
    )
  const path = drift.referencePath
  const columns = driftColumns(settings)
  const source = openTable(path)
  const present = await source.columns()
  const missing = columns.filter((c) => !present.includes(c))
  if (missing.length > 0)
    throw new UserError(
      `${path}: drift.reference has no column ${missing.map((c) => `"${c}"`).join(', ')} (drift.features compares them)`,
      {
        file: path,
        field: missing[0],
      },
    )
  const hasLabel = present.includes(settings.label)
  const hasFeatures = settings.model.features.every((f) => present.includes(f))
  const side = new DriftSide(columns, drift['max-rows'], drift.seed)
  const profile = settings.integrity ? new ReferenceProfile(integrityColumns(settings).filter((c) => present.includes(c))) : undefined
  const read = [
    ...new Set([
      ...columns,
      ...(hasFeatures ? settings.model.features : []),
      ...(hasLabel ? [settings.label] : []),
      ...(profile?.columns ?? []),
    ]),
  ]
  const progress = currentProgress().phase('reference', { file: path })
  let rows = 0
  for await (const batch of source.batches({ batchSize: settings.batchSize, columns: read, onBytesRead: (b) => progress.bytes(b) })) {
    const pred = drift.predictions && hasFeatures ? await candidate.predict(featureBatch(batch, settings)) : undefined
    side.add(batch, pred && answers(settings, pred), hasLabel ? batch.columns[settings.label] : undefined)
    profile?.add(batch)
    rows += batch.length
    progress.rows(rows)
  }
  progress.end()
  if (rows === 0) throw new UserError(`${path}: drift.reference has no data rows`, { file: path, field: 'drift.reference' })
  log(
    `drift reference: ${rows.toLocaleString('en-US')} rows${side.sampled ? `, a seeded sample of ${side.size.toLocaleString('en-US')}` : ''}`,
  )
  return { path, digest: await digestFile(path), side, profile }
}

/** A data set's collectors, when the manifest asks for drift or integrity. */
export function collectorsFor(settings: Settings, reference: DriftReference | undefined): DriftCollectors {
  return {
    ...(settings.drift && reference?.side
      ? { side: new DriftSide(driftColumns(settings), settings.drift['max-rows'], settings.drift.seed) }
      : {}),
    ...(settings.integrity
      ? {
          integrity: new IntegrityAccumulator(
            { columns: integrityColumns(settings), nearConstant: settings.integrity.nearConstant },
            settings.integrity.leakage ? reference?.profile : undefined,
          ),
        }
      : {}),
  }
}

export function collect(c: DriftCollectors, settings: Settings, batch: Batch, pred: PredictionBatch, baseline?: PredictionBatch): void {
  const outputs = settings.drift?.predictions
  c.side?.add(
    batch,
    outputs ? answers(settings, pred) : undefined,
    batch.columns[settings.label],
    outputs && baseline ? answers(settings, baseline) : undefined,
  )
  c.integrity?.add(batch)
}

/** Stage 3's part: the comparisons, and the gate metrics they give. */
export function judgeDrift(
  c: DriftCollectors | undefined,
  reference: DriftReference | undefined,
  settings: Settings,
): { drift?: DriftResult; integrity?: IntegrityResult; metrics: Record<string, number> } {
  const drift = c?.side && reference?.side && settings.drift ? evaluateDrift(reference.side, c.side, settings.drift, reference) : undefined
  const integrity = c?.integrity?.result()
  return { drift, integrity, metrics: { ...(drift ? driftMetrics(drift) : {}), ...(integrity ? integrityMetrics(integrity) : {}) } }
}

/** `integrity.duplicate_rows`, `integrity.leakage_share`, `integrity.<column>.missing_share`, …: what the gates read. */
export function integrityMetrics(r: IntegrityResult): Record<string, number> {
  const out: Record<string, number> = {
    'integrity.duplicate_rows': r.duplicateRows,
    'integrity.duplicate_row_share': r.rows > 0 ? r.duplicateRows / r.rows : 0,
    'integrity.duplicate_columns': r.duplicateColumns.length,
    'integrity.constant_columns': r.columns.filter((c) => c.constant).length,
    'integrity.near_constant_columns': r.columns.filter((c) => c.nearConstant).length,
    'integrity.mixed_type_columns': r.columns.filter((c) => c.mixedTypes).length,
    'integrity.missing_share': Math.max(0, ...r.columns.map((c) => c.missingShare)),
  }
  if (r.leakage) {
    out['integrity.leakage_rows'] = r.leakage.rows
    out['integrity.leakage_share'] = r.leakage.share
  }
  for (const c of r.columns) {
    out[`integrity.${c.name}.missing_share`] = c.missingShare
    if (c.outOfRange !== undefined) out[`integrity.${c.name}.out_of_range`] = c.outOfRange
    if (c.newCategories) out[`integrity.${c.name}.new_categories`] = c.newCategories.count
  }
  return out
}

function featureBatch(batch: Batch, settings: Settings): FeatureBatch {
  return {
    offset: batch.offset,
    length: batch.length,
    features: settings.model.features,
    columns: settings.model.features.map((f) => batch.columns[f]),
  }
}
