/**
 * Runs ONNX models in-process with onnxruntime-web (WebAssembly, CPU).
 *
 * WebAssembly files. ort-web's Node entry (`dist/ort.node.min.mjs`) loads two files at the
 * first session: the Emscripten glue `ort-wasm-simd-threaded.mjs` (by dynamic import) and
 * `ort-wasm-simd-threaded.wasm` (read with fs from the glue's directory, or from
 * `env.wasm.wasmPaths`). Nothing else is loaded (no worker files with numThreads = 1, no
 * jsep/jspi/asyncify variants, no fetch).
 * - Unbundled (jest, `node` on the sources): both are found in node_modules/onnxruntime-web/dist.
 * - In an @vercel/ncc bundle the ort code is inlined, so ship exactly these two files from
 *   node_modules/onnxruntime-web/dist beside the bundle, and pass that folder as `wasmDir`:
 *     dist/ort-wasm-simd-threaded.mjs   (~24 KB)
 *     dist/ort-wasm-simd-threaded.wasm  (~14 MB)
 *
 * Threads: one by default. The classical models this tool validates are tiny, so WASM threads
 * (worker_threads running the glue again) only add start-up time.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'
import * as ort from 'onnxruntime-web'
import { EXCERPT_CHARS, excerpt } from '../data/files.js'
import type { Cell } from '../data/types.js'
import { CellError, UserError, errorText } from '../errors.js'
import {
  bytesToString,
  decodeModel,
  encodeModel,
  feedInputs,
  findAttribute,
  makeTensorValueInfo,
  DataType,
  toNumber,
  valueSignature,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type ValueSignature,
} from '../onnx/proto.js'
import type { FeatureBatch, ModelInfo, ModelRunner, PredictionBatch, TensorInfo } from './types.js'

export interface OnnxRunnerOptions {
  path: string
  /** Output to read class labels from (default: the int64/string tensor output). */
  labelOutput?: string
  /** Output to read class probabilities from (default: the float N×C tensor output). */
  probabilityOutput?: string
  /** Folder holding ort-wasm-simd-threaded.{mjs,wasm}; needed when running from a bundle. */
  wasmDir?: string
  /** WebAssembly threads (default 1). Fixed by the first runner created in a process. */
  threads?: number
}

const RE_EXPORT_HINT = "re-export it without ZipMap: convert_sklearn(model, initial_types=..., options={id(model): {'zipmap': False}})"

let runtimeConfigured = false

/** ort's wasm settings are read once, at the first session in the process. */
function configureRuntime(opts: OnnxRunnerOptions): void {
  if (runtimeConfigured) return
  runtimeConfigured = true
  ort.env.logLevel = 'error'
  ort.env.wasm.numThreads = Math.max(1, Math.floor(opts.threads ?? 1))
  if (opts.wasmDir !== undefined) {
    // A file: URL prefix: the glue resolves the .wasm against it and reads it with fs.
    const href = pathToFileURL(opts.wasmDir).href
    ort.env.wasm.wasmPaths = href.endsWith('/') ? href : `${href}/`
  }
}

async function readModelFile(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path))
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'it is a directory' : errorText(e)
    throw new UserError(`cannot read ONNX model ${path}: ${why}`, { file: path })
  }
}

function parseModel(path: string, bytes: Uint8Array): ModelProto {
  let model: ModelProto
  try {
    model = decodeModel(bytes)
  } catch (e) {
    throw new UserError(`${path} is not an ONNX model (protobuf decoding failed: ${errorText(e)})`, { file: path })
  }
  // Protobuf decoding accepts some garbage; a real model has a version, a graph and outputs.
  const graph = model.graph
  if (model.ir_version === undefined || toNumber(model.ir_version) <= 0 || !graph || graph.output.length === 0) {
    throw new UserError(`${path} is not an ONNX model (no IR version, graph or graph outputs)`, { file: path })
  }
  return model
}

interface ZipMapBypass {
  /** The ZipMap's output name, as the model declared it. */
  from: string
  /** The probability tensor it wrapped, now a graph output. */
  to: string
  classes?: (number | string)[]
}

/** Class labels declared by an ai.onnx.ml node (ZipMap, LinearClassifier, TreeEnsembleClassifier, SVMClassifier…). */
function classLabelsOf(node: NodeProto): (number | string)[] | undefined {
  for (const name of ['classlabels_int64s', 'classlabels_ints']) {
    const a = findAttribute(node, name)
    if (a && a.ints.length > 0) return a.ints.map((v) => toNumber(v))
  }
  const s = findAttribute(node, 'classlabels_strings')
  if (s && s.strings.length > 0) return s.strings.map((b) => bytesToString(b))
  return undefined
}

