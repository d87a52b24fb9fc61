/*
 * Extension: `GET /v2/models/{name}/modelgate` gives the applied generation and, per served version,
 * its digest and traffic percent. Responses to inference carry `model_version` and the header
 * `x-modelgate-version`.
 *
 * Why no paths in answers: the log and `status()` name the state and model files in full, for whoever
 * runs the server; what goes over HTTP names them by role (<state file>, <model file of version 2>),
 * so a client learns what went wrong without learning the server's disk layout (see redact.ts).
 *
 * Status codes of inference: 400 for a request that does not fit the model (oip.ts checks it against
 * the model's metadata), 404 for an unknown model or version, 503 before any model loaded, 500 when
 * the model fails on a valid request (the runtime errs, or it answers NaN or infinity).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { randomUUID } from 'node:crypto'
import { CellError, errorText, isUserError } from '../errors.js'
import { TOOL, VERSION } from '../../version.js'
import type { FeatureBatch, PredictionBatch } from '../runners/types.js'
import type { Deployment } from './deployment.js'
import { NonFiniteOutputError, parseInferRequest, tensorMetadata, toFeatureBatch, toOutputs } from './oip.js'
import { HttpError, headerValue, modelRoute, parseJson, readBody, splitPath, type ModelRoute, type Send } from './request.js'
import { chooseVersion, findVersion, tableVersions, type LoadedVersion, type RoutingTable } from './routing.js'

/** Answers one HTTP request; every error becomes a JSON answer, never an exception out of the server. */
export class RequestHandler {
  constructor(
    private readonly deployment: Deployment,
    private readonly maxBody: number,
    private readonly log: (line: string) => void,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send: Send = (status, body, headers = {}) => {
      if (res.headersSent || res.destroyed) return
      const text = body === undefined ? '' : JSON.stringify(body)
      res.writeHead(status, {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        'content-length': Buffer.byteLength(text),
        ...headers,
      })
      res.end(text)
    }
    const redactor = this.deployment.redactor
    try {
      await this.route(req, send)
    } catch (e) {
      try {
        // HttpErrors are written path-free (they echo the request or were redacted where they were made);
        // `known` is the last guard. Anything else is unexpected: logged in full, answered without paths.
        if (e instanceof HttpError) send(e.status, { error: redactor.known(e.message) }, e.headers)
        else {
          this.log(`request ${req.method} ${req.url}: ${errorText(e)}`)
          if (isUserError(e)) send(400, { error: redactor.text(e.message) })
          else send(500, { error: `internal error: ${redactor.text(errorText(e))}` })
        }
      } catch {
        // The answer itself could not be written: end the exchange rather than leave the client waiting.
        res.destroy()
      }
    }
  }

