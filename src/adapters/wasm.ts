import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The ONNX runtime's .wasm ships once, beside the shared bundle; in development it comes from node_modules. */
export function bundledWasmDir(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url))
  return existsSync(path.join(here, 'ort-wasm-simd-threaded.wasm')) ? here : undefined
}