/**
 * JS runtimes cannot return ZipMap's seq(map) output, so a ZipMap feeding a graph output is cut
 * off and the N×C tensor it wraps is exposed instead. Mutates `graph`.
 */
function bypassZipMaps(path: string, graph: GraphProto): ZipMapBypass[] {
  const bypasses: ZipMapBypass[] = []
  const graphOutputs = new Set(graph.output.map((o) => o.name))
  for (const node of [...graph.node]) {
    if (node.op_type !== 'ZipMap' || !node.output.some((o) => graphOutputs.has(o))) continue
    const from = node.output[0] ?? ''
    const to = node.input[0] ?? ''
    const consumed = graph.node.some((n) => n !== node && n.input.includes(from))
    const producer = graph.node.find((n) => n.output.includes(to))
    if (consumed || producer === undefined || to === '') {
      throw new UserError(
        `${path}: output '${from}' is a ZipMap (sequence of maps) that cannot be read here and cannot be bypassed; ${RE_EXPORT_HINT}`,
        { file: path, field: from },
      )
    }
    const classes = classLabelsOf(node)
    graph.node.splice(graph.node.indexOf(node), 1)
    const at = graph.output.findIndex((o) => o.name === from)
    const already = graph.output.some((o) => o.name === to)
    if (already) graph.output.splice(at, 1)
    else graph.output[at] = makeTensorValueInfo(to, DataType.FLOAT, ['N', classes?.length ?? null])
    bypasses.push({ from, to, classes })
  }
  return bypasses
}

type FeedKind = 'float' | 'double' | 'int64' | 'int32' | 'string'

const feedKinds: Record<string, FeedKind> = {
  float: 'float',
  double: 'double',
  int64: 'int64',
  int32: 'int32',
  string: 'string',
}

interface InputPlan {
  mode: 'matrix' | 'columns'
  inputs: { sig: ValueSignature; kind: FeedKind }[]
}

function inputKind(path: string, sig: ValueSignature): FeedKind {
  const kind = sig.kind === 'tensor' ? feedKinds[sig.dtype] : undefined
  if (kind === undefined) {
    throw new UserError(
      `${path}: input '${sig.name}' has type ${sig.kind}(${sig.dtype}); only float, double, int32, int64 and string tensors can be fed`,
      {
        file: path,
        field: sig.name,
      },
    )
  }
  return kind
}

function planInputs(path: string, inputs: ValueSignature[]): InputPlan {
  if (inputs.length === 0) throw new UserError(`${path}: the model has no inputs to feed`, { file: path })
  const planned = inputs.map((sig) => ({ sig, kind: inputKind(path, sig) }))
  const only = planned[0]
  if (planned.length === 1 && only !== undefined && only.sig.shape.length === 2) {
    return { mode: 'matrix', inputs: planned }
  }
  return { mode: 'columns', inputs: planned }
}

function cellError(path: string, feature: string, row: number, what: string): UserError {
  return new CellError(feature, row + 1, what, path)
}

/** A decimal number as text, with no ambiguous repetition (a long run of digits is matched in linear time). */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

/**
 * Why a text cell cannot feed a numeric input, quoting at most an excerpt of it. The CSV reader
 * keeps a decimal beyond the range of a double (`1e400`, which Number() makes Infinity) as text,
 * since it cannot know whether the column is a feature, an id or a label; here the column is known to
 * feed numbers, so the message says the value is out of range rather than that it is text.
 */
function textCellProblem(c: string, kind: FeedKind): string {
  if (DECIMAL.test(c) && !Number.isFinite(Number(c))) {
    const shown = c.length <= EXCERPT_CHARS ? c : excerpt(c)
    return `${shown} is out of the range of a double (float64; the largest is about 1.8e308), where the model expects ${kind} numbers`
  }
  return `text value ${excerpt(c)} where the model expects ${kind} numbers`
}

