/*
 * The shapes of the servers' JSON: the Open Inference Protocol V2's tensors (request elements, model
 * metadata, answer outputs) and the fields v1 and MLflow answers carry. Everything a server sends is
 * checked against its declared shape before it becomes predictions, and its free text is scrubbed.
 */
import type { Cell } from '../data/types.js'
import { UserError } from '../errors.js'
import { scrub } from '../secrets.js'
import { describeValue, indexClasses, type Label, type PredictionSources, type RawPredictions, type Task } from './output.js'
import type { TensorInfo } from './types.js'

export interface V2Tensor {
  name: string
  datatype: string
  shape: number[]
  data?: unknown
}

export interface V2Metadata {
  name?: string
  platform?: string
  versions?: string[]
  inputs: V2Tensor[]
  outputs: V2Tensor[]
}

/** One element of a V2 input tensor; tensors have no missing values and one type. */
export function tensorElement(who: string, cell: Cell, datatype: string, row: number, feature: string): number | string | boolean {
  const where = `${who}: row ${row}, feature ${feature}`
  if (cell === null) throw new UserError(`${where} is missing; V2 tensors cannot carry missing values`, { field: feature })
  if (datatype === 'BYTES') return String(cell)
  if (datatype === 'BOOL') return Boolean(cell)
  if (typeof cell === 'boolean') return cell ? 1 : 0
  if (typeof cell === 'string')
    throw new UserError(`${where} is the text ${describeValue(cell)}, but the ${datatype} input takes numbers`, {
      field: feature,
    })
  return cell
}

/** A field of a JSON answer, or a message quoting what came instead. */
export function field(who: string, body: unknown, name: string): unknown {
  if (typeof body !== 'object' || body === null || !(name in body))
    throw new UserError(`${who}: the answer has no "${name}" field: ${describeValue(body)}`)
  return (body as Record<string, unknown>)[name]
}

/** The server's free text (name, platform) goes into the report: scrubbed like its error bodies. */
export function parseMetadata(body: unknown): V2Metadata {
  const m = (body ?? {}) as Partial<V2Metadata>
  const tensors = (list: unknown): V2Tensor[] =>
    Array.isArray(list)
      ? list.map((t: Partial<V2Tensor>) => ({
          name: String(t.name ?? ''),
          datatype: String(t.datatype ?? ''),
          shape: Array.isArray(t.shape) ? t.shape : [],
        }))
      : []
  return {
    name: m.name === undefined ? undefined : scrub(String(m.name)),
    platform: m.platform === undefined ? undefined : scrub(String(m.platform)),
    versions: m.versions,
    inputs: tensors(m.inputs),
    outputs: tensors(m.outputs),
  }
}

/** V2 datatypes named as ONNX element types, which is how ModelInfo names them. */
const V2_DTYPES: Record<string, string> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float',
  FP64: 'double',
  BF16: 'bfloat16',
  BYTES: 'string',
}

export function tensorInfo(t: V2Tensor): TensorInfo {
  return { name: t.name, dtype: V2_DTYPES[t.datatype] ?? 'unknown', shape: t.shape }
}

const LABEL_OUTPUTS = ['label', 'output_label', 'labels', 'predict', 'predictions']
const PROBABILITY_OUTPUTS = ['probabilities', 'output_probability', 'probability', 'predict_proba']
const VALUE_OUTPUTS = ['value', 'values', 'predict', 'predictions', 'output', 'variable']

const isFloat = (t: V2Tensor): boolean => /^(FP|BF)\d+$/.test(t.datatype)

/**
 * Picks the label, probability and value outputs of a V2 answer: by name first, else by type and
 * shape (integer or text [N] → labels; float [N, C] → probabilities; float [N] → values).
 */
export function fromV2Outputs(
  who: string,
  body: unknown,
  rows: number,
  opts: { task?: Task; classes?: Label[] },
): { raw: RawPredictions; sources: PredictionSources } {
  const outputs = field(who, body, 'outputs')
  if (!Array.isArray(outputs) || outputs.length === 0) throw new UserError(`${who}: the answer has no outputs`)
  const tensors = outputs.map((o, i) => v2Tensor(who, o, i))
  const isColumn = (t: V2Tensor): boolean => t.shape.length === 1 || (t.shape.length === 2 && t.shape[1] === 1)
  const pick = (candidates: V2Tensor[], names: string[]): V2Tensor | undefined =>
    names.map((n) => candidates.find((t) => t.name === n)).find((t) => t !== undefined) ?? candidates[0]

  const labels =
    opts.task === 'regression'
      ? undefined
      : pick(
          tensors.filter((t) => isColumn(t) && (!isFloat(t) || opts.task === 'classification')),
          LABEL_OUTPUTS,
        )
  const probabilities =
    opts.task === 'regression'
      ? undefined
      : pick(
          tensors.filter((t) => isFloat(t) && t.shape.length === 2 && t.shape[1]! > 1),
          PROBABILITY_OUTPUTS,
        )
  const values =
    opts.task === 'classification' || labels || probabilities
      ? undefined
      : pick(
          tensors.filter((t) => isFloat(t) && isColumn(t)),
          VALUE_OUTPUTS,
        )
  if (!labels && !probabilities && !values)
    throw new UserError(
      `${who}: found no ${opts.task === 'regression' ? 'value' : 'label, probability or value'} output among ${tensors
        .map((t) => `${t.name} (${t.datatype} [${t.shape.join(', ')}])`)
        .join(', ')}`,
    )
  const raw: RawPredictions = {}
  if (labels) raw.labels = flatData(who, labels)
  if (values) raw.values = flatData(who, values)
  if (probabilities) {
    const width = probabilities.shape[1]!
    const flat = flatData(who, probabilities)
    raw.probabilities = Array.from({ length: flat.length / width }, (_, i) => flat.slice(i * width, (i + 1) * width))
    raw.classes = opts.classes ?? indexClasses(width)
  }
  for (const t of [labels, probabilities, values])
    if (t && t.shape[0] !== rows)
      throw new UserError(`${who}: output ${t.name} has shape [${t.shape.join(', ')}] for a batch of ${rows} rows`)
  return { raw, sources: { labels: labels?.name, probabilities: probabilities?.name, values: values?.name } }
}

function v2Tensor(who: string, o: unknown, i: number): V2Tensor {
  const t = (o ?? {}) as Partial<V2Tensor>
  if (typeof t.name !== 'string' || typeof t.datatype !== 'string' || !Array.isArray(t.shape) || !t.shape.every(Number.isInteger))
    throw new UserError(`${who}: output ${i} lacks a name, datatype or shape: ${describeValue(o)}`)
  return t as V2Tensor
}

/** Tensor data flattened row-major, checked against the shape. */
function flatData(who: string, t: V2Tensor): unknown[] {
  const data = Array.isArray(t.data) ? (t.data.flat(Infinity) as unknown[]) : undefined
  const size = t.shape.reduce((n, d) => n * d, 1)
  if (data === undefined || data.length !== size)
    throw new UserError(
      `${who}: output ${t.name} has shape [${t.shape.join(', ')}] but ${data === undefined ? 'no data' : `${data.length} elements`}`,
    )
  return data
}
