/*
 * Which of a model's outputs are its labels, probabilities or values, and their class labels: named by
 * the options, else told by type and shape, with the classes read off the classifier's nodes. JS
 * runtimes cannot return ZipMap's sequence of maps, so a ZipMap at the end of the graph is cut off and
 * the tensor it wraps read instead.
 */
import type * as ort from 'onnxruntime-web'
import { UserError } from '../errors.js'
import {
  bytesToString,
  findAttribute,
  makeTensorValueInfo,
  DataType,
  toNumber,
  type GraphProto,
  type NodeProto,
  type ValueSignature,
} from '../onnx/proto.js'
import type { PredictionBatch } from './types.js'

const RE_EXPORT_HINT = "re-export it without ZipMap: convert_sklearn(model, initial_types=..., options={id(model): {'zipmap': False}})"

export interface ZipMapBypass {
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
export function bypassZipMaps(path: string, graph: GraphProto): ZipMapBypass[] {
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

export interface OutputPlan {
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

export function planOutputs(
  path: string,
  graph: GraphProto,
  outputs: ValueSignature[],
  opts: { labelOutput?: string; probabilityOutput?: string },
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

export function readPredictions(path: string, plan: OutputPlan, results: ort.InferenceSession.ReturnType, n: number): PredictionBatch {
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
