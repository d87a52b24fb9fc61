import { shownName } from '../data/files.js'
import type { Cell } from '../data/types.js'
import { UserError } from '../errors.js'
import { describeValue } from '../runners/output.js'
import type { FeatureBatch, ModelInfo, PredictionBatch, TensorInfo } from '../runners/types.js'

/*
 * The Open Inference Protocol's tensors, translated to and from the runners' column batches. The
 * runner interface is columnar and JSON is not, so this is the one place that knows both. Every
 * problem with a request is a UserError, which the server answers with 400; a model answer that
 * JSON cannot carry is a NonFiniteOutputError, which it answers with 500.
 *
 * Strict, as the protocol reads: each input tensor is matched to the model input of its name and
 * must carry that input's datatype and a shape that fits it; every model input must be given; the
 * elements must be of the tensor's datatype. Two allowances, both unambiguous:
 * - a column input ([-1] or [-1, 1]) takes [rows] as well as [rows, 1]: the same elements in the
 *   same order, and the http runner sends [rows, 1] to a [-1] input;
 * - a model with one column input per feature also takes a single [rows, k] tensor named after its
 *   first input, with that input's datatype, its columns feeding the k inputs in order. That is
 *   what our http runner sends (one tensor named after the metadata's first input), so deploy-model
 *   can verify such a model.
 */

export interface OipTensorMetadata {
  name: string
  datatype: string
  shape: number[]
}

export interface OipTensor extends OipTensorMetadata {
  data: unknown[]
}

export interface InferRequest {
  id?: string
  inputs: OipTensor[]
  /** Output names the client asked for; all outputs when absent. */
  outputs?: string[]
}

export const OIP_DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BF16',
  'BYTES',
] as const

const FROM_ONNX: Record<string, string> = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float: 'FP32',
  double: 'FP64',
  bfloat16: 'BF16',
  string: 'BYTES',
}

/** An ONNX element type as an OIP datatype; types OIP cannot carry (sequences, maps) show as BYTES. */
export function oipDatatype(onnxType: string): string {
  return FROM_ONNX[onnxType] ?? 'BYTES'
}

/** Symbolic dimensions (`N`, `batch`) become -1, as OIP spells variable sizes. */
export function tensorMetadata(t: TensorInfo): OipTensorMetadata {
  return { name: t.name, datatype: oipDatatype(t.dtype), shape: t.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) }
}

function badRequest(message: string, field?: string): UserError {
  return new UserError(message, { field })
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * describeValue, but a value nested too deeply for JSON.stringify (which recurses) is described in
 * words: a request body of a few KiB can nest a list 100,000 deep, and a RangeError would be a 500.
 */
function shown(v: unknown): string {
  try {
    return describeValue(v)
  } catch {
    return Array.isArray(v) ? 'a list nested too deeply to show' : 'an object nested too deeply to show'
  }
}

/**
 * `data` flattened row-major, nested lists to any depth. Not Array.prototype.flat(Infinity), which
 * recurses and overflows the stack on a list nested 100,000 deep (a few KiB of JSON).
 */
function flatten(data: unknown[]): unknown[] {
  const out: unknown[] = []
  const stack: { list: unknown[]; at: number }[] = [{ list: data, at: 0 }]
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!
    if (top.at >= top.list.length) {
      stack.pop()
      continue
    }
    const v = top.list[top.at++]
    if (Array.isArray(v)) stack.push({ list: v, at: 0 })
    else out.push(v)
  }
  return out
}

/** Integer datatypes and their ranges, upper bound excluded (2^63 and 2^64 are exact as doubles, 2^63 - 1 is not). */
const INTEGER_RANGES: Record<string, [number, number]> = {
  INT8: [-(2 ** 7), 2 ** 7],
  INT16: [-(2 ** 15), 2 ** 15],
  INT32: [-(2 ** 31), 2 ** 31],
  INT64: [-(2 ** 63), 2 ** 63],
  UINT8: [0, 2 ** 8],
  UINT16: [0, 2 ** 16],
  UINT32: [0, 2 ** 32],
  UINT64: [0, 2 ** 64],
}

/** The largest finite magnitude of each float datatype; a larger number would arrive as infinity. */
const FLOAT_LIMITS: Record<string, number> = {
  FP16: 65504,
  BF16: 3.3895313892515355e38,
  FP32: 3.4028234663852886e38,
  FP64: Number.MAX_VALUE,
}

/**
 * Why a tensor element cannot be a value of its datatype, or undefined when it can. The protocol lets
 * a server coerce elements or refuse them; this one refuses, so a wrong type is never guessed at:
 * numbers for FP and INT types (whole and in range for INT), true/false for BOOL, text for BYTES.
 * No element may be null: tensors have no missing values.
 */
