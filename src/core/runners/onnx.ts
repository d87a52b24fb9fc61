/**
 * Runs ONNX models in-process with onnxruntime-web (WebAssembly, CPU).
 *
 * WebAssembly files. ort-web's Node entry (`dist/ort.node.min.mjs`) loads two files at the
 * first session: the Emscripten glue `ort-wasm-simd-threaded.mjs` (by dynamic import) and
 * `ort-wasm-simd-threaded.wasm` (read with fs from the glue's directory, or from
 * `env.wasm.wasmPaths`). Nothing else is loaded (no worker files with numThreads = 1, no
 * jsep/jspi/asyncify variants, no fetch).
 * - Unbundled (jest, `node` on the sources): both are found in node_modules/onnxruntime-web/dist.
 * - In an @vercel/ncc bundle the ort code is inlined, so ship exactly these two files from
 *   node_modules/onnxruntime-web/dist beside the bundle, and pass that folder as `wasmDir`:
 *     dist/ort-wasm-simd-threaded.mjs   (~24 KB)
 *     dist/ort-wasm-simd-threaded.wasm  (~14 MB)
 *
 * Threads: one by default. The classical models this tool validates are tiny, so WASM threads
 * (worker_threads running the glue again) only add start-up time.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import * as ort from 'onnxruntime-web'
import { UserError, errorText } from '../errors.js'
import {
  decodeModel,
  encodeModel,
  feedInputs,
  toNumber,
  valueSignature,
  type GraphProto,
  type ModelProto,
  type ValueSignature,
} from '../onnx/proto.js'
import { buildFeeds, planInputs } from './onnx-feeds.js'
import { bypassZipMaps, planOutputs, readPredictions, type OutputPlan, type ZipMapBypass } from './onnx-outputs.js'
import type { FeatureBatch, ModelInfo, ModelRunner, PredictionBatch, TensorInfo } from './types.js'

export interface OnnxRunnerOptions {
  path: string
  /** Output to read class labels from (default: the int64/string tensor output). */
  labelOutput?: string
  /** Output to read class probabilities from (default: the float N×C tensor output). */
  probabilityOutput?: string
  /** Folder holding ort-wasm-simd-threaded.{mjs,wasm}; needed when running from a bundle. */
  wasmDir?: string
  /** WebAssembly threads (default 1). Fixed by the first runner created in a process. */
  threads?: number
}

let runtimeConfigured = false

/**
 * V8 validates every function of a WebAssembly module when it compiles it, even those it compiles lazily
 * at their first call: for ort's 14 MB module, 30-40 ms before the first session, for code most models
 * never run. With lazy validation a function is validated when it is first compiled. The flag is V8's
 * (Node 20's V8 11 to Node 24's V8 13 have it); for another major version it is left alone, since V8
 * prints an error for a flag it does not know.
 */
function validateWasmLazily(): void {
  const major = Number(process.versions.v8.split('.')[0])
  if (major >= 11 && major <= 13) setFlagsFromString('--wasm-lazy-validation')
}

/** ort's wasm settings are read once, at the first session in the process. */
function configureRuntime(opts: OnnxRunnerOptions): void {
  if (runtimeConfigured) return
  runtimeConfigured = true
  validateWasmLazily()
  ort.env.logLevel = 'error'
  ort.env.wasm.numThreads = Math.max(1, Math.floor(opts.threads ?? 1))
  if (opts.wasmDir !== undefined) {
    // A file: URL prefix: the glue resolves the .wasm against it and reads it with fs.
    const href = pathToFileURL(opts.wasmDir).href
    ort.env.wasm.wasmPaths = href.endsWith('/') ? href : `${href}/`
  }
}

async function readModelFile(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path))
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'it is a directory' : errorText(e)
    throw new UserError(`cannot read ONNX model ${path}: ${why}`, { file: path })
  }
}

function parseModel(path: string, bytes: Uint8Array): ModelProto {
  let model: ModelProto
  try {
    model = decodeModel(bytes)
  } catch (e) {
    throw new UserError(`${path} is not an ONNX model (protobuf decoding failed: ${errorText(e)})`, { file: path })
  }
  // Protobuf decoding accepts some garbage; a real model has a version, a graph and outputs.
  const graph = model.graph
  if (model.ir_version === undefined || toNumber(model.ir_version) <= 0 || !graph || graph.output.length === 0) {
    throw new UserError(`${path} is not an ONNX model (no IR version, graph or graph outputs)`, { file: path })
  }
  return model
}

function tensorInfo(sig: ValueSignature): TensorInfo {
  return { name: sig.name, dtype: sig.dtype, shape: sig.shape, kind: sig.kind }
}

function modelNotes(model: ModelProto, bypasses: ZipMapBypass[], plan: OutputPlan): string[] {
  const notes: string[] = []
  notes.push(`IR version ${toNumber(model.ir_version)}`)
  const opsets = model.opset_import.map((o) => `${o.domain === undefined || o.domain === '' ? 'ai.onnx' : o.domain} ${toNumber(o.version)}`)
  if (opsets.length > 0) notes.push(`opsets: ${opsets.join(', ')}`)
  const producer = [model.producer_name, model.producer_version].filter((s) => s !== undefined && s !== '').join(' ')
  if (producer !== '') notes.push(`producer: ${producer}`)
  for (const b of bypasses) notes.push(`ZipMap output '${b.from}' bypassed: probabilities read from tensor '${b.to}'`)
  const used = Object.entries({ labels: plan.labels, probabilities: plan.probabilities, values: plan.values })
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} from '${v}'`)
  notes.push(`outputs used: ${used.join(', ')}`)
  return notes
}

export async function createOnnxRunner(opts: OnnxRunnerOptions): Promise<ModelRunner> {
  const path = opts.path
  const bytes = await readModelFile(path)
  const model = parseModel(path, bytes)
  const graph = model.graph as GraphProto
  const bypasses = bypassZipMaps(path, graph)
  const inputs = feedInputs(graph).map(valueSignature)
  const outputs = graph.output.map(valueSignature)
  const inputPlan = planInputs(path, inputs)
  const outputPlan = planOutputs(path, graph, outputs, opts, bypasses)
  const fetches = [outputPlan.labels, outputPlan.probabilities, outputPlan.values].filter((n): n is string => n !== undefined)

  configureRuntime(opts)
  let session: ort.InferenceSession
  try {
    const runnable = bypasses.length > 0 ? encodeModel(model) : bytes
    session = await ort.InferenceSession.create(runnable, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' })
  } catch (e) {
    throw new UserError(`onnxruntime could not load ${path}: ${errorText(e)}`, { file: path })
  }

  const info: ModelInfo = {
    source: path,
    runner: 'onnx',
    digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    sizeBytes: bytes.byteLength,
    inputs: inputs.map(tensorInfo),
    outputs: outputs.map(tensorInfo),
    notes: modelNotes(model, bypasses, outputPlan),
  }

  return {
    kind: 'onnx',
    describe: async () => structuredClone(info),
    predict: async (batch: FeatureBatch): Promise<PredictionBatch> => {
      const feeds = buildFeeds(path, inputPlan, batch)
      let results: ort.InferenceSession.ReturnType
      try {
        results = await session.run(feeds, fetches)
      } catch (e) {
        throw new UserError(
          `onnxruntime failed to run ${path} on rows ${batch.offset + 1}-${batch.offset + batch.length}: ${errorText(e)}`,
          {
            file: path,
          },
        )
      }
      return readPredictions(path, outputPlan, results, batch.length)
    },
    close: async () => {
      await session.release()
    },
  }
}
