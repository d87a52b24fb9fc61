/**
 * Reading and writing ONNX model files (protobuf) with the official ONNX schema
 * (onnx/onnx `onnx/onnx.proto`, Apache-2.0; see onnx.proto beside this file).
 *
 * Decoded models are protobufjs messages: `encodeModel(decodeModel(b))` keeps every
 * field the schema knows, including which optional fields were present.
 */
import protobuf from 'protobufjs/light.js'
import type { Long } from 'protobufjs'
import { onnxDescriptor } from './descriptor.js'

/** protobufjs decodes int64 fields as Long objects (number when a model was built from plain values). */
export type Int64 = number | Long

export interface StringStringEntry {
  key?: string
  value?: string
}

export interface OperatorSetId {
  domain?: string
  version?: Int64
}

export interface TensorShapeDim {
  dim_value?: Int64
  dim_param?: string
  denotation?: string
}

export interface TypeProto {
  tensor_type?: { elem_type?: number; shape?: { dim: TensorShapeDim[] } }
  sequence_type?: { elem_type?: TypeProto }
  map_type?: { key_type?: number; value_type?: TypeProto }
  optional_type?: { elem_type?: TypeProto }
  sparse_tensor_type?: { elem_type?: number; shape?: { dim: TensorShapeDim[] } }
  denotation?: string
}

export interface ValueInfo {
  name?: string
  type?: TypeProto
  doc_string?: string
  metadata_props?: StringStringEntry[]
}

export interface TensorProto {
  dims: Int64[]
  data_type?: number
  float_data: number[]
  int32_data: number[]
  string_data: Uint8Array[]
  int64_data: Int64[]
  double_data: number[]
  uint64_data: Int64[]
  raw_data?: Uint8Array
  name?: string
  doc_string?: string
}

export interface Attribute {
  name?: string
  type?: number
  doc_string?: string
  f?: number
  i?: Int64
  s?: Uint8Array
  t?: TensorProto
  floats: number[]
  ints: Int64[]
  strings: Uint8Array[]
  tensors: TensorProto[]
}

export interface NodeProto {
  input: string[]
  output: string[]
  name?: string
  op_type?: string
  domain?: string
  attribute: Attribute[]
  doc_string?: string
}

export interface GraphProto {
  node: NodeProto[]
  name?: string
  initializer: TensorProto[]
  sparse_initializer: unknown[]
  doc_string?: string
  input: ValueInfo[]
  output: ValueInfo[]
  value_info: ValueInfo[]
}

export interface ModelProto {
  ir_version?: Int64
  opset_import: OperatorSetId[]
  producer_name?: string
  producer_version?: string
  domain?: string
  model_version?: Int64
  doc_string?: string
  graph?: GraphProto
  metadata_props: StringStringEntry[]
}

const root = protobuf.Root.fromJSON(onnxDescriptor as protobuf.INamespace)
const ModelType = root.lookupType('onnx.ModelProto')

/** Decodes an ONNX file. Throws protobufjs's error on bytes that are not a ModelProto. */
export function decodeModel(bytes: Uint8Array): ModelProto {
  return ModelType.decode(bytes) as unknown as ModelProto
}

/** Encodes a decoded or built model. */
export function encodeModel(model: ModelProto): Uint8Array {
  const message = model instanceof protobuf.Message ? model : ModelType.fromObject(model as object)
  return ModelType.encode(message).finish()
}

/** TensorProto.DataType codes used here, read from the schema (onnx.proto lists them all), so they exist once. */
export const DataType = dataTypeCodes([
  'FLOAT',
  'UINT8',
  'INT8',
  'UINT16',
  'INT16',
  'INT32',
  'INT64',
  'STRING',
  'BOOL',
  'FLOAT16',
  'DOUBLE',
  'UINT32',
  'UINT64',
])

function dataTypeCodes<Name extends string>(names: readonly Name[]): Readonly<Record<Name, number>> {
  const codes = root.lookupEnum('onnx.TensorProto.DataType').values
  return Object.fromEntries(names.map((name) => [name, codes[name]])) as Record<Name, number>
}

const elemTypeNames: Record<number, string> = {
  0: 'undefined',
  1: 'float',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'double',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
  17: 'float8e4m3fn',
  18: 'float8e4m3fnuz',
  19: 'float8e5m2',
  20: 'float8e5m2fnuz',
  21: 'uint4',
  22: 'int4',
}

/** The ONNX name of an element type code (`float`, `int64`, …), as onnxruntime spells tensor types. */
export function elemTypeName(code: number | undefined): string {
  return code === undefined ? 'unknown' : (elemTypeNames[code] ?? `type${code}`)
}