function elementProblem(v: unknown, datatype: string): string | undefined {
  // Checked for every element of a request, so the text of a problem is made only once there is one.
  const given = (): string => (v === null ? 'null' : typeof v === 'string' ? `the text ${shown(v)}` : shown(v))
  if (datatype === 'BYTES') return typeof v === 'string' ? undefined : `${given()}, but BYTES takes text`
  if (datatype === 'BOOL') return typeof v === 'boolean' ? undefined : `${given()}, but BOOL takes true or false`
  if (typeof v !== 'number') return `${given()}, but ${datatype} takes numbers`
  const range = INTEGER_RANGES[datatype]
  if (range !== undefined) {
    if (!Number.isInteger(v))
      return Number.isFinite(v) ? `${given()}, but ${datatype} takes whole numbers` : `a number too large for ${datatype}`
    return v >= range[0] && v < range[1] ? undefined : `${given()}, outside the range of ${datatype}`
  }
  // JSON.parse reads 1e999 as Infinity, which JSON.stringify would print as null.
  if (!Number.isFinite(v)) return `a number too large for ${datatype}`
  return Math.abs(v) <= (FLOAT_LIMITS[datatype] ?? Number.MAX_VALUE) ? undefined : `${given()}, outside the range of ${datatype}`
}

function parseTensor(value: unknown, i: number): OipTensor {
  const where = `inputs[${i}]`
  if (!isRecord(value)) throw badRequest(`${where} must be an object with name, shape, datatype and data`, where)
  const { name, shape, datatype, data } = value
  if (typeof name !== 'string' || name === '') throw badRequest(`${where}.name must be a non-empty string`, `${where}.name`)
  const tensor = `${where} (${shownName(name)})`
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && (d as number) >= 0))
    throw badRequest(`${tensor}: shape must be a list of whole numbers ≥ 0, got ${shown(shape)}`, `${where}.shape`)
  if (typeof datatype !== 'string' || !(OIP_DATATYPES as readonly string[]).includes(datatype))
    throw badRequest(`${tensor}: datatype must be one of ${OIP_DATATYPES.join(', ')}, got ${shown(datatype)}`, `${where}.datatype`)
  if (!Array.isArray(data)) throw badRequest(`${tensor}: data must be a list (flat or nested)`, `${where}.data`)
  const flat = flatten(data)
  const size = (shape as number[]).reduce((n, d) => n * d, 1)
  if (flat.length !== size)
    throw badRequest(`${tensor}: shape [${shape.join(', ')}] holds ${size} elements but data has ${flat.length}`, `${where}.data`)
  for (let k = 0; k < flat.length; k++) {
    const problem = elementProblem(flat[k], datatype)
    if (problem !== undefined) throw badRequest(`${tensor}: element ${k} is ${problem}`, `${where}.data`)
  }
  return { name, shape: shape as number[], datatype, data: flat }
}

/** Checks the JSON of an inference request; tensor data comes back flattened row-major. */
export function parseInferRequest(body: unknown): InferRequest {
  if (!isRecord(body)) throw badRequest('the request body must be a JSON object with "inputs"')
  const { id, inputs, outputs } = body
  if (id !== undefined && typeof id !== 'string') throw badRequest(`"id" must be a string, got ${shown(id)}`, 'id')
  if (!Array.isArray(inputs) || inputs.length === 0) throw badRequest('"inputs" must be a non-empty list of tensors', 'inputs')
  const request: InferRequest = { id, inputs: inputs.map(parseTensor) }
  if (outputs !== undefined) {
    if (!Array.isArray(outputs) || !outputs.every((o) => isRecord(o) && typeof o.name === 'string'))
      throw badRequest('"outputs" must be a list of {"name": …} objects', 'outputs')
    request.outputs = outputs.map((o) => (o as { name: string }).name)
  }
  return request
}

const shapeText = (shape: number[]): string => `[${shape.join(', ')}]`
const described = (m: OipTensorMetadata): string => `${m.name} (${m.datatype} ${shapeText(m.shape)})`

/** One value per row: [-1], [n], [-1, 1] or [n, 1]. */
const isColumnShape = (shape: number[]): boolean => shape.length === 1 || (shape.length === 2 && shape[1] === 1)

/** A dimension of the model's fits a request's when it is variable (-1) or the same size. */
const dimFits = (model: number | undefined, given: number | undefined): boolean => model === -1 || model === given