  private async route(req: IncomingMessage, send: Send): Promise<void> {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname
    const parts = splitPath(pathname)
    const method = req.method ?? 'GET'
    const get = (answer: () => void): void => {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, `${pathname} takes GET`, { allow: 'GET' })
      answer()
    }
    const path = parts.join('/')
    if (path === 'v2') return get(() => send(200, { name: TOOL, version: VERSION, extensions: ['modelgate'] }))
    if (path === 'v2/health/live') return get(() => send(200))
    if (path === 'v2/health/ready') return get(() => send(this.deployment.ready() ? 200 : 400))
    const route = modelRoute(parts)
    if (route === undefined) throw new HttpError(404, `no such endpoint: ${method} ${pathname}`)
    if (route.action === 'infer') {
      if (method !== 'POST') throw new HttpError(405, `${pathname} takes POST`, { allow: 'POST' })
      return this.infer(req, route, send)
    }
    return get(() => this.describe(route, send))
  }

  private table(name: string): RoutingTable {
    const table = this.deployment.table
    const why = this.deployment.publicError()
    if (table === undefined) throw new HttpError(503, `no model is loaded yet${why ? `: ${why}` : ''}`)
    if (table.name !== name) throw new HttpError(404, `model ${name} is not served here; this server serves ${table.name}`)
    return table
  }

  private version(table: RoutingTable, version: string): LoadedVersion {
    const found = findVersion(table, version)
    if (found === undefined)
      throw new HttpError(
        404,
        `version ${version} of model ${table.name} is not loaded; loaded: ${tableVersions(table)
          .map((m) => m.version)
          .join(', ')}`,
      )
    return found
  }

  private describe(route: ModelRoute, send: Send): void {
    if (route.action === 'ready') {
      const table = this.deployment.table
      const ok = table?.name === route.name && (route.version === undefined || findVersion(table, route.version) !== undefined)
      return send(ok ? 200 : 404)
    }
    const table = this.table(route.name)
    if (route.action === 'modelgate') return send(200, this.extension(table))
    const model = route.version === undefined ? table.stable : this.version(table, route.version)
    send(200, {
      name: table.name,
      versions: tableVersions(table).map((m) => m.version),
      // The protocol's name for ONNX models run by ONNX Runtime (Platforms, "<project>_<format>").
      platform: 'onnx_onnxv1',
      inputs: model.info.inputs.map(tensorMetadata),
      outputs: model.info.outputs.map(tensorMetadata),
    })
  }

  /** What deploy-model checks after a deploy: which generation is applied, and what each version is and gets. */
  private extension(table: RoutingTable): unknown {
    const status = this.deployment.status()
    const error = this.deployment.publicError()
    const versions = [{ role: 'stable', ...status.stable! }, ...(status.canary ? [{ role: 'canary', ...status.canary }] : [])].map(
      ({ role, version, digest, percent }) => ({ version, role, digest, percent }),
    )
    return {
      name: table.name,
      environment: table.environment,
      generation: table.generation,
      latestGeneration: status.generation,
      ready: status.ready,
      versions,
      ...(error !== undefined ? { error } : {}),
    }
  }

  /** Routed when the request arrives, so the version it was sent to stays open until it is answered. */
  private async infer(req: IncomingMessage, route: ModelRoute, send: Send): Promise<void> {
    const table = this.table(route.name)
    const model = this.deployment.pool.acquire(route.version === undefined ? chooseVersion(table) : this.version(table, route.version))
    const versionHeader = { 'x-modelgate-version': headerValue(model.version) }
    try {
      const request = parseInferRequest(parseJson(await readBody(req, this.maxBody)))
      const prediction = await this.predict(table, model, toFeatureBatch(request, model.info))
      send(
        200,
        {
          model_name: table.name,
          model_version: model.version,
          id: request.id ?? randomUUID(),
          outputs: toOutputs(prediction, model.info, request.outputs),
        },
        versionHeader,
      )
    } catch (e) {
      if (e instanceof HttpError) throw new HttpError(e.status, e.message, { ...e.headers, ...versionHeader })
      // The protocol asks only for "an HTTP error status (typically 400)". 500, not 400: the request passed
      // every check against the model's metadata, so nothing in it is for the client to fix; the model
      // failed to give a number. Answering null (what JSON.stringify makes of NaN) would pass a wrong
      // answer off as an answer. Clients that retry 5xx (our http runner) get the same error again, at
      // the cost of a few retries, which is better than a 4xx that blames the request.
      if (e instanceof NonFiniteOutputError) {
        this.log(`model ${table.name} version ${model.version}: ${e.message}`)
        throw new HttpError(500, `version ${model.version} of model ${table.name} failed: ${e.message}`, versionHeader)
      }
      // oip.ts's problems with the request: they name only what the client sent and the model's metadata.
      if (isUserError(e)) throw new HttpError(400, this.deployment.redactor.text(e.message), versionHeader)
      this.log(`request ${req.method} ${req.url}: ${errorText(e)}`)
      throw new HttpError(500, `internal error: ${this.deployment.redactor.text(errorText(e))}`, versionHeader)
    } finally {
      this.deployment.pool.release(model)
    }
  }

  /**
   * Runs the model on a request that fits its metadata. A value the model's runtime cannot take
   * (e.g. 1.5 for an int64 input fed from an FP32 [rows, k] tensor) is still the request's: 400.
   * Any other failure is the model's: 500. Either way the client's message has no paths; the log has all.
   */
  private async predict(table: RoutingTable, model: LoadedVersion, batch: FeatureBatch): Promise<PredictionBatch> {
    try {
      return await model.runner.predict(batch)
    } catch (e) {
      this.log(`model ${table.name} version ${model.version}: ${errorText(e)}`)
      if (e instanceof CellError) throw new HttpError(400, `input ${e.column}, row ${e.row - 1 - batch.offset} (0-based): ${e.reason}`)
      throw new HttpError(
        500,
        `version ${model.version} of model ${table.name} failed on this request: ${this.deployment.redactor.text(errorText(e))}`,
      )
    }
  }
}
