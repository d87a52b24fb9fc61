/**
 * Property-based fuzzing of the Open Inference Protocol request parser: parseInferRequest and
 * toFeatureBatch (issue 12), the code between an HTTP body and a model.
 *
 * Rejections: random JSON, mutated valid request bodies and near-valid tensors (wrong names, shapes,
 * datatypes, elements; 1e400, -0, deep nesting) either parse or throw a UserError, which the server
 * answers with 400, whose message is one line without a stack trace. Anything else would be a 500
 * "internal error" for a request the client could have fixed.
 *
 * Positive: a request built from valid tensors (any datatype, flat or nested data) parses to the same
 * tensors, flattened; and any request toFeatureBatch takes gives a batch of whole columns, one row
 * count, no holes.
 *
 * Seeded and bounded; see fuzz.ts for MODELGATE_FUZZ_SEED and MODELGATE_FUZZ_RUNS.
 */
import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import type { ModelInfo, TensorInfo } from '../../src/core/runners/types.js'
import { OIP_DATATYPES, oipDatatype, parseInferRequest, toFeatureBatch, type InferRequest } from '../../src/core/serve/oip.js'
import { expectUserError, fuzzParams, mutated, nastyText } from './fuzz.js'

type Datatype = (typeof OIP_DATATYPES)[number]

/** Runs `work`; a throw must be a one-line UserError (OIP messages name no file: they go to the client). */
function parsesOrRejects<T>(work: () => T): T | undefined {
  try {
    return work()
  } catch (e) {
    expectUserError(e)
    expect((e as Error).message).not.toMatch(/[\u2028\u2029]/)
    return undefined
  }
}

/** A valid element of each datatype, to its limits. */
const element: Record<Datatype, fc.Arbitrary<unknown>> = {
  BOOL: fc.boolean(),
  BYTES: fc.string({ unit: 'binary', maxLength: 8 }),
  INT8: fc.integer({ min: -128, max: 127 }),
  INT16: fc.integer({ min: -(2 ** 15), max: 2 ** 15 - 1 }),
  INT32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  INT64: fc.double({ min: -(2 ** 63), max: 2 ** 63, maxExcluded: true, noNaN: true }).map(Math.trunc),
  UINT8: fc.integer({ min: 0, max: 255 }),
  UINT16: fc.integer({ min: 0, max: 2 ** 16 - 1 }),
  UINT32: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  UINT64: fc.double({ min: 0, max: 2 ** 64, maxExcluded: true, noNaN: true }).map(Math.trunc),
  FP16: fc.double({ min: -65504, max: 65504, noNaN: true }),
  BF16: fc.double({ min: -3.3895313892515355e38, max: 3.3895313892515355e38, noNaN: true }),
  FP32: fc.double({ min: -3.4028234663852886e38, max: 3.4028234663852886e38, noNaN: true }),
  FP64: fc.double({ noNaN: true, noDefaultInfinity: true }),
}

/** `flat` as nested lists of `shape`, row-major. */
function nest(flat: unknown[], shape: number[]): unknown[] {
  if (shape.length <= 1) return flat
  const inner = shape.slice(1).reduce((n, d) => n * d, 1)
  return Array.from({ length: shape[0] }, (_, i) => nest(flat.slice(i * inner, (i + 1) * inner), shape.slice(1)))
}

interface Tensor {
  name: string
  shape: number[]
  datatype: Datatype
  flat: unknown[]
  nested: boolean
}

const tensor = (
  name: fc.Arbitrary<string>,
  shape: fc.Arbitrary<number[]>,
  datatype: fc.Arbitrary<Datatype> = fc.constantFrom(...OIP_DATATYPES),
) =>
  fc.tuple(name, shape, datatype, fc.boolean()).chain(([n, s, d, nested]) => {
    const size = s.reduce((a, b) => a * b, 1)
    return fc
      .array(element[d], { minLength: size, maxLength: size })
      .map((flat): Tensor => ({ name: n, shape: s, datatype: d, flat, nested }))
  })

