/*
 * Mermaid's xychart-beta grammar (mermaid/packages/mermaid/src/diagrams/xychart/parser/xychart.jison), the
 * statements modelgate writes: every line must be one of them, and every series as long as the x-axis.
 */
const QUOTED = String.raw`"[^"\n]*"`
const NUMBER = String.raw`-?\d+(?:\.\d+)?`
const NUMBERS = String.raw`\[${NUMBER}(?:, ${NUMBER})*\]`

const STATEMENTS: [name: string, re: RegExp][] = [
  ['title', new RegExp(`^    title ${QUOTED}$`)],
  ['x-axis', new RegExp(`^    x-axis (?:${QUOTED} )?\\[${QUOTED}(?:, ${QUOTED})*\\]$`)],
  ['y-axis', new RegExp(`^    y-axis ${QUOTED}(?: ${NUMBER} --> ${NUMBER})?$`)],
  ['line', new RegExp(`^    line ${NUMBERS}$`)],
  ['bar', new RegExp(`^    bar ${NUMBERS}$`)],
]

/** The problems of a fenced xychart-beta block (its lines, fences included); an empty list when it is valid. */
export function xychartProblems(lines: readonly string[]): string[] {
  const problems: string[] = []
  if (lines[0] !== '```mermaid') problems.push(`opens with ${JSON.stringify(lines[0])}`)
  if (lines[1] !== 'xychart-beta') problems.push(`declares ${JSON.stringify(lines[1])}`)
  if (lines[lines.length - 1] !== '```') problems.push(`closes with ${JSON.stringify(lines[lines.length - 1])}`)
  let categories: number | undefined
  const series: number[] = []
  for (const line of lines.slice(2, -1)) {
    const match = STATEMENTS.find(([, re]) => re.test(line))
    if (!match) {
      problems.push(`not a statement: ${JSON.stringify(line)}`)
      continue
    }
    if (match[0] === 'x-axis') categories = (line.slice(line.indexOf('[')).match(new RegExp(QUOTED, 'g')) ?? []).length
    if (match[0] === 'line' || match[0] === 'bar') series.push(line.split(',').length)
  }
  if (categories === undefined) problems.push('no x-axis categories')
  if (series.length === 0) problems.push('no series')
  if (categories !== undefined)
    for (const n of series) if (n !== categories) problems.push(`a series of ${n} points on ${categories} categories`)
  return problems
}

/** Every ```mermaid block of a Markdown text, as its lines from fence to fence. */
export function mermaidBlocks(markdown: string): string[][] {
  return [...markdown.matchAll(/^```mermaid\n[\s\S]*?\n```$/gm)].map((m) => m[0].split('\n'))
}