/** Writes one column's cells into `out` at `start`, `stride` apart. */
function fillNumeric(
  path: string,
  out: Float32Array | Float64Array | Int32Array | BigInt64Array,
  kind: FeedKind,
  cells: Cell[],
  feature: string,
  offset: number,
  start: number,
  stride: number,
): void {
  const isFloat = kind === 'float' || kind === 'double'
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i] ?? null
    let v: number
    if (c === null) {
      if (!isFloat) throw cellError(path, feature, offset + i, `missing value, but the model's input is ${kind}`)
      v = Number.NaN
    } else if (typeof c === 'number') v = c
    else if (typeof c === 'boolean') v = c ? 1 : 0
    // A JSON Lines cell may be a list or an object: described, never converted (String() of a deeply nested list recurses).
    else if (typeof c === 'object') throw cellError(path, feature, offset + i, `${nestedKind(c)} where the model expects ${kind} numbers`)
    else throw cellError(path, feature, offset + i, textCellProblem(c, kind))
    const at = start + i * stride
    if (out instanceof BigInt64Array) {
      if (!Number.isInteger(v)) throw cellError(path, feature, offset + i, `${v} is not an integer, but the model's input is int64`)
      out[at] = BigInt(v)
    } else if (out instanceof Int32Array) {
      if (!Number.isInteger(v)) throw cellError(path, feature, offset + i, `${v} is not an integer, but the model's input is int32`)
      out[at] = v
    } else out[at] = v
  }
}

/** onnxruntime-common's tensor type names. */
const ortTypes = { float: 'float32', double: 'float64', int32: 'int32', int64: 'int64' } as const

function allocate(kind: Exclude<FeedKind, 'string'>, n: number): Float32Array | Float64Array | Int32Array | BigInt64Array {
  if (kind === 'float') return new Float32Array(n)
  if (kind === 'double') return new Float64Array(n)
  if (kind === 'int32') return new Int32Array(n)
  return new BigInt64Array(n)
}

const nestedKind = (c: object) => (Array.isArray(c) ? 'a list' : 'an object')

function stringColumn(path: string, cells: Cell[], feature: string, offset: number): string[] {
  return cells.map((c, i) => {
    if (c === null) throw cellError(path, feature, offset + i, "missing value, but the model's input is string")
    if (typeof c === 'object') throw cellError(path, feature, offset + i, `${nestedKind(c)} where the model expects strings`)
    return String(c)
  })
}

function columnTensor(
  path: string,
  kind: FeedKind,
  shape: (number | string)[],
  cells: Cell[],
  feature: string,
  offset: number,
): ort.Tensor {
  const dims = shape.length === 1 ? [cells.length] : [cells.length, 1]
  if (kind === 'string') return new ort.Tensor('string', stringColumn(path, cells, feature, offset), dims)
  const data = allocate(kind, cells.length)
  fillNumeric(path, data, kind, cells, feature, offset, 0, 1)
  return new ort.Tensor(ortTypes[kind], data, dims)
}

function buildFeeds(path: string, plan: InputPlan, batch: FeatureBatch): Record<string, ort.Tensor> {
  const n = batch.length
  const first = plan.inputs[0]
  if (plan.mode === 'matrix' && first !== undefined) {
    const { sig, kind } = first
    const width = sig.shape[1]
    const f = batch.features.length
    if (typeof width === 'number' && width >= 0 && width !== f) {
      throw new UserError(
        `${path}: input '${sig.name}' takes ${width} features per row but ${f} were given (${batch.features.join(', ')})`,
        { file: path, field: sig.name },
      )
    }
    if (kind === 'string') {
      const cells: string[] = new Array<string>(n * f)
      batch.columns.forEach((col, j) =>
        stringColumn(path, col, batch.features[j] ?? '', batch.offset).forEach((s, i) => (cells[i * f + j] = s)),
      )
      return { [sig.name]: new ort.Tensor('string', cells, [n, f]) }
    }
    const data = allocate(kind, n * f)
    batch.columns.forEach((col, j) => fillNumeric(path, data, kind, col, batch.features[j] ?? '', batch.offset, j, f))
    return { [sig.name]: new ort.Tensor(ortTypes[kind], data, [n, f]) }
  }
  const byName = new Map(batch.features.map((name, j) => [name, j]))
  // One input, one feature: nothing to match, whatever their names.
  if (plan.inputs.length === 1 && batch.features.length === 1 && first !== undefined) byName.set(first.sig.name, 0)
  const unmatched = plan.inputs.filter((i) => !byName.has(i.sig.name)).map((i) => i.sig.name)
  if (unmatched.length > 0) {
    throw new UserError(
      `${path}: the model's inputs ${unmatched.map((u) => `'${u}'`).join(', ')} match no feature column; features given: ${batch.features.join(', ')}`,
      { file: path, field: unmatched[0] },
    )
  }
  const feeds: Record<string, ort.Tensor> = {}
  for (const { sig, kind } of plan.inputs) {
    const j = byName.get(sig.name) ?? 0
    feeds[sig.name] = columnTensor(path, kind, sig.shape, batch.columns[j] ?? [], sig.name, batch.offset)
  }
  return feeds
}

