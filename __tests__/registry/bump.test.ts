import { describe, it, expect } from '@jest/globals'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { chooseVersion, shapeChange, signatureBump } from '../../src/core/registry/bump.js'
import { onnxSignature } from '../../src/core/registry/signature.js'
import { DataType, encodeModel, makeNode, makeTensor, makeTensorValueInfo } from '../../src/core/onnx/proto.js'
import type { Signature, VersionRecord } from '../../src/core/registry/types.js'
import { tmp } from './conformance.js'

const base: Signature = {
  inputs: [{ name: 'x', dtype: 'float', shape: ['N', 30] }],
  outputs: [
    { name: 'label', dtype: 'int64', shape: ['N'] },
    { name: 'probabilities', dtype: 'float', shape: ['N', 2] },
  ],
}
const withInputs = (inputs: Signature['inputs'], outputs = base.outputs): Signature => ({ inputs, outputs })

describe('signatureBump: what a caller of the old model would see', () => {
  it.each([
    ['unchanged', base, 'patch', ['signature unchanged']],
    ['input removed', withInputs([]), 'major', ["input 'x' removed"]],
    ['input renamed', withInputs([{ name: 'features', dtype: 'float', shape: ['N', 30] }]), 'major', ["input 'x' renamed to 'features'"]],
    ['dtype changed', withInputs([{ name: 'x', dtype: 'double', shape: ['N', 30] }]), 'major', ["input 'x': dtype float → double"]],
    [
      'shape narrowed',
      withInputs([{ name: 'x', dtype: 'float', shape: [1, 30] }]),
      'major',
      ["input 'x': shape [N, 30] → [1, 30] (narrowed)"],
    ],
    [
      'width changed',
      withInputs([{ name: 'x', dtype: 'float', shape: ['N', 31] }]),
      'major',
      ["input 'x': shape [N, 30] → [N, 31] (incompatible)"],
    ],
    [
      'shape widened',
      withInputs([{ name: 'x', dtype: 'float', shape: ['N', 'F'] }]),
      'minor',
      ["input 'x': shape [N, 30] → [N, F] (widened)"],
    ],
    [
      'optional input added',
      withInputs([...base.inputs, { name: 'threshold', dtype: 'float', shape: [1], optional: true }]),
      'minor',
      ["optional input 'threshold' added"],
    ],
    [
      'required input added',
      withInputs([...base.inputs, { name: 'age', dtype: 'float', shape: ['N'] }]),
      'major',
      ["required input 'age' added"],
    ],
    ['output removed', withInputs(base.inputs, [base.outputs[0]!]), 'major', ["output 'probabilities' removed"]],
    [
      'output added',
      withInputs(base.inputs, [...base.outputs, { name: 'logits', dtype: 'float', shape: ['N', 2] }]),
      'minor',
      ["output 'logits' added"],
    ],
    [
      'output dtype',
      withInputs(base.inputs, [{ name: 'label', dtype: 'string', shape: ['N'] }, base.outputs[1]!]),
      'major',
      ["output 'label': dtype int64 → string"],
    ],
  ] as const)('%s → %s', (_label, next, step, reasons) => {
    expect(signatureBump(base, next as Signature)).toEqual({ step, reasons })
  })

  it('a format change is major; an unknown signature is a patch and says why', () => {
    expect(signatureBump(base, base, ['onnx', 'directory']).step).toBe('major')
    expect(signatureBump(base, undefined)).toEqual({
      step: 'patch',
      reasons: ['signature unknown (this model has none that can be read): patch'],
    })
  })

  it('shapeChange compares the sets of accepted shapes', () => {
    expect(shapeChange(['N', 3], ['M', 3])).toBe('same')
    expect(shapeChange([2, 'N'], ['N', 3])).toBe('incompatible')
    expect(shapeChange(['N'], ['N', 1])).toBe('incompatible')
  })
})

const rec = (version: string, signature: Signature = base, deprecated = false): VersionRecord =>
  ({ version, signature, format: 'onnx', deprecated, digest: `sha256:${version}` }) as unknown as VersionRecord

