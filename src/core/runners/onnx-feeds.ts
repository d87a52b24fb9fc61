/*
 * From a batch of cells to the tensors a model's inputs take: one N×F matrix for a single 2-D input
 * (sklearn-onnx's default), else one column per input, matched by name. A cell that cannot become the
 * input's type (text for a number, a fraction for an integer, a missing value where there is no NaN)
 * is a CellError naming the row and feature, never a silent conversion.
 */
import * as ort from 'onnxruntime-web'
import { EXCERPT_CHARS, excerpt } from '../data/files.js'
import { columnCells, type Column } from '../data/types.js'
import { CellError, UserError } from '../errors.js'
import type { ValueSignature } from '../onnx/proto.js'
import type { FeatureBatch } from './types.js'

type FeedKind = 'float' | 'double' | 'int64' | 'int32' | 'string'

const feedKinds: Record<string, FeedKind> = {
  float: 'float',
  double: 'double',
  int64: 'int64',
  int32: 'int32',
  string: 'string',
}

export interface InputPlan {
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

export function planInputs(path: string, inputs: ValueSignature[]): InputPlan {
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

type NumericOut = Float32Array | Float64Array | Int32Array | BigInt64Array

/** Writes one column into `out` at `start`, `stride` apart. */
function fillNumeric(
  path: string,
  out: NumericOut,
  kind: FeedKind,
  column: Column,
  feature: string,
  offset: number,
  start: number,
  stride: number,
): void {
  if (column instanceof Float64Array) {
    if (out instanceof Float32Array || out instanceof Float64Array) {
      // The typed columns' point: one strided copy, no cell looked at (NaN, missing, is what a float input takes).
      for (let i = 0, at = start; i < column.length; i++, at += stride) out[at] = column[i]
      return
    }
    fillIntegers(path, out, kind, column, feature, offset, start, stride)
    return
  }
  const cells = column
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

/** A numeric column into an integer input: every value must be a whole number, none missing. */
function fillIntegers(
  path: string,
  out: Int32Array | BigInt64Array,
  kind: FeedKind,
  column: Float64Array,
  feature: string,
  offset: number,
  start: number,
  stride: number,
): void {
  for (let i = 0, at = start; i < column.length; i++, at += stride) {
    const v = column[i]
    if (v !== v) throw cellError(path, feature, offset + i, `missing value, but the model's input is ${kind}`)
    if (!Number.isInteger(v)) throw cellError(path, feature, offset + i, `${v} is not an integer, but the model's input is ${kind}`)
    if (out instanceof BigInt64Array) out[at] = BigInt(v)
    else out[at] = v
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

function stringColumn(path: string, column: Column, feature: string, offset: number): string[] {
  return columnCells(column).map((c, i) => {
    if (c === null) throw cellError(path, feature, offset + i, "missing value, but the model's input is string")
    if (typeof c === 'object') throw cellError(path, feature, offset + i, `${nestedKind(c)} where the model expects strings`)
    return String(c)
  })
}

function columnTensor(
  path: string,
  kind: FeedKind,
  shape: (number | string)[],
  cells: Column,
  feature: string,
  offset: number,
): ort.Tensor {
  const dims = shape.length === 1 ? [cells.length] : [cells.length, 1]
  if (kind === 'string') return new ort.Tensor('string', stringColumn(path, cells, feature, offset), dims)
  const data = allocate(kind, cells.length)
  fillNumeric(path, data, kind, cells, feature, offset, 0, 1)
  return new ort.Tensor(ortTypes[kind], data, dims)
}

export function buildFeeds(path: string, plan: InputPlan, batch: FeatureBatch): Record<string, ort.Tensor> {
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
