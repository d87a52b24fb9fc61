import { describe, it, expect } from '@jest/globals'
import { readFileSync, readdirSync } from 'node:fs'
import {
  DataType,
  decodeModel,
  encodeModel,
  feedInputs,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeTensorValueInfo,
  opsetVersion,
  toNumber,
  typeString,
  valueSignature,
} from '../../src/core/onnx/proto.js'
import { fixtureModels } from '../../scripts/fixtures/onnx-fixture-models.js'
import { EXAMPLE_DIR, MODELS_DIR, fixture } from './helpers.js'

const NOT_MODELS = new Set(['random-bytes.onnx', 'csv-renamed.onnx'])

describe('ONNX protobuf I/O', () => {
  it('re-encodes every fixture and example model to the same bytes', () => {
    const files = [
      ...readdirSync(MODELS_DIR)
        .filter((f) => f.endsWith('.onnx') && !NOT_MODELS.has(f))
        .map(fixture),
      `${EXAMPLE_DIR}model.onnx`,
      `${EXAMPLE_DIR}baseline.onnx`,
    ]
    expect(files.length).toBe(11)
    for (const file of files) {
      const bytes = new Uint8Array(readFileSync(file))
      expect(Buffer.from(encodeModel(decodeModel(bytes))).equals(Buffer.from(bytes))).toBe(true)
    }
  })

  it('keeps rarely used fields and 64-bit integers through decode and encode', () => {
    const graph = makeGraph({
      name: 'g',
      nodes: [makeNode('Identity', ['x'], ['y'], { big: { ints: [2 ** 53 + 2, -5] } })],
      inputs: [makeTensorValueInfo('x', DataType.FLOAT, ['N', 2])],
      outputs: [makeTensorValueInfo('y', DataType.FLOAT, ['N', 2])],
    })
    const model = {
      ...makeModel({ graph, opsets: { '': 17 }, irVersion: 8, producerName: 'p', docString: 'doc' }),
      model_version: 9007199254740993n.toString(),
      metadata_props: [{ key: 'author', value: 'modelgate' }],
      functions: [{ name: 'f', domain: 'local', input: ['a'], output: ['b'], overload: 'o', node: [], attribute: [], opset_import: [] }],
      training_info: [{ initialization_binding: [{ key: 'k', value: 'v' }] }],
    }
    const bytes = encodeModel(model as unknown as Parameters<typeof encodeModel>[0])
    const decoded = decodeModel(bytes) as unknown as Record<string, unknown> & ReturnType<typeof decodeModel>
    expect(Buffer.from(encodeModel(decoded)).equals(Buffer.from(bytes))).toBe(true)
    expect(String(decoded.model_version)).toBe('9007199254740993')
    expect(decoded.metadata_props).toEqual([expect.objectContaining({ key: 'author', value: 'modelgate' })])
    expect((decoded.functions as { overload: string }[])[0]?.overload).toBe('o')
    expect(decoded.doc_string).toBe('doc')
    const ints = decoded.graph?.node[0]?.attribute[0]?.ints ?? []
    expect(ints.map((v) => String(v))).toEqual(['9007199254740994', '-5'])
    expect(toNumber(ints[1])).toBe(-5)
  })

  it('describes value types, shapes and the inputs to feed', () => {
    const model = decodeModel(new Uint8Array(readFileSync(fixture('ir3-initializers.onnx'))))
    const graph = model.graph!
    expect(graph.input.map((i) => i.name)).toEqual(['X', 'W', 'B'])
    expect(feedInputs(graph).map(valueSignature)).toEqual([{ name: 'X', dtype: 'float', shape: ['N', 3], kind: 'tensor' }])
    expect(opsetVersion(model, '')).toBe(9)
    expect(opsetVersion(model, 'ai.onnx.ml')).toBeUndefined()
    const zipmap = decodeModel(new Uint8Array(readFileSync(fixture('logreg-zipmap.onnx'))))
    const out = zipmap.graph!.output[1]!
    expect(typeString(out.type)).toBe('seq(map(int64,tensor(float)))')
    expect(valueSignature(out)).toEqual({ name: 'output_probability', dtype: 'float', shape: [], kind: 'sequence<map>' })
    expect(opsetVersion(zipmap, 'ai.onnx.ml')).toBe(3)
  })

  it('stores tensor constants in the typed field for their data type', () => {
    const t = makeTensor('t', DataType.INT64, [2], [3, -4])
    expect(t.int64_data).toEqual([3, -4])
    expect(t.float_data).toEqual([])
    expect(() => makeTensor('h', DataType.FLOAT16, [1], [1])).toThrow('makeTensor: data type float16 is not supported')
  })

  it('the committed fixture models are what scripts/fixtures/onnx-fixture-models.ts builds', () => {
    for (const [name, bytes] of Object.entries(fixtureModels())) {
      expect([name, Buffer.from(readFileSync(fixture(name))).equals(Buffer.from(bytes))]).toEqual([name, true])
    }
  })
})
