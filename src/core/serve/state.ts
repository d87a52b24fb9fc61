import { readFileSync } from 'node:fs'
import path from 'node:path'
import { z } from 'zod'
import { UserError, errorText } from '../errors.js'
import { parseJsonFile, writeFileAtomic } from '../files.js'
import { formatPath } from '../manifest/load.js'

/*
 * The environment state file: what an environment should serve. deploy-model writes it, the
 * inference server polls it. It names model files by absolute path and pins each to a digest, so
 * the server can refuse a file that is not the one the deploy approved.
 */

const digest = z
  .string()
  .regex(/^sha256:[0-9a-f]{64}$/, 'expected "sha256:" and 64 lowercase hex digits')
  .describe('sha256 of the model file.')

const version = z.string().min(1).describe('Version name, as the registry knows it.')

const modelPath = z
  .string()
  .min(1)
  .refine((p) => path.isAbsolute(p), 'must be an absolute path')
  .describe('The ONNX model file, absolute.')

const stableSchema = z.object({ version, digest, path: modelPath }).strict()

const canarySchema = z
  .object({
    version,
    digest,
    path: modelPath,
    percent: z.number().min(0).max(100).describe('Share of unversioned inference requests sent to the canary, 0..100.'),
  })
  .strict()

export const environmentStateSchema = z
  .object({
    schemaVersion: z.literal('1.0'),
    name: z.string().min(1).describe('Model name: the {name} of /v2/models/{name}.'),
    environment: z.string().min(1),
    generation: z.number().int().min(0).describe('Increases on every write; the server applies each new generation once.'),
    stable: stableSchema,
    canary: canarySchema.optional(),
  })
  .strict()
  .refine((s) => s.canary === undefined || s.canary.version !== s.stable.version, {
    message: 'the canary must be a different version than stable',
    path: ['canary', 'version'],
  })

export type EnvironmentState = z.infer<typeof environmentStateSchema>
export type StableVersion = EnvironmentState['stable']
export type CanaryVersion = NonNullable<EnvironmentState['canary']>

/** Validates the JSON text of a state file; `file` names it in messages. */
export function parseEnvironmentState(text: string, file: string): EnvironmentState {
  return validateEnvironmentState(parseJsonFile(text, file, 'the environment state'), file)
}

function validateEnvironmentState(value: unknown, file: string): EnvironmentState {
  const parsed = environmentStateSchema.safeParse(value)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]!
  const at = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path
  const field = formatPath(at)
  const what = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message.replace(/^Invalid input: /, '')
  throw new UserError(`${file}: invalid environment state: ${field || '(top level)'}: ${what}`, { file, field: field || undefined })
}

export function readEnvironmentState(file: string): EnvironmentState {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'file not found' : errorText(e)
    throw new UserError(`${file}: cannot read the environment state (${why})`, { file })
  }
  return parseEnvironmentState(text, file)
}

/** The generation the next write should carry: one more than the file's, or 1 when there is no valid file yet. */
export function nextGeneration(file: string): number {
  try {
    return readEnvironmentState(file).generation + 1
  } catch {
    return 1
  }
}

/**
 * Writes the state atomically, so the polling server never reads half a file. A generation that does
 * not increase is refused: the server applies a generation once, and a stale writer must not roll an
 * environment back by accident. An existing file that is not a valid state is overwritten.
 */
export function writeEnvironmentState(file: string, state: EnvironmentState): void {
  const valid = validateEnvironmentState(state, file)
  let current: number | undefined
  try {
    current = readEnvironmentState(file).generation
  } catch {
    current = undefined
  }
  if (current !== undefined && valid.generation <= current)
    throw new UserError(`${file}: generation ${valid.generation} does not increase on the file's generation ${current}`, {
      file,
      field: 'generation',
    })
  writeFileAtomic(file, `${JSON.stringify(valid, null, 2)}\n`)
}
