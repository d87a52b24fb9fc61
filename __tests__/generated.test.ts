import { describe, expect, it } from '@jest/globals'
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { generatedFiles, ROOT } from '../scripts/generate.js'

// `npm run generate` sets MODELGATE_UPDATE=1 to rewrite the files instead of checking them.
const update = process.env.MODELGATE_UPDATE === '1'

// The ONNX schema's descriptor: its generator is a plain script (it runs without a build), loaded by path.
const onnx = (await import(pathToFileURL(path.join(ROOT, 'scripts/fixtures/gen-onnx-descriptor.mjs')).href)) as {
  DESCRIPTOR_PATH: string
  renderOnnxDescriptor(): Promise<string>
}
// The WebAssembly kernels, assembled from their .wat by wabt: likewise a plain script.
const wasm = (await import(pathToFileURL(path.join(ROOT, 'scripts/fixtures/gen-wasm.mjs')).href)) as {
  renderWasmModules(): Promise<Record<string, string>>
}
const files = {
  ...generatedFiles(),
  [onnx.DESCRIPTOR_PATH]: await onnx.renderOnnxDescriptor(),
  ...(await wasm.renderWasmModules()),
}

describe('generated files are up to date (npm run generate rewrites them)', () => {
  for (const [file, expected] of Object.entries(files)) {
    it(file, () => {
      const full = path.join(ROOT, file)
      if (update) {
        mkdirSync(path.dirname(full), { recursive: true })
        writeFileSync(full, expected)
      }
      expect(existsSync(full)).toBe(true)
      expect(readFileSync(full, 'utf8')).toBe(expected)
    })
  }
})