interface OutputPlan {
  labels?: string
  probabilities?: string
  values?: string
  classes?: (number | string)[]
}

const isFloatType = (o: ValueSignature) => o.kind === 'tensor' && (o.dtype === 'float' || o.dtype === 'double')
const isLabelType = (o: ValueSignature) => o.kind === 'tensor' && ['int64', 'int32', 'string'].includes(o.dtype)
/** Rank 1, or rank 2 with one column: one number per row. No shape at all: checked on the first batch. */
const isColumn = (o: ValueSignature) => o.shape.length <= 1 || (o.shape.length === 2 && o.shape[1] === 1)

/** A float N×C tensor; beside a label output, also one with [N,1] or no declared shape. */
function isProbabilityType(o: ValueSignature, besideLabels: boolean): boolean {
  if (!isFloatType(o)) return false
  if (o.shape.length === 0) return besideLabels
  return o.shape.length === 2 && (besideLabels || o.shape[1] !== 1)
}

function requireOutput(path: string, outputs: ValueSignature[], name: string, option: string): ValueSignature {
  const found = outputs.find((o) => o.name === name)
  if (!found) {
    throw new UserError(`${path}: ${option} '${name}' is not an output of the model; outputs: ${outputs.map((o) => o.name).join(', ')}`, {
      file: path,
      field: option,
    })
  }
  return found
}

/** Class labels for the probability columns: from the ZipMap that was bypassed, or the classifier node. */
function declaredClasses(graph: GraphProto, plan: OutputPlan, bypasses: ZipMapBypass[]): (number | string)[] | undefined {
  const fromZipMap = bypasses.find((b) => b.to === plan.probabilities)?.classes
  if (fromZipMap) return fromZipMap
  const producers = graph.node.filter((n) => n.output.some((o) => o === plan.probabilities || o === plan.labels))
  for (const node of producers) {
    const labels = classLabelsOf(node)
    if (labels) return labels
  }
  const all = graph.node.map(classLabelsOf).filter((l) => l !== undefined)
  return all.length === 1 ? all[0] : undefined
}

function planOutputs(
  path: string,
  graph: GraphProto,
  outputs: ValueSignature[],
  opts: OnnxRunnerOptions,
  bypasses: ZipMapBypass[],
): OutputPlan {
  const plan: OutputPlan = {}
  const label = opts.labelOutput !== undefined ? requireOutput(path, outputs, opts.labelOutput, 'labelOutput') : outputs.find(isLabelType)
  const probability =
    opts.probabilityOutput !== undefined
      ? requireOutput(path, outputs, opts.probabilityOutput, 'probabilityOutput')
      : outputs.find((o) => isProbabilityType(o, label !== undefined))
  if (label === undefined && probability === undefined) {
    const value = outputs.find((o) => isFloatType(o) && isColumn(o))
    if (value === undefined) {
      throw new UserError(
        `${path}: found no usable output (a label tensor, an N×C float probability tensor or an N float value tensor); outputs: ${outputs
          .map((o) => `${o.name} ${o.kind}(${o.dtype}) [${o.shape.join(',')}]`)
          .join('; ')}`,
        { file: path },
      )
    }
    plan.values = value.name
    return plan
  }
  if (label) plan.labels = label.name
  if (probability) plan.probabilities = probability.name
  plan.classes = declaredClasses(graph, plan, bypasses)
  return plan
}

function toLabels(t: ort.Tensor): (number | string)[] {
  const data = t.data
  if (Array.isArray(data)) return data.map(String)
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, (v) => Number(v))
  return Array.from(data as ArrayLike<number>)
}

function toFloat64(t: ort.Tensor): Float64Array {
  return Float64Array.from(t.data as ArrayLike<number>)
}

