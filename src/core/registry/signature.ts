import { readFileSync } from 'node:fs'
import { UserError, errorText } from '../errors.js'
import { decodeModel, typeString, valueSignature, type GraphProto } from '../onnx/proto.js'
import type { Signature, SignatureTensor } from './types.js'

/**
 * The signature of an ONNX model, read from its protobuf (no runtime needed). Graph inputs that have
 * an initializer of the same name carry a default value, so callers may omit them: they are optional.
 */
export function onnxSignature(file: string): Signature {
  let graph: GraphProto | undefined
  try {
    graph = decodeModel(readFileSync(file)).graph ?? undefined
  } catch (e) {
    throw new UserError(`${file}: not a readable ONNX model (${errorText(e)})`, { file, field: 'model' })
  }
  if (!graph) throw new UserError(`${file}: the ONNX model has no graph`, { file, field: 'model' })
  const defaults = new Set(graph.initializer.map((t) => t.name))
  const tensor = (v: Parameters<typeof valueSignature>[0], optional: boolean): SignatureTensor => {
    const s = valueSignature(v)
    return {
      name: s.name,
      dtype: s.kind === 'tensor' ? s.dtype : typeString(v.type ?? undefined),
      shape: s.shape,
      ...(optional ? { optional } : {}),
    }
  }
  return {
    inputs: graph.input.map((i) => tensor(i, defaults.has(i.name ?? ''))),
    outputs: graph.output.map((o) => tensor(o, false)),
  }
}