const body = (t: Tensor) => ({ name: t.name, shape: t.shape, datatype: t.datatype, data: t.nested ? nest(t.flat, t.shape) : t.flat })

const smallShape = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 3 })
const tensorName = fc.oneof(fc.constantFrom('input', 'a', 'b', 'c'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }))

const SEED_BODIES = [
  { inputs: [{ name: 'input', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4.5, -0, 6] }] },
  { id: 'r1', inputs: [{ name: 'a', shape: [2, 1], datatype: 'FP32', data: [[1.5], [-1]] }], outputs: [{ name: 'label' }] },
  {
    inputs: [
      { name: 'a', shape: [2], datatype: 'INT64', data: [3, 7] },
      { name: 'b', shape: [2], datatype: 'BYTES', data: ['x', 'y'] },
      { name: 'c', shape: [2], datatype: 'BOOL', data: [true, false] },
    ],
  },
].map((b) => JSON.stringify(b))

describe('parseInferRequest on hostile input', () => {
  it('parses or rejects any JSON value with a one-line UserError', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
        parsesOrRejects(() => parseInferRequest(value))
        parsesOrRejects(() => parseInferRequest({ inputs: [value] }))
        parsesOrRejects(() => parseInferRequest({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: value }] }))
      }),
      fuzzParams(500),
    )
  })

  it('parses or rejects mutated valid bodies with a one-line UserError', () => {
    fc.assert(
      fc.property(mutated(SEED_BODIES), (bytes) => {
        let value: unknown
        try {
          value = JSON.parse(bytes.toString('utf8'))
        } catch {
          // The server answers text that is not JSON itself, before the parser sees it.
          return
        }
        parsesOrRejects(() => parseInferRequest(value))
      }),
      fuzzParams(1000),
    )
  })

  it('parses or rejects near-valid tensors with a one-line UserError', () => {
    // What JSON.parse makes of 1e400.
    const HUGE = Number('1e400')
    const anything = fc.jsonValue({ maxDepth: 2 })
    const field = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: good }, anything)
    const near = fc.record(
      {
        name: field(fc.oneof(tensorName, nastyText([], 4))),
        shape: field(fc.array(fc.oneof(fc.integer({ min: -2, max: 4 }), fc.constantFrom(1.5, -0, 2 ** 53, HUGE, NaN)), { maxLength: 3 })),
        datatype: field(fc.oneof(fc.constantFrom(...OIP_DATATYPES), fc.constantFrom('fp32', 'FLOAT', 'INT128', ''))),
        data: field(
          fc.array(
            fc.oneof(
              fc.double(),
              fc.integer(),
              fc.constantFrom(HUGE, -HUGE, -0, 2 ** 63, 2 ** 64, -(2 ** 63) - 4096, 65505, 3.5e38, null, true, '1', []),
              fc.array(fc.double(), { maxLength: 3 }),
            ),
            { maxLength: 8 },
          ),
        ),
      },
      { requiredKeys: [] },
    )
    const request = fc.record(
      {
        id: field(fc.string()),
        inputs: field(fc.array(near, { maxLength: 3 })),
        outputs: field(fc.array(fc.oneof(fc.record({ name: fc.string() }), anything), { maxLength: 2 })),
      },
      { requiredKeys: ['inputs'] },
    )
    fc.assert(
      fc.property(request, (r) => {
        parsesOrRejects(() => parseInferRequest(r))
      }),
      fuzzParams(1000),
    )
  })

  it('regression: rejects data, shapes and ids nested far deeper than any tensor, instead of overflowing the stack', () => {
    let deep: unknown = [1]
    for (let k = 0; k < 100_000; k++) deep = [deep]
    const t = { name: 'x', shape: [1], datatype: 'FP32' }
    // Nested 100,000 deep the data still holds one element: parsing it is the job of the shape check, not the stack.
    expect(parseInferRequest({ inputs: [{ ...t, data: deep }] }).inputs[0].data).toEqual([1])
    expect(parsesOrRejects(() => parseInferRequest({ inputs: [{ ...t, data: [deep, 2] }] }))).toBeUndefined()
    const shape = rejection(() => parseInferRequest({ inputs: [{ ...t, shape: deep, data: [1] }] }))
    expect(shape).toBe('inputs[0] (x): shape must be a list of whole numbers ≥ 0, got a list nested too deeply to show')
    expect(rejection(() => parseInferRequest({ id: deep, inputs: [{ ...t, data: [1] }] }))).toBe(
      '"id" must be a string, got a list nested too deeply to show',
    )
    let object: unknown = 1
    for (let k = 0; k < 100_000; k++) object = { a: object }
    expect(rejection(() => parseInferRequest({ inputs: [{ ...t, data: [object] }] }))).toBe(
      'inputs[0] (x): element 0 is an object nested too deeply to show, but FP32 takes numbers',
    )
  })

  it('regression: quotes a tensor name with a line break as an escaped excerpt', () => {
    expect(rejection(() => parseInferRequest({ inputs: [{ name: 'x\n    at y', shape: [1], datatype: 'FP32', data: [] }] }))).toBe(
      'inputs[0] ("x\\n    at y"): shape [1] holds 1 elements but data has 0',
    )
  })
})