/** The request's shape fits the model input's: same rank and sizes where the model fixes them; columns as [rows] or [rows, 1]. */
function shapeFits(given: number[], model: number[]): boolean {
  if (isColumnShape(given) && isColumnShape(model)) return dimFits(model[0], given[0])
  return given.length === model.length && model.every((d, k) => dimFits(d, given[k]))
}

function batchOf(features: string[], columns: Cell[][], rows: number): FeatureBatch {
  return { offset: 0, length: rows, features, columns }
}

/**
 * The allowance for our http runner: one [rows, k] tensor named after the first of k > 1 column inputs.
 * Any other single tensor is matched by name, as the protocol reads.
 */
function isSpreadRequest(tensors: OipTensor[], model: OipTensorMetadata[]): boolean {
  const t = tensors[0]!
  return (
    tensors.length === 1 &&
    model.length > 1 &&
    t.name === model[0]!.name &&
    t.shape.length === 2 &&
    t.shape[1] === model.length &&
    model.every((m) => isColumnShape(m.shape))
  )
}

/** A [rows, k] tensor's columns, one per model input, in the model's order. */
function fromSpread(t: OipTensor, model: OipTensorMetadata[]): FeatureBatch {
  const first = model[0]!
  if (t.datatype !== first.datatype)
    throw badRequest(
      `input ${shownName(t.name)}: the model takes ${first.datatype}, not ${t.datatype} (a [rows, ${model.length}] tensor feeds the model's inputs ${model.map(described).join(', ')} in order, with the datatype of the first)`,
      'inputs[0].datatype',
    )
  const [rows, width] = t.shape as [number, number]
  const bad = model.find((m) => !dimFits(m.shape[0], rows))
  if (bad !== undefined)
    throw badRequest(
      `input ${shownName(t.name)}: shape ${shapeText(t.shape)} does not fit the model's input ${described(bad)}`,
      'inputs[0].shape',
    )
  const columns = model.map((_, j) => Array.from({ length: rows }, (_, i) => t.data[i * width + j] as Cell))
  return batchOf(
    model.map((m) => m.name),
    columns,
    rows,
  )
}

/** Each tensor matched to the model input of its name, checked against it; every input must be given. */
function fromNamed(tensors: OipTensor[], model: OipTensorMetadata[]): FeatureBatch {
  const inputs = `the model's inputs are ${model.map(described).join(', ')}`
  const seen = new Set<string>()
  tensors.forEach((t, i) => {
    const where = `inputs[${i}]`
    if (seen.has(t.name)) throw badRequest(`input ${shownName(t.name)} is given twice`, `${where}.name`)
    seen.add(t.name)
    const m = model.find((x) => x.name === t.name)
    if (m === undefined) throw badRequest(`input ${shownName(t.name)} is not an input of the model; ${inputs}`, `${where}.name`)
    if (t.datatype !== m.datatype)
      throw badRequest(`input ${shownName(t.name)}: the model takes ${m.datatype}, not ${t.datatype}`, `${where}.datatype`)
    if (!shapeFits(t.shape, m.shape))
      throw badRequest(
        `input ${shownName(t.name)}: shape ${shapeText(t.shape)} does not fit the model's ${shapeText(m.shape)} (-1: any size)`,
        `${where}.shape`,
      )
  })
  const missing = model.filter((m) => !seen.has(m.name))
  if (missing.length > 0)
    throw badRequest(`the model's inputs ${missing.map((m) => m.name).join(', ')} are missing from the request; ${inputs}`, 'inputs')
  const byName = (name: string): OipTensor => tensors.find((t) => t.name === name)!
  const rows = byName(model[0]!.name).shape[0]!
  const uneven = model.find((m) => byName(m.name).shape[0] !== rows)
  if (uneven !== undefined)
    throw badRequest(`input ${uneven.name} has ${byName(uneven.name).shape[0]} rows but ${model[0]!.name} has ${rows}`, 'inputs')
  // A single input of rank 2 takes the whole feature matrix; the ONNX runner feeds it by position.
  if (model.length === 1 && model[0]!.shape.length === 2) {
    const t = byName(model[0]!.name)
    const width = t.shape[1] ?? 1
    // A [rows, 0] tensor has no data yet claims any number of rows (a million, in a 60-byte body): rows without features.
    if (width === 0 && rows > 0)
      throw badRequest(
        `input ${t.name}: shape ${shapeText(t.shape)} has no columns; the model's input is ${described(model[0]!)} (-1: any size)`,
        'inputs[0].shape',
      )
    return batchOf(
      Array.from({ length: width }, (_, j) => `f${j}`),
      Array.from({ length: width }, (_, j) => Array.from({ length: rows }, (_, i) => t.data[i * width + j] as Cell)),
      rows,
    )
  }
  // Otherwise the runner feeds one column per input.
  const wide = model.find((m) => !isColumnShape(byName(m.name).shape))
  if (wide !== undefined)
    throw badRequest(`input ${wide.name}: this server feeds models with several inputs one value per row per input`, 'inputs')
  return batchOf(
    model.map((m) => m.name),
    model.map((m) => byName(m.name).data as Cell[]),
    rows,
  )
}

