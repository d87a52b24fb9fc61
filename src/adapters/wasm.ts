import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The ONNX runtime's .wasm ships once, beside the shared bundle; in development it comes from node_modules. */
export function bundledWasmDir(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url))
  return existsSync(path.join(here, 'ort-wasm-simd-threaded.wasm')) ? here : undefined
}

/**
 * argv that runs the bundled CLI (for `modelgate serve`, which the local deploy target starts):
 * dist/cli/index.js beside this bundle's folder; in development (jest on the sources), the built one.
 */
export function bundledCliCommand(): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const beside = path.join(here, '..', 'cli', 'index.js')
  const built = path.resolve(here, '..', '..', 'dist', 'cli', 'index.js')
  return [process.execPath, existsSync(beside) ? beside : built]
}
