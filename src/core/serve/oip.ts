import type { Cell } from '../data/types.js'
import { UserError } from '../errors.js'
import { describeValue } from '../runners/output.js'
import type { FeatureBatch, ModelInfo, PredictionBatch, TensorInfo } from '../runners/types.js'

/*
 * The Open Inference Protocol's tensors, translated to and from the runners' column batches. The
 * runner interface is columnar and JSON is not, so this is the one place that knows both. Every
 * problem with a request is a UserError, which the server answers with 400.
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

function parseTensor(value: unknown, i: number): OipTensor {
  const where = `inputs[${i}]`
  if (!isRecord(value)) throw badRequest(`${where} must be an object with name, shape, datatype and data`, where)
  const { name, shape, datatype, data } = value
  if (typeof name !== 'string' || name === '') throw badRequest(`${where}.name must be a non-empty string`, `${where}.name`)
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && (d as number) >= 0))
    throw badRequest(`${where} (${name}): shape must be a list of whole numbers ≥ 0, got ${describeValue(shape)}`, `${where}.shape`)
  if (typeof datatype !== 'string' || !(OIP_DATATYPES as readonly string[]).includes(datatype))
    throw badRequest(
      `${where} (${name}): datatype must be one of ${OIP_DATATYPES.join(', ')}, got ${describeValue(datatype)}`,
      `${where}.datatype`,
    )
  if (!Array.isArray(data)) throw badRequest(`${where} (${name}): data must be a list (flat or nested)`, `${where}.data`)
  const flat = data.flat(Infinity) as unknown[]
  const size = (shape as number[]).reduce((n, d) => n * d, 1)
  if (flat.length !== size)
    throw badRequest(`${where} (${name}): shape [${shape.join(', ')}] holds ${size} elements but data has ${flat.length}`, `${where}.data`)
  const bad = flat.findIndex((v) => v !== null && !['number', 'string', 'boolean'].includes(typeof v))
  if (bad >= 0) throw badRequest(`${where} (${name}): element ${bad} is ${describeValue(flat[bad])}, not a number, string or boolean`)
  return { name, shape: shape as number[], datatype, data: flat }
}

/** Checks the JSON of an inference request; tensor data comes back flattened row-major. */
export function parseInferRequest(body: unknown): InferRequest {
  if (!isRecord(body)) throw badRequest('the request body must be a JSON object with "inputs"')
  const { id, inputs, outputs } = body
  if (id !== undefined && typeof id !== 'string') throw badRequest(`"id" must be a string, got ${describeValue(id)}`, 'id')
  if (!Array.isArray(inputs) || inputs.length === 0) throw badRequest('"inputs" must be a non-empty list of tensors', 'inputs')
  const request: InferRequest = { id, inputs: inputs.map(parseTensor) }
  if (outputs !== undefined) {
    if (!Array.isArray(outputs) || !outputs.every((o) => isRecord(o) && typeof o.name === 'string'))
      throw badRequest('"outputs" must be a list of {"name": …} objects', 'outputs')
    request.outputs = outputs.map((o) => (o as { name: string }).name)
  }
  return request
}

/** A single input of rank 2 takes the whole feature matrix; the ONNX runner feeds it by position. */
function isMatrixModel(inputs: TensorInfo[]): boolean {
  return inputs.length === 1 && inputs[0]!.shape.length === 2
}

function batchOf(features: string[], columns: Cell[][], rows: number): FeatureBatch {
  return { offset: 0, length: rows, features, columns }
}

/** One tensor `[rows, k]`, row-major: column j is feature j. */
function fromMatrix(t: OipTensor, model: TensorInfo[]): FeatureBatch {
  const [rows, width] = t.shape as [number, number]
  const features = isMatrixModel(model) ? Array.from({ length: width }, (_, j) => `f${j}`) : model.map((m) => m.name)
  if (features.length !== width)
    throw badRequest(
      `input ${t.name} has ${width} columns but the model takes ${features.length} inputs (${features.join(', ')}), one per column`,
      'inputs[0].shape',
    )
  const columns = features.map((_, j) => Array.from({ length: rows }, (_, i) => t.data[i * width + j] as Cell))
  return batchOf(features, columns, rows)
}

/** One tensor per feature, `[rows]` or `[rows, 1]`; matched to the model's inputs by name when it has several. */
function fromColumns(tensors: OipTensor[], model: TensorInfo[]): FeatureBatch {
  tensors.forEach((t, i) => {
    if (t.shape.length > 2 || (t.shape.length === 2 && t.shape[1] !== 1))
      throw badRequest(
        `inputs[${i}] (${t.name}): with several input tensors each must be one column, [rows] or [rows, 1]; got [${t.shape.join(', ')}]`,
        `inputs[${i}].shape`,
      )
  })
  const rows = tensors[0]!.shape[0]!
  const uneven = tensors.find((t) => t.shape[0] !== rows)
  if (uneven) throw badRequest(`input ${uneven.name} has ${uneven.shape[0]} rows but ${tensors[0]!.name} has ${rows}`)
  const names = tensors.map((t) => t.name)
  const duplicate = names.find((n, i) => names.indexOf(n) !== i)
  if (duplicate !== undefined) throw badRequest(`input ${duplicate} is given twice`)
  // A single-column request to a single-input model needs no matching name, as in the ONNX runner.
  if (isMatrixModel(model) || (model.length === 1 && tensors.length === 1))
    return batchOf(
      names,
      tensors.map((t) => t.data as Cell[]),
      rows,
    )
  const expected = model.map((m) => m.name)
  const unknown = names.find((n) => !expected.includes(n))
  if (unknown !== undefined) throw badRequest(`input ${unknown} is not an input of the model; inputs: ${expected.join(', ')}`)
  const missing = expected.filter((n) => !names.includes(n))
  if (missing.length > 0) throw badRequest(`the model's inputs ${missing.join(', ')} are missing from the request`)
  return batchOf(
    expected,
    expected.map((n) => tensors.find((t) => t.name === n)!.data as Cell[]),
    rows,
  )
}

/** The request's tensors as the feature batch the model's runner expects. */
export function toFeatureBatch(request: InferRequest, model: ModelInfo): FeatureBatch {
  const first = request.inputs[0]!
  const batch =
    request.inputs.length === 1 && first.shape.length === 2 ? fromMatrix(first, model.inputs) : fromColumns(request.inputs, model.inputs)
  if (batch.length === 0) throw badRequest('the request has no rows', 'inputs[0].shape')
  return batch
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
  if (wanted === undefined) return outputs
  const missing = wanted.find((w) => !outputs.some((o) => o.name === w))
  if (missing !== undefined)
    throw badRequest(`output ${missing} is not served; outputs: ${outputs.map((o) => o.name).join(', ')}`, 'outputs')
  return outputs.filter((o) => wanted.includes(o.name))
}