export function toNumber(v: Int64 | undefined | null): number {
  if (v === undefined || v === null) return 0
  return typeof v === 'number' ? v : protobuf.util.LongBits.from(v).toNumber(v.unsigned)
}

const textDecoder = new TextDecoder()
const textEncoder = new TextEncoder()

export function bytesToString(b: Uint8Array | undefined): string {
  return b === undefined ? '' : textDecoder.decode(b)
}

/** The type of a value written the way ONNX documents it: `tensor(float)`, `seq(map(int64,tensor(float)))`. */
export function typeString(t: TypeProto | undefined): string {
  if (t === undefined || t === null) return 'unknown'
  if (t.tensor_type) return `tensor(${elemTypeName(t.tensor_type.elem_type)})`
  if (t.sequence_type) return `seq(${typeString(t.sequence_type.elem_type)})`
  if (t.map_type) return `map(${elemTypeName(t.map_type.key_type)},${typeString(t.map_type.value_type)})`
  if (t.optional_type) return `optional(${typeString(t.optional_type.elem_type)})`
  if (t.sparse_tensor_type) return `sparse_tensor(${elemTypeName(t.sparse_tensor_type.elem_type)})`
  return 'unknown'
}

/** `tensor`, `sequence<map>`, `map`, … for ModelInfo. */
export function typeKind(t: TypeProto | undefined): string {
  if (!t) return 'unknown'
  if (t.tensor_type) return 'tensor'
  if (t.sequence_type) {
    const inner = t.sequence_type.elem_type
    return inner?.map_type ? 'sequence<map>' : inner?.tensor_type ? 'sequence<tensor>' : 'sequence'
  }
  if (t.map_type) return 'map'
  if (t.optional_type) return 'optional'
  if (t.sparse_tensor_type) return 'sparse_tensor'
  return 'unknown'
}

/** Element type of a tensor value; for a sequence of maps, the map's value element type. */
function elementCode(t: TypeProto | undefined): number | undefined {
  if (!t) return undefined
  if (t.tensor_type) return t.tensor_type.elem_type
  if (t.sparse_tensor_type) return t.sparse_tensor_type.elem_type
  if (t.sequence_type) return elementCode(t.sequence_type.elem_type)
  if (t.map_type) return elementCode(t.map_type.value_type)
  if (t.optional_type) return elementCode(t.optional_type.elem_type)
  return undefined
}

/** Dimensions: a number, or the symbolic name (`-1` where neither is given). */
export function shapeOf(t: TypeProto | undefined): (number | string)[] {
  const dims = t?.tensor_type?.shape?.dim ?? t?.sparse_tensor_type?.shape?.dim
  if (!dims) return []
  return dims.map((d) => {
    if (d.dim_param !== undefined && d.dim_param !== null && d.dim_param !== '') return d.dim_param
    // Decoded messages carry only the fields on the wire as own properties; protobufjs puts the defaults
    // (dim_value 0) on the prototype, and sklearn-onnx writes a `None` dimension as neither field.
    if (Object.hasOwn(d, 'dim_value') && d.dim_value !== undefined && d.dim_value !== null) return toNumber(d.dim_value)
    return -1
  })
}

export interface ValueSignature {
  name: string
  dtype: string
  shape: (number | string)[]
  kind: string
}

export function valueSignature(v: ValueInfo): ValueSignature {
  return {
    name: v.name ?? '',
    dtype: elemTypeName(elementCode(v.type)),
    shape: shapeOf(v.type),
    kind: typeKind(v.type),
  }
}

/** The graph inputs a caller must feed: old (IR < 4) models also list their initializers as inputs. */
export function feedInputs(graph: GraphProto): ValueInfo[] {
  const constants = new Set(graph.initializer.map((t) => t.name))
  return graph.input.filter((i) => !constants.has(i.name))
}

export function findAttribute(node: NodeProto, name: string): Attribute | undefined {
  return node.attribute.find((a) => a.name === name)
}

/** The opset version a model imports for a domain (`''` and `ai.onnx` are the same domain). */
export function opsetVersion(model: ModelProto, domain: string): number | undefined {
  const same = (d: string | undefined) => (d ?? '') === domain || (domain === '' && d === 'ai.onnx')
  const entry = model.opset_import.find((o) => same(o.domain))
  return entry === undefined ? undefined : toNumber(entry.version)
}

// ---------------------------------------------------------------------------
// Builders, for the exporter and for test fixtures. They return plain objects that
// encodeModel turns into messages.

export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
} as const

export type AttributeValue =
  | { float: number }
  | { int: number }
  | { string: string }
  | { floats: number[] }
  | { ints: number[] }
  | { strings: string[] }
  | { tensor: TensorProto }