describe('chooseVersion', () => {
  it('starts at 1.0.0, then steps from the newest version by what the signature calls for', () => {
    expect(chooseVersion([], { signature: base, format: 'onnx' }, { bump: 'auto' })).toMatchObject({ version: '1.0.0', kind: 'initial' })
    const existing = [rec('1.0.0'), rec('1.2.0')]
    expect(chooseVersion(existing, { signature: base, format: 'onnx' }, { bump: 'auto' })).toMatchObject({
      version: '1.2.1',
      parent: '1.2.0',
      kind: 'patch',
    })
    const added = withInputs([...base.inputs, { name: 'o', dtype: 'float', shape: [1], optional: true }])
    expect(chooseVersion(existing, { signature: added, format: 'onnx' }, { bump: 'auto' }).version).toBe('1.3.0')
    expect(chooseVersion(existing, { signature: withInputs([]), format: 'onnx' }, { bump: 'auto' }).version).toBe('2.0.0')
  })

  it('never reuses the number of a deprecated version, but bumps from the newest live one', () => {
    const out = chooseVersion([rec('1.0.0'), rec('1.1.0', base, true)], { signature: base, format: 'onnx' }, { bump: 'auto' })
    expect(out).toMatchObject({ version: '1.1.1', parent: '1.0.0' })
  })

  it('takes an explicit version, refuses a taken one, and warns when it understates a breaking change', () => {
    const existing = [rec('1.0.0')]
    const out = chooseVersion(existing, { signature: withInputs([]), format: 'onnx' }, { version: '1.1.0', bump: 'auto' })
    expect(out.version).toBe('1.1.0')
    expect(out.warnings).toEqual(['version 1.1.0 is a minor step from 1.0.0, but the signature change calls for major'])
    expect(() => chooseVersion(existing, { signature: base, format: 'onnx' }, { version: '1.0.0', bump: 'auto' })).toThrow(
      'version 1.0.0 is already registered with digest sha256:1.0.0',
    )
  })

  it('a forced step is taken as asked, with a warning when it is smaller than the signature calls for', () => {
    const out = chooseVersion([rec('1.0.0')], { signature: withInputs([]), format: 'onnx' }, { bump: 'patch' })
    expect(out).toMatchObject({
      version: '1.0.1',
      kind: 'patch',
      warnings: ['a patch bump was requested, but the signature change calls for major'],
    })
  })
})

describe('onnxSignature reads the protobuf', () => {
  it('reads the example model', () => {
    const sig = onnxSignature(path.resolve('examples/breast-cancer/model.onnx'))
    expect(sig).toEqual({
      inputs: [{ name: 'input', dtype: 'float', shape: ['N', 30] }],
      outputs: [
        { name: 'label', dtype: 'int64', shape: ['N'] },
        { name: 'probabilities', dtype: 'float', shape: ['N', 2] },
      ],
    })
  })

  it('marks an input with an initializer as optional, and a model with one is a minor step', () => {
    const graph = {
      name: 'g',
      node: [makeNode('Add', ['x', 'bias'], ['y'])],
      input: [makeTensorValueInfo('x', DataType.FLOAT, ['N', 2]), makeTensorValueInfo('bias', DataType.FLOAT, [2])],
      output: [makeTensorValueInfo('y', DataType.FLOAT, ['N', 2])],
      initializer: [makeTensor('bias', DataType.FLOAT, [2], [0, 0])],
    }
    const file = path.join(tmp(), 'opt.onnx')
    writeFileSync(file, encodeModel({ ir_version: 8, opset_import: [{ domain: '', version: 17 }], graph } as never))
    const sig = onnxSignature(file)
    expect(sig.inputs).toEqual([
      { name: 'x', dtype: 'float', shape: ['N', 2] },
      { name: 'bias', dtype: 'float', shape: [2], optional: true },
    ])
    const before = { inputs: [sig.inputs[0]!], outputs: sig.outputs }
    expect(signatureBump(before, sig)).toEqual({ step: 'minor', reasons: ["optional input 'bias' added"] })
  })

  it('refuses a file that is not ONNX, naming it', () => {
    const file = path.join(tmp(), 'bad.onnx')
    writeFileSync(file, 'not a model at all')
    expect(() => onnxSignature(file)).toThrow(`${file}: not a readable ONNX model`)
  })
})
