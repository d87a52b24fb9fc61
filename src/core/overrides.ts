import { FAIL_ON, RUNNERS, TASKS, parseEnum, parseHeaders, parseList, parsePositiveInt } from './options.js'
import type { Overrides } from './settings.js'

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
    referencePredictions: src.value('reference-predictions'),
    failOn: parseEnum(src.value('fail-on'), FAIL_ON, src.label('fail-on')),
    batchSize: parsePositiveInt(src.value('batch-size'), src.label('batch-size')),
    headers: parseHeaders(src.lines('http-headers'), src.label('http-headers')),
  }
}