/** Attribute values are tagged because a JS number cannot say whether it is an ONNX float or int. */
export function makeAttribute(name: string, value: AttributeValue): Attribute {
  const a: Attribute = { name, floats: [], ints: [], strings: [], tensors: [] }
  if ('float' in value) return { ...a, type: AttributeType.FLOAT, f: value.float }
  if ('int' in value) return { ...a, type: AttributeType.INT, i: value.int }
  if ('string' in value) return { ...a, type: AttributeType.STRING, s: textEncoder.encode(value.string) }
  if ('floats' in value) return { ...a, type: AttributeType.FLOATS, floats: value.floats }
  if ('ints' in value) return { ...a, type: AttributeType.INTS, ints: value.ints }
  if ('strings' in value) return { ...a, type: AttributeType.STRINGS, strings: value.strings.map((s) => textEncoder.encode(s)) }
  return { ...a, type: AttributeType.TENSOR, t: value.tensor }
}

export function makeNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes: Record<string, AttributeValue> = {},
  opts: { domain?: string; name?: string } = {},
): NodeProto {
  const node: NodeProto = {
    op_type: opType,
    input: inputs,
    output: outputs,
    attribute: Object.entries(attributes).map(([k, v]) => makeAttribute(k, v)),
  }
  if (opts.domain !== undefined) node.domain = opts.domain
  if (opts.name !== undefined) node.name = opts.name
  return node
}

/** A tensor constant. Floats go to float_data, doubles to double_data, integers to int64/int32 data. */
export function makeTensor(name: string, dataType: number, dims: number[], values: ArrayLike<number> | string[]): TensorProto {
  const t: TensorProto = {
    name,
    data_type: dataType,
    dims,
    float_data: [],
    int32_data: [],
    string_data: [],
    int64_data: [],
    double_data: [],
    uint64_data: [],
  }
  const numbers = () => Array.from(values as ArrayLike<number>)
  switch (dataType) {
    case DataType.FLOAT:
      t.float_data = numbers()
      break
    case DataType.DOUBLE:
      t.double_data = numbers()
      break
    case DataType.INT64:
      t.int64_data = numbers()
      break
    case DataType.STRING:
      t.string_data = (values as string[]).map((s) => textEncoder.encode(s))
      break
    case DataType.INT32:
    case DataType.INT16:
    case DataType.INT8:
    case DataType.UINT16:
    case DataType.UINT8:
    case DataType.BOOL:
      t.int32_data = numbers()
      break
    default:
      throw new Error(`makeTensor: data type ${elemTypeName(dataType)} is not supported`)
  }
  return t
}

/** Dimension: a number is fixed, a string is symbolic (`N`), null is unknown. */
export type Dim = number | string | null

function makeShape(dims: Dim[]): { dim: TensorShapeDim[] } {
  return { dim: dims.map((d) => (d === null ? {} : typeof d === 'number' ? { dim_value: d } : { dim_param: d })) }
}

export function tensorType(elemType: number, dims?: Dim[]): TypeProto {
  return { tensor_type: dims === undefined ? { elem_type: elemType } : { elem_type: elemType, shape: makeShape(dims) } }
}

export function makeValueInfo(name: string, type: TypeProto): ValueInfo {
  return { name, type }
}

export function makeTensorValueInfo(name: string, elemType: number, dims?: Dim[]): ValueInfo {
  return makeValueInfo(name, tensorType(elemType, dims))
}

/** `seq(map(key, tensor(float)))`: what ZipMap produces. */
export function sequenceOfMapsType(keyType: number): TypeProto {
  return { sequence_type: { elem_type: { map_type: { key_type: keyType, value_type: tensorType(DataType.FLOAT) } } } }
}

export function makeGraph(g: {
  name: string
  nodes: NodeProto[]
  inputs: ValueInfo[]
  outputs: ValueInfo[]
  initializers?: TensorProto[]
}): GraphProto {
  return {
    name: g.name,
    node: g.nodes,
    input: g.inputs,
    output: g.outputs,
    initializer: g.initializers ?? [],
    sparse_initializer: [],
    value_info: [],
  }
}

export function makeModel(m: {
  graph: GraphProto
  opsets: Record<string, number>
  irVersion: number
  producerName?: string
  producerVersion?: string
  docString?: string
}): ModelProto {
  const model: ModelProto = {
    ir_version: m.irVersion,
    opset_import: Object.entries(m.opsets).map(([domain, version]) => ({ domain, version })),
    graph: m.graph,
    metadata_props: [],
  }
  if (m.producerName !== undefined) model.producer_name = m.producerName
  if (m.producerVersion !== undefined) model.producer_version = m.producerVersion
  if (m.docString !== undefined) model.doc_string = m.docString
  return model
}
