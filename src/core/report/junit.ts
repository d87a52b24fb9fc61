import type { CheckResult, ValidationResult } from '../result/types.js'
import { DEFAULT_ACTION, checkFigures, comparisonFacts, comparisonOf, countChecks, errorText, thresholdText } from './common.js'
import { formatDelta, formatNumber, neutralizeText } from './escape.js'

/**
 * Characters XML 1.0 forbids anywhere, even as character references: C0 controls other than
 * tab, LF and CR, lone surrogates, U+FFFE and U+FFFF. The `u` flag makes a lone surrogate one match.
 */
const XML_FORBIDDEN = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu

const XML_ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
}

/**
 * Text for element content: forbidden characters stripped, markup characters escaped. Test reporters
 * turn JUnit into Markdown, so mentions and links are disarmed too (neutralizeText).
 */
export function escapeXmlText(s: string): string {
  return neutralizeText(s)
    .replace(XML_FORBIDDEN, '')
    .replace(/[&<>]/g, (c) => XML_ENTITIES[c]!)
}

/** Text for a double-quoted attribute; whitespace is escaped too so attribute normalisation keeps line breaks. */
export function escapeXmlAttribute(s: string): string {
  return neutralizeText(s)
    .replace(XML_FORBIDDEN, '')
    .replace(/[&<>"'\t\n\r]/g, (c) => XML_ENTITIES[c]!)
}

function attributes(attrs: Record<string, string | number>): string {
  return Object.entries(attrs)
    .map(([key, value]) => ` ${key}="${escapeXmlAttribute(String(value))}"`)
    .join('')
}

/** The class name a check is filed under: its data set, or the model when it has none. */
function classNameOf(result: ValidationResult, check: CheckResult): string {
  return check.dataset ?? result.data[0]?.name ?? result.model.name
}

/** Everything about a check in one plain-text paragraph, for the failure body or the output. */
function checkDetails(result: ValidationResult, check: CheckResult): string {
  const comparison = comparisonOf(result, check)
  const figures = checkFigures(check, comparison)
  const lines = [check.message, `value: ${formatNumber(figures.value)}`]
  const threshold = thresholdText(check)
  if (threshold) lines.push(`threshold: ${threshold}`)
  if (figures.baseline !== undefined) {
    lines.push(`baseline: ${formatNumber(figures.baseline)}`, `change: ${formatDelta(figures.change)}`)
  }
  if (comparison) {
    lines.push(...comparisonFacts(comparison, check).map(([label, text]) => `${label}: ${text}`), `method: ${comparison.method}`)
  }
  lines.push(`severity: ${check.severity}`)
  return lines.join('\n')
}

/** What test reporters link a case to: the manifest when there is one, else the model. */
function fileOf(result: ValidationResult): string {
  return result.context.manifest ?? result.model.source
}

function testcase(result: ValidationResult, check: CheckResult): string {
  const open = `    <testcase${attributes({ classname: classNameOf(result, check), name: check.id, file: fileOf(result), time: check.seconds ?? 0 })}`
  switch (check.status) {
    case 'pass':
      return `${open}/>`
    case 'skipped':
      return `${open}>\n      <skipped${attributes({ message: check.message })}/>\n    </testcase>`
    case 'warn':
      return `${open}>\n      <system-out>${escapeXmlText(`WARNING: ${checkDetails(result, check)}`)}</system-out>\n    </testcase>`
    case 'fail':
      return (
        `${open}>\n      <failure${attributes({ message: check.message, type: check.kind })}>` +
        `${escapeXmlText(checkDetails(result, check))}</failure>\n    </testcase>`
      )
  }
}

/** A run that could not be judged is one erroring test case, so CI tools do not count it as green. */
function errorTestcase(result: ValidationResult): string {
  const message = errorText(result)
  return (
    `    <testcase${attributes({ classname: result.model.name, name: 'run', file: fileOf(result), time: result.context.durationSeconds })}>\n` +
    `      <error${attributes({ message, type: 'error' })}>${escapeXmlText(message)}</error>\n    </testcase>`
  )
}

/** JUnit XML: one test case per check, in the gate's order. */
export function renderJUnit(result: ValidationResult, opts: { action?: string } = {}): string {
  const errors = result.status === 'error' ? 1 : 0
  const counts = {
    tests: result.checks.length + errors,
    failures: countChecks(result.checks, 'fail'),
    errors,
    skipped: countChecks(result.checks, 'skipped'),
    time: result.context.durationSeconds,
  }
  const name = `modelgate ${opts.action ?? DEFAULT_ACTION}`
  const cases = result.checks.map((check) => testcase(result, check))
  if (errors) cases.push(errorTestcase(result))
  const properties = [
    ['model', result.model.name],
    ['model.digest', result.model.digest ?? ''],
    ['task', result.task],
    ['status', result.status],
    ['tool.version', result.context.version],
    ...(result.context.sha ? [['sha', result.context.sha]] : []),
  ].map(([key, value]) => `      <property${attributes({ name: key!, value: value! })}/>`)
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attributes({ name, ...counts })}>`,
    `  <testsuite${attributes({ name, ...counts, timestamp: result.context.startedAt })}>`,
    '    <properties>',
    ...properties,
    '    </properties>',
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n')
}

/**
 * The JUnit file of a run stopped by invalid input (exit 2): one erroring test case carrying the message,
 * so that test reporters show why instead of a missing file.
 */
export function renderErrorJUnit(e: { action?: string; message: string; file?: string; startedAt: string; seconds: number }): string {
  const name = `modelgate ${e.action ?? DEFAULT_ACTION}`
  const counts = { tests: 1, failures: 0, errors: 1, skipped: 0, time: e.seconds }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attributes({ name, ...counts })}>`,
    `  <testsuite${attributes({ name, ...counts, timestamp: e.startedAt })}>`,
    `    <testcase${attributes({ classname: name, name: 'run', ...(e.file ? { file: e.file } : {}), time: e.seconds })}>`,
    `      <error${attributes({ message: e.message, type: 'invalid-input' })}>${escapeXmlText(e.message)}</error>`,
    '    </testcase>',
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n')
}
