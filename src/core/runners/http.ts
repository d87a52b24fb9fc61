/*
 * Models behind a model server, called over HTTP in the protocol its URL names (http-endpoint.ts): the
 * Open Inference Protocol V2 (KServe, Triton, Seldon, `modelgate serve`), TF Serving's v1, MLflow's
 * /invocations. A batch larger than the server takes is sent in parts and put back together.
 */
import type { Cell, Column } from '../data/types.js'
import { UserError, errorText } from '../errors.js'
import { scrub, scrubError, secrets } from '../secrets.js'
import { HttpClient } from './http-client.js'
import { resolveHttpEndpoint, type HttpEndpoint, type HttpProtocol } from './http-endpoint.js'
import { field, fromV2Outputs, parseMetadata, tensorElement, tensorInfo, type V2Metadata } from './http-v2.js'
import {
  featureRows,
  fromPredictionList,
  toPredictionBatch,
  type Label,
  type PredictionSources,
  type RawPredictions,
  type Task,
} from './output.js'
import type { FeatureBatch, ModelInfo, ModelRunner, PredictionBatch } from './types.js'

export { resolveHttpEndpoint, type HttpEndpoint, type HttpProtocol } from './http-endpoint.js'

export interface HttpRunnerOptions {
  /** The server's base URL (with `protocol` and `model`) or the full inference URL. */
  url: string
  /** Inferred from the URL when omitted: `/v2/models/` → v2, `:predict` → v1, `/invocations` → mlflow. */
  protocol?: HttpProtocol
  /** Model name for v2/v1 when the URL does not contain it. */
  model?: string
  /** Sent with every request (auth); every credential part of each value is masked and never appears in messages. */
  headers?: Record<string, string>
  /** Per request attempt. Default 60. */
  timeoutSeconds?: number
  /** Extra attempts after a 429, a 5xx or a network error. Default 3. */
  retries?: number
  /** Most rows per request; a larger batch is split. Default: the caller's batch as is. */
  batchSize?: number
  features: string[]
  /** V2 input tensor name. Default: the model metadata's first input, else `input-0`. */
  inputName?: string
  /**
   * Called with every credential part of every header value (core/secrets.ts: the value, the token after its
   * scheme, a Basic password…) and any URL userinfo, so the caller can hide them from logs (e.g. `core.setSecret`).
   */
  mask?: (secret: string) => void
  /** Tells integer-valued regression outputs from class labels; guessed from the values when omitted. */
  task?: Task
  /** Class labels of probability columns, which these protocols do not carry. Default 0..n-1. */
  classes?: Label[]
}

const DEFAULT_TIMEOUT_SECONDS = 60
const DEFAULT_RETRIES = 3
const DEFAULT_V2_INPUT = 'input-0'

/** A runner that scores batches by calling a model server. */
export async function createHttpRunner(opts: HttpRunnerOptions): Promise<ModelRunner> {
  const parts = secrets.addUrl(opts.url)
  for (const value of Object.values(opts.headers ?? {})) parts.push(...secrets.addHeader(value))
  for (const part of new Set(parts)) opts.mask?.(part)
  const endpoint = resolveHttpEndpoint(opts.url, opts.protocol, opts.model)
  const runner = new HttpRunner(opts, endpoint)
  if (endpoint.protocol === 'v2') await runner.loadMetadata()
  return runner
}

class HttpRunner implements ModelRunner {
  readonly kind = 'http' as const
  private readonly client: HttpClient
  private metadata?: V2Metadata
  private metadataNote?: string

  constructor(
    private readonly opts: HttpRunnerOptions,
    private readonly endpoint: HttpEndpoint,
  ) {
    const timeoutSeconds = opts.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS
    const retries = opts.retries ?? DEFAULT_RETRIES
    if (!(timeoutSeconds > 0)) throw new UserError(`model url ${opts.url}: timeoutSeconds must be positive, got ${timeoutSeconds}`)
    if (!Number.isInteger(retries) || retries < 0)
      throw new UserError(`model url ${opts.url}: retries must be a whole number ≥ 0, got ${retries}`)
    if (opts.batchSize !== undefined && !(Number.isInteger(opts.batchSize) && opts.batchSize > 0))
      throw new UserError(`model url ${opts.url}: batchSize must be a whole number ≥ 1, got ${opts.batchSize}`)
    this.client = new HttpClient(opts.headers ?? {}, timeoutSeconds, retries)
  }

  /** V2 metadata gives the input name and datatype; a server without it is still usable. */
  async loadMetadata(): Promise<void> {
    try {
      const body = await this.client.send('GET', this.endpoint.metadataUrl!, undefined, 0)
      this.metadata = parseMetadata(body)
    } catch (e) {
      this.metadataNote = scrub(`model metadata unavailable: ${errorText(e)}`)
    }
  }