function readPredictions(path: string, plan: OutputPlan, results: ort.InferenceSession.ReturnType, n: number): PredictionBatch {
  const out: PredictionBatch = { length: n, sources: {} }
  const fetched = (name: string): ort.Tensor => {
    const t = results[name]
    if (t === undefined) throw new UserError(`${path}: the runtime returned no output '${name}'`, { file: path, field: name })
    return t
  }
  if (plan.values !== undefined) {
    const values = toFloat64(fetched(plan.values))
    if (values.length !== n)
      throw new UserError(`${path}: output '${plan.values}' gave ${values.length} values for ${n} rows`, { file: path })
    out.values = values
    out.sources.values = plan.values
  }
  if (plan.labels !== undefined) {
    out.labels = toLabels(fetched(plan.labels))
    if (out.labels.length !== n)
      throw new UserError(`${path}: output '${plan.labels}' gave ${out.labels.length} labels for ${n} rows`, { file: path })
    out.sources.labels = plan.labels
  }
  if (plan.probabilities !== undefined) {
    const t = fetched(plan.probabilities)
    const probabilities = toFloat64(t)
    const c = n === 0 ? (plan.classes?.length ?? 0) : probabilities.length / n
    if (!Number.isInteger(c) || (t.dims.length === 2 && t.dims[1] !== c)) {
      throw new UserError(`${path}: output '${plan.probabilities}' has shape [${t.dims.join(',')}] for ${n} rows`, { file: path })
    }
    const classes = plan.classes ?? Array.from({ length: c }, (_, i) => i)
    if (classes.length !== c) {
      throw new UserError(`${path}: output '${plan.probabilities}' has ${c} columns but the model declares ${classes.length} classes`, {
        file: path,
      })
    }
    out.probabilities = probabilities
    out.classes = classes
    out.sources.probabilities = plan.probabilities
  }
  return out
}

function tensorInfo(sig: ValueSignature): TensorInfo {
  return { name: sig.name, dtype: sig.dtype, shape: sig.shape, kind: sig.kind }
}

function modelNotes(model: ModelProto, bypasses: ZipMapBypass[], plan: OutputPlan): string[] {
  const notes: string[] = []
  notes.push(`IR version ${toNumber(model.ir_version)}`)
  const opsets = model.opset_import.map((o) => `${o.domain === undefined || o.domain === '' ? 'ai.onnx' : o.domain} ${toNumber(o.version)}`)
  if (opsets.length > 0) notes.push(`opsets: ${opsets.join(', ')}`)
  const producer = [model.producer_name, model.producer_version].filter((s) => s !== undefined && s !== '').join(' ')
  if (producer !== '') notes.push(`producer: ${producer}`)
  for (const b of bypasses) notes.push(`ZipMap output '${b.from}' bypassed: probabilities read from tensor '${b.to}'`)
  const used = Object.entries({ labels: plan.labels, probabilities: plan.probabilities, values: plan.values })
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} from '${v}'`)
  notes.push(`outputs used: ${used.join(', ')}`)
  return notes
}

export async function createOnnxRunner(opts: OnnxRunnerOptions): Promise<ModelRunner> {
  const path = opts.path
  const bytes = await readModelFile(path)
  const model = parseModel(path, bytes)
  const graph = model.graph as GraphProto
  const bypasses = bypassZipMaps(path, graph)
  const inputs = feedInputs(graph).map(valueSignature)
  const outputs = graph.output.map(valueSignature)
  const inputPlan = planInputs(path, inputs)
  const outputPlan = planOutputs(path, graph, outputs, opts, bypasses)
  const fetches = [outputPlan.labels, outputPlan.probabilities, outputPlan.values].filter((n): n is string => n !== undefined)

  configureRuntime(opts)
  let session: ort.InferenceSession
  try {
    const runnable = bypasses.length > 0 ? encodeModel(model) : bytes
    session = await ort.InferenceSession.create(runnable, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' })
  } catch (e) {
    throw new UserError(`onnxruntime could not load ${path}: ${errorText(e)}`, { file: path })
  }

  const info: ModelInfo = {
    source: path,
    runner: 'onnx',
    digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    sizeBytes: bytes.byteLength,
    inputs: inputs.map(tensorInfo),
    outputs: outputs.map(tensorInfo),
    notes: modelNotes(model, bypasses, outputPlan),
  }

  return {
    kind: 'onnx',
    describe: async () => structuredClone(info),
    predict: async (batch: FeatureBatch): Promise<PredictionBatch> => {
      const feeds = buildFeeds(path, inputPlan, batch)
      let results: ort.InferenceSession.ReturnType
      try {
        results = await session.run(feeds, fetches)
      } catch (e) {
        throw new UserError(
          `onnxruntime failed to run ${path} on rows ${batch.offset + 1}-${batch.offset + batch.length}: ${errorText(e)}`,
          {
            file: path,
          },
        )
      }
      return readPredictions(path, outputPlan, results, batch.length)
    },
    close: async () => {
      await session.release()
    },
  }
}
