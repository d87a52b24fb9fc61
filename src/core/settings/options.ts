/*
 * Options as the faces give them (an action's inputs, the CLI's flags), read through one OptionSource
 * and checked the same way for both: each message names the option as the user wrote it.
 */
import { UserError } from '../errors.js'
import { secrets } from '../secrets.js'
import { robustnessDefaults, robustnessSchema } from '../robustness/schema.js'
import type { Overrides, Settings } from './types.js'

/** One enum-valued option (input or flag), checked with a message that names it and the allowed values. */
export function parseEnum<T extends string>(value: string | undefined, allowed: readonly T[], where: string): T | undefined {
  if (value === undefined || value === '') return undefined
  const v = value.trim()
  if ((allowed as readonly string[]).includes(v)) return v as T
  throw new UserError(`${where}: "${value}" is not one of ${allowed.join(', ')}`, { field: where })
}

export function parseBoolean(value: string | undefined, where: string): boolean | undefined {
  if (value === undefined || value === '') return undefined
  const v = value.trim().toLowerCase()
  if (v === 'true') return true
  if (v === 'false') return false
  throw new UserError(`${where}: "${value}" is not true or false`, { field: where })
}

export function parsePositiveInt(value: string | undefined, where: string): number | undefined {
  if (value === undefined || value === '') return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${where}: "${value}" is not a positive whole number`, { field: where })
  return n
}

/** `a, b,c` or one per line → ['a','b','c']. */
export function parseList(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined
  return value
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean)
}

/** One entry per non-empty line (thresholds contain commas? no, but they do contain spaces). */
export function parseLines(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined
  return value
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s && !s.startsWith('#'))
}

export const RUNNERS = ['onnx', 'command', 'http', 'predictions'] as const
export const TASKS = ['binary', 'multiclass', 'regression'] as const
export const FAIL_ON = ['fail', 'warn', 'never'] as const

/**
 * `Name: value` lines (action input) or flags → headers. Every value's credential parts are registered
 * as secrets (core/secrets.ts). A malformed line is never echoed, not even in part (it is most likely
 * `Authorization Bearer <token>` without its colon): the error names the option and which header it is.
 */
export function parseHeaders(lines: string[] | undefined, where: string): Record<string, string> | undefined {
  if (!lines || lines.length === 0) return undefined
  const out: Record<string, string> = {}
  for (const [n, line] of lines.entries()) {
    const i = line.indexOf(':')
    const name = line.slice(0, i).trim()
    if (i <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      // Registered all the same, in case some other message quotes it.
      secrets.addHeader(line)
      const which = lines.length > 1 ? `, header ${n + 1} of ${lines.length}` : ''
      throw new UserError(
        `${where}${which}: expected "Name: value" (a header name such as Authorization, a colon, then the value, e.g. "Authorization: Bearer <token>"); the text given is not shown, as it may hold a credential`,
        { field: where },
      )
    }
    out[name] = line.slice(i + 1).trim()
    secrets.addHeader(out[name])
  }
  return out
}

/**
 * Where option values come from: the action's inputs or the CLI's flags. Names are the action's input
 * names; each face maps them to its own (`thresholds` is the repeatable `--threshold` flag, …).
 */
export interface OptionSource {
  /** A single value, undefined when not given. */
  value(name: string): string | undefined
  /** A list: one per line (an input) or one per repeated flag. */
  lines(name: string): string[] | undefined
  /** How messages name the option: `input fail-on`, `--fail-on`. */
  label(name: string): string
}

/** The options that override the manifest, read and checked the same way for every face. */
export function readOverrides(src: OptionSource): Overrides {
  return {
    config: src.value('config'),
    model: src.value('model'),
    runner: parseEnum(src.value('runner'), RUNNERS, src.label('runner')),
    data: src.value('data'),
    label: src.value('label'),
    features: parseList(src.value('features')),
    task: parseEnum(src.value('task'), TASKS, src.label('task')),
    thresholds: src.lines('thresholds'),
    baseline: src.value('baseline'),
    registry: src.value('registry'),
    registryToken: src.value('registry-token'),
    referencePredictions: src.value('reference-predictions'),
    failOn: parseEnum(src.value('fail-on'), FAIL_ON, src.label('fail-on')),
    batchSize: parsePositiveInt(src.value('batch-size'), src.label('batch-size')),
    shard: src.value('shard'),
    driftReference: src.value('drift-reference'),
    headers: parseHeaders(src.lines('http-headers'), src.label('http-headers')),
    origin: (name) => src.label(name),
  }
}

/** test-robustness's own options, laid over the manifest's `robustness:` key. */
export interface RobustnessOverrides {
  seed?: number
  rows?: number
  'time-budget'?: number
}

/** Reads `seed`, `rows` and `time-budget`, each checked against the manifest's own rule for that key. */
export function readRobustnessOverrides(src: OptionSource): RobustnessOverrides {
  const out: RobustnessOverrides = {}
  for (const name of ['seed', 'rows', 'time-budget'] as const) {
    const text = src.value(name)
    if (text === undefined || text.trim() === '') continue
    const checked = robustnessSchema.shape[name].unwrap().safeParse(Number(text))
    if (!checked.success) {
      const why = Number.isFinite(Number(text)) ? checked.error.issues[0]!.message.replace(/^\w/, (c) => c.toLowerCase()) : 'not a number'
      throw new UserError(`${src.label(name)}: "${text}" is not valid: ${why}`, { field: src.label(name) })
    }
    out[name] = checked.data
  }
  return out
}

/** The settings with the robustness options laid over the manifest's `robustness:` key (or its defaults). */
export function withRobustnessOverrides(settings: Settings, overrides: RobustnessOverrides): Settings {
  if (Object.keys(overrides).length === 0) return settings
  return { ...settings, robustness: { ...(settings.robustness ?? robustnessDefaults()), ...overrides } }
}