  async describe(): Promise<ModelInfo> {
    const notes = [`protocol: ${this.endpoint.protocol}`]
    if (this.endpoint.model !== undefined) notes.push(`model: ${this.endpoint.model}`)
    if (this.metadata?.platform) notes.push(`platform: ${this.metadata.platform}`)
    if (this.metadataNote !== undefined) notes.push(this.metadataNote)
    const headerNames = Object.keys(this.opts.headers ?? {})
    if (headerNames.length > 0) notes.push(`headers sent: ${headerNames.join(', ')}`)
    const inputs = this.metadata?.inputs.map(tensorInfo) ?? [
      { name: this.inputName(), dtype: 'unknown', shape: [-1, this.opts.features.length] },
    ]
    return {
      source: this.endpoint.inferUrl,
      runner: 'http',
      inputs,
      outputs: this.metadata?.outputs.map(tensorInfo) ?? [],
      notes,
    }
  }

  /** Errors quote the server's answers (values, fields, bodies): each is scrubbed of every registered secret. */
  async predict(batch: FeatureBatch): Promise<PredictionBatch> {
    if (batch.length === 0) return { length: 0, sources: {} }
    const size = this.opts.batchSize ?? batch.length
    const parts: PredictionBatch[] = []
    try {
      for (let start = 0; start < batch.length; start += size)
        parts.push(await this.predictChunk(sliceBatch(batch, start, Math.min(size, batch.length - start))))
      return parts.length === 1 ? parts[0]! : concatBatches(this.endpoint.inferUrl, parts)
    } catch (e) {
      throw scrubError(e)
    }
  }

  async close(): Promise<void> {}

  private async predictChunk(batch: FeatureBatch): Promise<PredictionBatch> {
    const who = this.endpoint.inferUrl
    const rows = featureRows(batch)
    const listOptions = { task: this.opts.task, classes: this.opts.classes }
    let raw: RawPredictions
    let sources: PredictionSources
    switch (this.endpoint.protocol) {
      case 'v2': {
        const body = await this.client.send('POST', who, this.v2Request(batch, rows))
        ;({ raw, sources } = fromV2Outputs(who, body, batch.length, listOptions))
        break
      }
      case 'v1': {
        const body = await this.client.send('POST', who, { instances: rows })
        ;({ raw, sources } = fromPredictionList(who, field(who, body, 'predictions'), listOptions))
        break
      }
      case 'mlflow': {
        const body = await this.client.send('POST', who, { dataframe_split: { columns: batch.features, data: rows } })
        const list = Array.isArray(body) ? body : field(who, body, 'predictions')
        ;({ raw, sources } = fromPredictionList(who, list, listOptions))
        break
      }
    }
    return toPredictionBatch(who, batch, raw, sources)
  }

  private inputName(): string {
    return this.opts.inputName ?? this.metadata?.inputs[0]?.name ?? DEFAULT_V2_INPUT
  }

  private v2Request(batch: FeatureBatch, rows: Cell[][]): unknown {
    const name = this.inputName()
    const declared = this.metadata?.inputs.find((i) => i.name === name)?.datatype
    const datatype = declared ?? 'FP64'
    const data = rows.flatMap((row, i) =>
      row.map((cell, j) => tensorElement(this.endpoint.inferUrl, cell, datatype, batch.offset + i, batch.features[j]!)),
    )
    return { inputs: [{ name, shape: [batch.length, batch.features.length], datatype, data }] }
  }
}

function sliceBatch(batch: FeatureBatch, start: number, length: number): FeatureBatch {
  return {
    offset: batch.offset + start,
    length,
    features: batch.features,
    columns: batch.columns.map((c) => c.slice(start, start + length) as Column),
  }
}

function concatBatches(who: string, parts: PredictionBatch[]): PredictionBatch {
  const first = parts[0]!
  const out: PredictionBatch = { length: parts.reduce((n, p) => n + p.length, 0), sources: first.sources }
  if (first.labels) out.labels = parts.flatMap((p) => p.labels ?? [])
  if (first.values) out.values = concatFloats(parts.map((p) => p.values))
  if (first.probabilities) {
    const classes = JSON.stringify(first.classes)
    if (parts.some((p) => JSON.stringify(p.classes) !== classes))
      throw new UserError(`${who}: the classes of the probabilities changed from one request to the next`)
    out.probabilities = concatFloats(parts.map((p) => p.probabilities))
    out.classes = first.classes
  }
  const shape = (p: PredictionBatch): string => `${!!p.labels}${!!p.values}${!!p.probabilities}`
  if (parts.some((p) => shape(p) !== shape(first)))
    throw new UserError(`${who}: the answers to successive requests carry different outputs`)
  return out
}

function concatFloats(arrays: (Float64Array | undefined)[]): Float64Array {
  const out = new Float64Array(arrays.reduce((n, a) => n + (a?.length ?? 0), 0))
  let at = 0
  for (const a of arrays) {
    if (!a) continue
    out.set(a, at)
    at += a.length
  }
  return out
}
