import { describe, expect, it } from '@jest/globals'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { completeFeatures } from '../../src/core/evaluation/features.js'
import { resolveSettings } from '../../src/core/settings/index.js'
import {
  DataType,
  decodeModel,
  encodeModel,
  valueSignature,
  makeGraph,
  makeModel,
  makeNode,
  makeTensorValueInfo,
} from '../../src/core/onnx/proto.js'
import { UserError } from '../../src/core/errors.js'

/** An identity-like model: its inputs as declared, one output. */
function model(inputs: { name: string; type: number; dims: (number | string | null)[] }[]): Uint8Array {
  const first = inputs[0]
  return encodeModel(
    makeModel({
      graph: makeGraph({
        name: 'g',
        nodes: [makeNode('Identity', [first.name], ['y'])],
        inputs: inputs.map((i) => makeTensorValueInfo(i.name, i.type, i.dims)),
        outputs: [makeTensorValueInfo('y', first.type, first.dims)],
      }),
      opsets: { '': 17 },
      irVersion: 8,
    }),
  )
}

function folder(bytes: Uint8Array, csv: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-features-'))
  writeFileSync(path.join(dir, 'm.onnx'), bytes)
  writeFileSync(path.join(dir, 'd.csv'), csv)
  return dir
}

async function infer(dir: string, extra: Record<string, unknown> = {}) {
  const settings = resolveSettings({ model: 'm.onnx', data: 'd.csv', label: 'y', ...extra }, dir)
  return completeFeatures(settings)
}

async function refusal(dir: string): Promise<string> {
  try {
    await infer(dir)
  } catch (e) {
    expect(e).toBeInstanceOf(UserError)
    return (e as Error).message
  }
  throw new Error('expected a refusal')
}

describe('features inferred when not given', () => {
  it('one input per column: the input names, in the model order, whatever the file order', async () => {
    const bytes = model([
      { name: 'age', type: DataType.FLOAT, dims: ['N', 1] },
      { name: 'city', type: DataType.STRING, dims: ['N', 1] },
      { name: 'visits', type: DataType.INT64, dims: ['N', 1] },
    ])
    const dir = folder(bytes, 'visits,y,city,age\n1,0,a,3\n')
    const r = await infer(dir)
    expect(r.settings.features).toEqual(['age', 'city', 'visits'])
    expect(r.settings.model.features).toEqual(['age', 'city', 'visits'])
    expect(r.warning).toBeUndefined()
  })

  it('one N×W input and exactly W columns besides the label and the id: file order, with a warning', async () => {
    const dir = folder(model([{ name: 'input', type: DataType.FLOAT, dims: [null, 3] }]), 'id,b,y,a,c\nr1,1,0,2,3\n')
    const settings = resolveSettings({ model: 'm.onnx', data: 'd.csv', label: 'y' }, dir)
    const r = await completeFeatures({ ...settings, idColumn: 'id' })
    expect(r.settings.features).toEqual(['b', 'a', 'c'])
    expect(r.warning).toBe(
      `features were not given: m.onnx's input "input" takes 3 columns, and d.csv has exactly 3 besides "y" and "id", so they were used in the file's order (b, a, c). Nothing checks that this is the order the model was trained on: pin it with features: in the manifest (or --features).`,
    )
  })

  it('given features are kept as given', async () => {
    const dir = folder(model([{ name: 'input', type: DataType.FLOAT, dims: ['N', 2] }]), 'a,b,c,y\n1,2,3,0\n')
    const r = await infer(dir, { features: ['c', 'a'] })
    expect(r.settings.features).toEqual(['c', 'a'])
    expect(r.warning).toBeUndefined()
  })

  it('refuses when the columns do not fill the input, with its width, the candidates and the line to write', async () => {
    const dir = folder(model([{ name: 'input', type: DataType.FLOAT, dims: ['N', 2] }]), 'a,b,c,y\n1,2,3,0\n')
    expect(await refusal(dir)).toBe(
      `features: not given, and they cannot be inferred: m.onnx has one input "input" of shape [N, 2] (width 2), and d.csv has 3 columns besides "y" (a, b, c). Name them in the model's input order: --features a,b (the features input), or in the manifest: features: [a, b] (the first 2 columns shown; choose the ones the model was trained on)`,
    )
  })

  it('refuses a symbolic width: nothing says how many columns it takes', async () => {
    const dir = folder(model([{ name: 'input', type: DataType.FLOAT, dims: ['N', 'F'] }]), 'a,b,y\n1,2,0\n')
    expect(await refusal(dir)).toMatch(
      /^features: not given, and they cannot be inferred: m.onnx has one input "input" of shape \[N, F\], and d.csv has 2 columns/,
    )
  })

  it('refuses per-column inputs that are not all columns, naming the missing ones', async () => {
    const bytes = model([
      { name: 'age', type: DataType.FLOAT, dims: ['N', 1] },
      { name: 'income', type: DataType.FLOAT, dims: ['N', 1] },
    ])
    const dir = folder(bytes, 'age,salary,y\n1,2,0\n')
    expect(await refusal(dir)).toMatch(
      /m.onnx has 2 inputs \(age: float, income: float\), of which 1 are not columns of the data \(income\)/,
    )
  })

  it('a model that does not declare its inputs (command, http) needs the list', async () => {
    const dir = folder(model([{ name: 'input', type: DataType.FLOAT, dims: ['N', 2] }]), 'a,b,y\n1,2,0\n')
    const settings = resolveSettings({ model: 'python3 m.py', runner: 'command', data: 'd.csv', label: 'y' }, dir)
    await expect(completeFeatures(settings)).rejects.toThrow(
      /^features: not given, and a command model does not declare its inputs, so they cannot be inferred \(model\)\. Name them in the model's input order: --features a,b/,
    )
  })

  it("a dimension written as neither a number nor a name (sklearn-onnx's None) reads as unknown, not 0", async () => {
    const bytes = model([{ name: 'input', type: DataType.FLOAT, dims: [null, null] }])
    const graph = decodeModel(bytes).graph!
    expect(valueSignature(graph.input[0]).shape).toEqual([-1, -1])
    // Unknown width: nothing to match the columns against, so the refusal says so rather than "width 0".
    const dir = folder(bytes, 'a,b,y\n1,2,0\n')
    expect(await refusal(dir)).toMatch(/has one input "input" of shape \[-1, -1\], and d.csv has 2 columns/)
  })
})