function rejection(work: () => unknown): string {
  try {
    work()
  } catch (e) {
    expectUserError(e)
    return (e as Error).message
  }
  throw new Error('expected a UserError')
}

describe('parseInferRequest on valid requests', () => {
  it('parses tensors of every datatype, flat or nested, to the same tensors with their data flattened', () => {
    const request = fc.record({
      id: fc.option(fc.string(), { nil: undefined }),
      tensors: fc.array(tensor(tensorName, smallShape), { minLength: 1, maxLength: 3 }),
      outputs: fc.option(fc.array(fc.string(), { maxLength: 3 }), { nil: undefined }),
    })
    fc.assert(
      fc.property(request, ({ id, tensors, outputs }) => {
        // Through JSON, as the server reads it (JSON.stringify writes -0 as 0).
        const text = JSON.stringify({ id, inputs: tensors.map(body), outputs: outputs?.map((name) => ({ name })) })
        const parsed = parseInferRequest(JSON.parse(text))
        const expected: InferRequest = {
          id,
          inputs: tensors.map((t) => ({
            name: t.name,
            shape: t.shape,
            datatype: t.datatype,
            data: JSON.parse(JSON.stringify(t.flat)) as unknown[],
          })),
        }
        if (outputs !== undefined) expected.outputs = outputs
        expect(parsed).toEqual(expected)
      }),
      fuzzParams(500),
    )
  })
})

/* ------------------------------------------------------------------------------------------------ */

const ONNX_TYPES = ['float', 'double', 'int64', 'int32', 'uint8', 'bool', 'string', 'float16']
const MODEL_SHAPES: (number | string)[][] = [
  [-1],
  [-1, 1],
  ['N', 1],
  ['batch'],
  [-1, 3],
  [-1, -1],
  [2],
  [2, 1],
  [3, 2],
  [-1, 2, 2],
  [1, -1],
]

const modelInfo: fc.Arbitrary<ModelInfo> = fc
  .uniqueArray(
    fc.record({
      name: fc.constantFrom('input', 'a', 'b', 'c', 'x'),
      dtype: fc.constantFrom(...ONNX_TYPES),
      shape: fc.constantFrom(...MODEL_SHAPES),
    }),
    { minLength: 1, maxLength: 4, selector: (t) => t.name },
  )
  .map((inputs: TensorInfo[]) => ({ source: 'model.onnx', runner: 'onnx', inputs, outputs: [], notes: [] }))

