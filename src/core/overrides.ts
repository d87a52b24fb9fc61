import { FAIL_ON, RUNNERS, TASKS, parseEnum, parseHeaders, parseList, parsePositiveInt } from './options.js'
import type { Overrides, Settings } from './settings.js'
import { UserError } from './errors.js'
import { robustnessDefaults, robustnessSchema } from './robustness/schema.js'

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
