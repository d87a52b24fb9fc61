import type { CheckResult, ValidationResult } from '../result/types.js'
import { DEFAULT_ACTION, checkFigures, comparisonFacts, comparisonOf, errorText, thresholdText } from './common.js'
import { clip, formatDelta, formatNumber, neutralizeText } from './escape.js'

export interface Annotation {
  level: 'error' | 'warning'
  title: string
  message: string
}

/** The runner shows at most this many annotations of each level per step. */
export const ANNOTATIONS_PER_LEVEL = 10
export const ANNOTATION_MESSAGE_MAX = 4096
const TITLE_MAX = 255

/**
 * Workflow annotations for the checks that did not pass: failures as errors, warnings as
 * warnings. Annotations are plain text (the runner shows them verbatim), so values are not
 * escaped here; `@actions/core` escapes them for the workflow-command channel.
 */
export function annotationsFor(result: ValidationResult, opts: { action?: string } = {}): Annotation[] {
  const action = opts.action ?? DEFAULT_ACTION
  const errors: Annotation[] = result.checks.filter((c) => c.status === 'fail').map((c) => checkAnnotation('error', action, result, c))
  if (result.status === 'error') {
    errors.unshift(annotation('error', `${action} could not judge the model`, errorText(result)))
  }
  const warnings = result.checks.filter((c) => c.status === 'warn').map((c) => checkAnnotation('warning', action, result, c))
  return [...capped(errors, 'error', 'failed checks'), ...capped(warnings, 'warning', 'warnings')]
}

function annotation(level: Annotation['level'], title: string, message: string): Annotation {
  // The log viewer draws ANSI colours and GitHub links mentions: data-derived text does neither (the adapter escapes newlines and `::`).
  return { level, title: clip(neutralizeText(title), TITLE_MAX), message: clip(neutralizeText(message), ANNOTATION_MESSAGE_MAX) }
}

function checkAnnotation(level: Annotation['level'], action: string, result: ValidationResult, check: CheckResult): Annotation {
  const comparison = comparisonOf(result, check)
  const figures = checkFigures(check, comparison)
  const facts = [`value ${formatNumber(figures.value)}`]
  const threshold = thresholdText(check)
  if (threshold) facts.push(`threshold ${threshold}`)
  if (figures.baseline !== undefined) {
    facts.push(`baseline ${formatNumber(figures.baseline)}`, `change ${formatDelta(figures.change)}`)
  }
  if (comparison) facts.push(...comparisonFacts(comparison, check).map(([label, text]) => `${label} ${text}`))
  return annotation(level, `${action}: ${check.id}`, `${check.message} (${facts.join(', ')})`)
}

/** At most the per-level cap; when over, the last slot says how many were left out. */
function capped(list: Annotation[], level: Annotation['level'], noun: string): Annotation[] {
  if (list.length <= ANNOTATIONS_PER_LEVEL) return list
  const shown = list.slice(0, ANNOTATIONS_PER_LEVEL - 1)
  const omitted = list.length - shown.length
  return [
    ...shown,
    annotation(
      level,
      `${formatNumber(omitted)} more ${noun}`,
      `${formatNumber(omitted)} more ${noun} are not annotated here: see the job summary for all of them.`,
    ),
  ]
}