/** A request aimed at `model`: mostly its inputs, with their datatypes and shapes that fit, sometimes not. */
function requestFor(model: ModelInfo): fc.Arbitrary<InferRequest> {
  const rows = fc.integer({ min: 0, max: 3 })
  const wrongDatatype = fc.constantFrom(...OIP_DATATYPES)
  const named = rows.chain((r) =>
    fc
      .tuple(
        ...model.inputs.map((m) =>
          fc.record({
            keep: fc.integer({ min: 0, max: 9 }).map((k) => (k === 0 ? 0 : k === 1 ? 2 : 1)),
            name: fc.oneof({ weight: 9, arbitrary: fc.constant(m.name) }, tensorName),
            datatype: fc.oneof({ weight: 6, arbitrary: fc.constant(oipDatatype(m.dtype) as Datatype) }, wrongDatatype),
            shape: fc.oneof(
              {
                weight: 4,
                arbitrary: fc.constant(
                  m.shape.map((d, k) => (k === 0 && (d === -1 || typeof d === 'string') ? r : typeof d === 'number' && d >= 0 ? d : 2)),
                ),
              },
              fc.constant<number[]>([r]),
              fc.constant<number[]>([r, 1]),
              fc.tuple(fc.integer({ min: 0, max: 3 })).map(([w]) => [r, w]),
              smallShape,
            ),
          }),
        ),
      )
      .chain((specs) =>
        fc.tuple(
          ...specs.flatMap((s) =>
            Array.from({ length: s.keep }, () => tensor(fc.constant(s.name), fc.constant(s.shape), fc.constant(s.datatype))),
          ),
        ),
      ),
  )
  // The http runner's form: one [rows, k] tensor named after the first of k column inputs.
  const spread = fc
    .tuple(rows, fc.oneof(fc.constant(oipDatatype(model.inputs[0].dtype) as Datatype), wrongDatatype))
    .chain(([r, d]) => tensor(fc.constant(model.inputs[0].name), fc.constant([r, model.inputs.length]), fc.constant(d)).map((t) => [t]))
  return fc
    .oneof({ weight: 3, arbitrary: named }, spread)
    .filter((ts) => ts.length > 0)
    .map((ts) => parseInferRequest(JSON.parse(JSON.stringify({ inputs: ts.map(body) }))))
}

describe('toFeatureBatch on requests aimed at a model', () => {
  it('gives whole columns of one row count with no holes, or rejects the request with a one-line UserError', () => {
    fc.assert(
      fc.property(
        modelInfo.chain((model) => fc.tuple(fc.constant(model), requestFor(model))),
        ([model, request]) => {
          const batch = parsesOrRejects(() => toFeatureBatch(request, model))
          if (batch === undefined) return
          expect(batch.offset).toBe(0)
          expect(batch.length).toBeGreaterThan(0)
          expect(batch.features.length).toBeGreaterThan(0)
          expect(batch.columns).toHaveLength(batch.features.length)
          for (const column of batch.columns) {
            expect(column).toHaveLength(batch.length)
            for (const cell of column) expect(cell).not.toBeUndefined()
          }
        },
      ),
      fuzzParams(1000),
    )
  })

  it('regression: rejects a [rows, 0] tensor for a matrix input of any width, which would be rows without features', () => {
    const model: ModelInfo = {
      source: 'model.onnx',
      runner: 'onnx',
      inputs: [{ name: 'input', dtype: 'float', shape: [-1, -1] }],
      outputs: [],
      notes: [],
    }
    const request = parseInferRequest({ inputs: [{ name: 'input', shape: [1_000_000, 0], datatype: 'FP32', data: [] }] })
    expect(rejection(() => toFeatureBatch(request, model))).toBe(
      "input input: shape [1000000, 0] has no columns; the model's input is input (FP32 [-1, -1]) (-1: any size)",
    )
  })
})