/** The request's tensors, checked against the model's inputs, as the feature batch the model's runner expects. */
export function toFeatureBatch(request: InferRequest, model: ModelInfo): FeatureBatch {
  const inputs = model.inputs.map(tensorMetadata)
  const batch = isSpreadRequest(request.inputs, inputs) ? fromSpread(request.inputs[0]!, inputs) : fromNamed(request.inputs, inputs)
  if (batch.length === 0) throw badRequest('the request has no rows', 'inputs[0].shape')
  return batch
}

/**
 * The model answered with NaN or ±infinity. JSON has no such numbers (JSON.stringify writes null), and
 * a null where a number belongs is a wrong answer a client may not notice, so there is no answer.
 */
export class NonFiniteOutputError extends Error {
  constructor(
    readonly output: string,
    readonly row: number,
    message: string,
  ) {
    super(message)
    this.name = 'NonFiniteOutputError'
  }
}

/** Every output the model gave must be finite, including those the client did not ask for: they come from the same failed computation. */
function requireFinite(outputs: OipTensor[]): void {
  for (const t of outputs) {
    const width = t.shape.slice(1).reduce((n, d) => n * d, 1)
    const bad = t.data.map((v, k) => (typeof v === 'number' && !Number.isFinite(v) ? k : -1)).filter((k) => k >= 0)
    if (bad.length === 0) continue
    const first = t.data[bad[0]!] as number
    const rows = new Set(bad.map((k) => Math.floor(k / Math.max(width, 1)))).size
    const row = Math.floor(bad[0]! / Math.max(width, 1))
    throw new NonFiniteOutputError(
      t.name,
      row,
      `the model's output ${t.name} is ${first} at row ${row} (0-based)${rows > 1 ? ` and in ${rows - 1} more row${rows - 1 === 1 ? '' : 's'}` : ''}; ` +
        'an inference response carries finite numbers only, so this request has no answer',
    )
  }
}

function labelDatatype(labels: (number | string)[], declared?: TensorInfo): string {
  if (labels.some((l) => typeof l === 'string')) return 'BYTES'
  if (!labels.every((l) => Number.isInteger(l))) return 'FP64'
  return declared?.dtype === 'int32' ? 'INT32' : 'INT64'
}

/** Floats keep the model's precision: float32 values travel as FP32, so a client sees the ONNX runner's exact numbers. */
const floatDatatype = (declared?: TensorInfo): string => (declared?.dtype === 'float' ? 'FP32' : 'FP64')

/**
 * The prediction as OIP output tensors named after the model outputs they came from: labels `[rows]`,
 * probabilities `[rows, classes]`, regression values `[rows]`. That is what our http runner reads
 * back (integer or text column → labels, float matrix → probabilities, float column → values).
 */
export function toOutputs(prediction: PredictionBatch, model: ModelInfo, wanted?: string[]): OipTensor[] {
  const declared = (name: string) => model.outputs.find((o) => o.name === name)
  const rows = prediction.length
  const outputs: OipTensor[] = []
  const { labels, probabilities, classes, values, sources } = prediction
  if (labels !== undefined) {
    const name = sources.labels ?? 'label'
    outputs.push({ name, datatype: labelDatatype(labels, declared(name)), shape: [rows], data: labels })
  }
  if (probabilities !== undefined) {
    const name = sources.probabilities ?? 'probabilities'
    const width = classes?.length ?? (rows === 0 ? 0 : probabilities.length / rows)
    outputs.push({ name, datatype: floatDatatype(declared(name)), shape: [rows, width], data: Array.from(probabilities) })
  }
  if (values !== undefined) {
    const name = sources.values ?? 'value'
    outputs.push({ name, datatype: floatDatatype(declared(name)), shape: [rows], data: Array.from(values) })
  }
  requireFinite(outputs)
  if (wanted === undefined) return outputs
  const missing = wanted.find((w) => !outputs.some((o) => o.name === w))
  if (missing !== undefined)
    throw badRequest(`output ${missing} is not served; outputs: ${outputs.map((o) => o.name).join(', ')}`, 'outputs')
  return outputs.filter((o) => wanted.includes(o.name))
}
