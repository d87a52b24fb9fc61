import { writeFileSync } from 'node:fs'
import {
  DataType,
  encodeModel,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeTensorValueInfo,
  type NodeProto,
} from '../../src/core/onnx/proto.js'

/*
 * Models that fail in the ways deploys fail, built at test time (nothing binary committed). Each has
 * the example's signature (input float [N, 30] → label int64 [N], probabilities float [N, 2]), so
 * registration reads it and the bump is a patch, as for a retrained model.
 */

const io = {
  inputs: [makeTensorValueInfo('input', DataType.FLOAT, ['N', 30])],
  outputs: [makeTensorValueInfo('label', DataType.INT64, ['N']), makeTensorValueInfo('probabilities', DataType.FLOAT, ['N', 2])],
}

function save(file: string, nodes: NodeProto[], initializers: ReturnType<typeof makeTensor>[]): string {
  const graph = makeGraph({ name: 'faulty', nodes, ...io, initializers })
  writeFileSync(file, encodeModel(makeModel({ graph, opsets: { '': 17 }, irVersion: 8, producerName: 'modelgate-tests' })))
  return file
}

const weights = () =>
  makeTensor(
    'W',
    DataType.FLOAT,
    [30, 2],
    Array.from({ length: 60 }, (_, i) => ((i % 7) - 3) * 1e-3),
  )

/** Logits → probabilities and labels. */
const head = (logits: string): NodeProto[] => [
  makeNode('Softmax', [logits], ['probabilities'], { axis: { int: 1 } }),
  makeNode('ArgMax', ['probabilities'], ['label'], { axis: { int: 1 }, keepdims: { int: 0 } }),
]

/** A valid protobuf with an operator no runtime has: registers, never loads, so the server never gets ready. */
export function unloadableModel(file: string): string {
  return save(file, [makeNode('NoSuchOperator', ['input'], ['z'], {}, { domain: 'com.example.missing' }), ...head('z')], [])
}

/** Adds fresh noise to its logits on every call: it never answers the golden requests as it did at registration. */
export function noisyModel(file: string): string {
  return save(
    file,
    [
      makeNode('MatMul', ['input', 'W'], ['z']),
      makeNode('RandomNormalLike', ['z'], ['noise'], { scale: { float: 3 } }),
      makeNode('Add', ['z', 'noise'], ['logits']),
      ...head('logits'),
    ],
    [weights()],
  )
}

/**
 * Correct but slow: a 1024×1024 by 1024×1024 product (2 GFLOP) per call, folded into the logits as
 * ×0 so the answers stay deterministic. It depends on the input, so the runtime cannot precompute it.
 */
export function slowModel(file: string, size = 1024): string {
  const a = makeTensor('A', DataType.FLOAT, [30, size], new Float32Array(30 * size).fill(1e-6))
  const b = makeTensor('B', DataType.FLOAT, [size, size], new Float32Array(size * size).fill(1e-6))
  const zero = makeTensor('zero', DataType.FLOAT, [], [0])
  return save(
    file,
    [
      makeNode('MatMul', ['input', 'A'], ['a']),
      makeNode('Transpose', ['a'], ['at']),
      makeNode('MatMul', ['at', 'a'], ['square']),
      makeNode('MatMul', ['square', 'B'], ['heavy']),
      makeNode('ReduceSum', ['heavy'], ['total'], { keepdims: { int: 0 } }),
      makeNode('Mul', ['total', 'zero'], ['nothing']),
      makeNode('MatMul', ['input', 'W'], ['z']),
      makeNode('Add', ['z', 'nothing'], ['logits']),
      ...head('logits'),
    ],
    [weights(), a, b, zero],
  )
}
