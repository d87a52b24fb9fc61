/*
 * The model (and a baseline model) as the runners take it: which runner, where it is, how to call it.
 */
import path from 'node:path'
import { UserError } from '../errors.js'
import { secrets } from '../secrets.js'
import type { ModelSpec } from '../manifest/schema.js'
import type { RunnerKind } from '../runners/types.js'
import type { Environment, ResolvedModel } from './types.js'

/** Where a setting came from, for messages: the manifest file (if any) and the key or the option. */
export interface Where {
  file?: string
  field: string
}

const TABLE_EXT = /\.(csv|jsonl|ndjson|parquet)$/i

export function inferRunner(spec: ModelSpec): RunnerKind | undefined {
  if (spec.runner) return spec.runner
  if (spec.command) return 'command'
  if (spec.url) return 'http'
  if (spec.path && /\.onnx$/i.test(spec.path)) return 'onnx'
  if (spec.path && TABLE_EXT.test(spec.path)) return 'predictions'
  return undefined
}

/** A model given as one string: a URL, an .onnx file, or a predictions file. */
export function modelSpecFromString(s: string, runner?: RunnerKind): ModelSpec {
  if (/^https?:\/\//i.test(s)) return { url: s, runner: runner ?? 'http' }
  if (runner === 'command') return { command: splitCommand(s), runner }
  return { path: s, runner }
}

function splitCommand(s: string): string[] {
  return s.split(/\s+/).filter(Boolean)
}

export function resolveModel(spec: ModelSpec, baseDir: string, features: string[], where: Where, env: Environment = {}): ResolvedModel {
  const runner = inferRunner(spec)
  if (!runner) {
    throw new UserError(
      `${where.file ? `${where.file}: ` : ''}${where.field}: cannot tell how to run the model; set runner (onnx, command, http or predictions) or give a .onnx path, a URL, or a command`,
      { file: where.file, field: where.field },
    )
  }
  const need = (key: 'path' | 'url' | 'command') => {
    if (spec[key] === undefined) {
      throw new UserError(`${where.file ? `${where.file}: ` : ''}${where.field}.${key}: required for the ${runner} runner`, {
        file: where.file,
        field: `${where.field}.${key}`,
      })
    }
  }
  if (runner === 'onnx' || runner === 'predictions') need('path')
  if (runner === 'http') need('url')
  if (runner === 'command') need('command')
  return {
    runner,
    path: spec.path ? path.resolve(baseDir, spec.path) : undefined,
    url: spec.url,
    command: typeof spec.command === 'string' ? splitCommand(spec.command) : spec.command,
    protocol: spec.protocol,
    headers: spec.headers ? expandHeaders(spec.headers, where, env) : undefined,
    timeoutSeconds: spec.timeout ?? 60,
    retries: spec.retries ?? 3,
    labelOutput: spec['label-output'],
    probabilityOutput: spec['probability-output'],
    features: spec.features ?? features,
    cwd: baseDir,
  }
}

/**
 * `${VAR}` in header values comes from the environment so that secrets stay out of the manifest. Each
 * substituted value and every credential part of the result are registered as secrets (core/secrets.ts).
 */
function expandHeaders(headers: Record<string, string>, where: Where, env: Environment): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) {
    out[k] = v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const value = env[name] ?? ''
      // Sent empty, the request would fail later with the server's 401, which never says why.
      if (!value)
        throw new UserError(
          `${where.file ? `${where.file}: ` : ''}${where.field}.headers.${k}: $${name} is not set (or empty) in the environment; set it (e.g. env: ${name}: \${{ secrets.${name} }} on the step) or correct its name`,
          { file: where.file, field: `${where.field}.headers` },
        )
      secrets.add(value)
      return value
    })
    secrets.addHeader(out[k])
  }
  return out
}
