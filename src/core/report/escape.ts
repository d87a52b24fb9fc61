/**
 * Escaping and number formatting shared by every report sink.
 * Anything that came from data (column names, class labels, model names, messages, paths)
 * must pass through one of the escapers before it is written into markup.
 */

const HTML_ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
}

/**
 * Text for HTML element content or a quoted attribute value; GitHub mentions in it are disarmed too.
 * GitHub reads an HTML block as Markdown again after a blank line, so line breaks become spaces (data
 * cannot end the block), and what Markdown would act on there is disarmed: `](` (a link or image) and
 * backticks (a code span).
 */
export function escapeHtml(s: string): string {
  return disarmMentions(
    stripTerminalControls(s.replace(/[ \t]*(\r\n?|\n)\s*/g, ' ')).replace(/[&<>"'`]/g, (c) => HTML_ENTITIES[c]!),
  ).replace(/\]\(/g, ']&#40;')
}

/**
 * Plain text that GitHub or a test reporter may still render (annotations, JUnit messages): terminal
 * controls stripped, mentions disarmed, and `](` broken with a zero-width space so no link forms.
 */
export function neutralizeText(s: string): string {
  return disarmMentions(stripTerminalControls(s)).replace(/\]\(/g, ']\u200b(')
}

/** `@name` notifies a user or team wherever GitHub renders text: a zero-width space after the `@` stops it. */
function disarmMentions(s: string): string {
  return s.replace(/(^|[^\w`])@(?=[A-Za-z0-9])/g, '$1@\u200b')
}

/**
 * Text for a GitHub-flavoured Markdown table cell (also safe as inline text anywhere
 * outside code spans): HTML is neutralised so a value can never inject markup, backslashes
 * and pipes are escaped so a value cannot end the cell, and line breaks become `<br>`.
 * What GitHub would act on is disarmed too: brackets (links, images) and backticks (a code span
 * that swallows the rest) are escaped, and an `@` that would mention a user or team gets a zero-width
 * space after it, so data cannot notify people from a pull-request comment.
 */
export function escapeMarkdownCell(s: string): string {
  return (
    disarmMentions(stripTerminalControls(s.replace(/\r\n?/g, '\n')))
      .replace(/[&<>]/g, (c) => HTML_ENTITIES[c]!)
      .replace(/\\/g, '\\\\')
      .replace(/\|/g, '\\|')
      // `](` is what makes a link or an image of bracketed text; a bracket alone (an interval) is left as written.
      .replace(/\](?=\()/g, '\\]')
      .replace(/`/g, '\\`')
      .replace(/\n/g, '<br>')
  )
}

/**
 * A Mermaid label, returned already wrapped in double quotes. Mermaid has no escape for a
 * quote inside a quoted string, and `#…;` starts an entity, so those characters are replaced;
 * brackets, backticks and angle brackets are dropped so the label can neither close the list
 * it sits in nor the Markdown fence around the diagram.
 */
export function escapeMermaidLabel(s: string): string {
  const cleaned = stripTerminalControls(s)
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/"/g, "'")
    .replace(/[#;]/g, ' ')
    .replace(/[[\]{}()<>`]/g, '')
    .trim()
  return `"${cleaned}"`
}

const SIGNIFICANT_DIGITS = 4

/** Groups the digits of a non-negative integer string in threes: `1234567` → `1,234,567`. */
function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

/**
 * A number for people: integers exactly with thousands separators (`12,345`); other values to
 * 4 significant digits without trailing zeros (`0.9561`, `0.0123`, `123.5`), never dropping
 * integer digits (`12,346`); `NaN`, null and undefined as `—`.
 */
export function formatNumber(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '—'
  if (x === Infinity) return '∞'
  if (x === -Infinity) return '-∞'
  const sign = x < 0 ? '-' : ''
  const abs = Math.abs(x)
  if (Number.isInteger(abs)) return abs < 1e21 ? sign + groupThousands(abs.toFixed(0)) : sign + String(abs)
  if (abs < 1) return sign + stripTrailingZeros(abs.toPrecision(SIGNIFICANT_DIGITS))
  const integerDigits = Math.floor(Math.log10(abs)) + 1
  const fixed = abs.toFixed(Math.max(0, SIGNIFICANT_DIGITS - integerDigits))
  const [whole, fraction] = stripTrailingZeros(fixed).split('.')
  const rounded = groupThousands(whole!) + (fraction === undefined ? '' : `.${fraction}`)
  return rounded === '0' ? '0' : sign + rounded
}

/** `0.9500` → `0.95`, `1.000` → `1`, `1.200e-7` → `1.2e-7`. */
function stripTrailingZeros(s: string): string {
  const [mantissa, exponent] = s.split('e')
  const trimmed = mantissa!.includes('.') ? mantissa!.replace(/\.?0+$/, '') : mantissa!
  return exponent === undefined ? trimmed : `${trimmed}e${exponent}`
}

/** A difference with an explicit sign (`+0.0123`, `-0.05`, `0`); `—` when unknown. */
export function formatDelta(x: number | null | undefined): string {
  const text = formatNumber(x)
  return x !== null && x !== undefined && x > 0 && text !== '0' ? `+${text}` : text
}

/** The true minus sign (U+2212): signed comparison figures use it, as the comparison messages do, so signs line up. */
export const MINUS = '\u2212'

/**
 * A number to a fixed count of decimals with thousands separators, for figures that must read alike
 * (an estimate and its interval). `signed` gives every value a sign, as differences need: `+0.012`,
 * `−0.006` (true minus), and `±0.000` for one that rounds to zero. Unsigned, a negative value has `-`
 * as `formatNumber` writes it, and one that rounds to zero has none.
 */
export function formatFixed(x: number, digits: number, signed = false): string {
  if (!Number.isFinite(x)) return formatNumber(x)
  const [whole, fraction] = Math.abs(x).toFixed(digits).split('.')
  const magnitude = groupThousands(whole!) + (fraction === undefined ? '' : `.${fraction}`)
  const zero = /^[0.,]*$/.test(magnitude)
  if (!signed) return zero || x > 0 ? magnitude : `-${magnitude}`
  return (zero ? '±' : x < 0 ? MINUS : '+') + magnitude
}

/** Bytes in binary units: `812 B`, `1.5 KiB`, `1 MiB`. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '—'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return unit === 0 ? `${formatNumber(value)} B` : `${value.toFixed(1).replace(/\.0$/, '')} ${units[unit]}`
}

/** Cuts text to at most `max` UTF-16 code units without splitting a surrogate pair, marking the cut. */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s
  let end = Math.max(0, max - 1)
  const code = s.charCodeAt(end - 1)
  if (code >= 0xd800 && code <= 0xdbff) end -= 1
  return `${s.slice(0, end)}…`
}

/**
 * ANSI/VT escape sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL|ESC \`, and two-character ones) and
 * the C0/C1 controls other than tab and line feed: what a terminal would obey rather than show.
 */
/* eslint-disable no-control-regex -- control characters are the point of this pattern */
const TERMINAL_CONTROLS =
  /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-_]?|[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g
/* eslint-enable no-control-regex */

/** Text for a terminal or a log: what came from data can neither move the cursor, recolour, retitle nor ring. */
export function stripTerminalControls(s: string): string {
  return s.replace(TERMINAL_CONTROLS, '')
}

/**
 * A log line for the Actions runner, which obeys any line that starts with `::` (after white space) as a
 * workflow command: such a line gets a zero-width space between its colons, so a data set named
 * "x\n::warning::…" is printed, not obeyed. Terminal controls are stripped too.
 */
export function sanitizeLogText(s: string): string {
  return stripTerminalControls(s).replace(/^(\s*):(?=:)/gm, '$1:\u200b')
}
