/*
 * The job summary is built as blocks so that, over GitHub's size limit, the bulkiest optional detail can be
 * replaced by a one-line notice, rank by rank, instead of the summary being cut mid-table.
 */
import { escapeHtml, escapeMarkdownCell, formatBytes } from './escape.js'

/** A part of the summary. Droppable parts go, lowest `rank` first, when the summary is too large. */
export interface Block {
  text: string
  drop?: { rank: number; what: string }
}

/** Drop order: the bulkiest, least essential detail goes first; key tables are never dropped. */
export const DROP_RANK = {
  discoveredSlices: 1,
  perClass: 2,
  confusion: 3,
  reliability: 4,
  robustnessExamples: 5,
  contractExamples: 5,
  parityExamples: 6,
  signature: 7,
  reliabilityChart: 8,
  chart: 9,
  robustnessChart: 9,
} as const

/** A paragraph of notes, or no block when there are none. */
export function notesBlock(notes: readonly string[]): Block[] {
  return notes.length > 0 ? [{ text: notes.join(' ') }] : []
}

export function bulletList(items: readonly string[]): string {
  return items.map((item) => `- ${escapeMarkdownCell(item)}`).join('\n')
}

/**
 * A collapsible section. `summary` is plain text: inside the HTML block Markdown escapes would
 * show literally, so it is HTML-escaped instead. The blank lines after `</summary>` and before
 * `</details>` are what make GitHub render the body as Markdown rather than as raw HTML text.
 */
export function details(summary: string, body: string): string {
  return `<details>\n<summary>${escapeHtml(summary)}</summary>\n\n${body}\n\n</details>`
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8')
}

function joinBlocks(blocks: readonly Block[]): string {
  return `${blocks.map((b) => b.text).join('\n\n')}\n`
}

/**
 * Joins the blocks; while over budget, replaces droppable blocks by a one-line notice, one
 * rank at a time. If the essentials alone are still too large, cuts at a line boundary.
 */
export function fitBlocks(blocks: Block[], maxBytes: number): string {
  let current = blocks
  let text = joinBlocks(current)
  const ranks = [...new Set(blocks.flatMap((b) => (b.drop ? [b.drop.rank] : [])))].sort((a, b) => a - b)
  const limitText = formatBytes(maxBytes)
  for (const rank of ranks) {
    if (byteLength(text) <= maxBytes) return text
    current = current.map((b) =>
      b.drop?.rank === rank ? { text: `_${b.drop.what} omitted to keep this summary under ${limitText}._` } : b,
    )
    text = joinBlocks(current)
  }
  if (byteLength(text) <= maxBytes) return text
  return cutAtLine(text, maxBytes, `\n_… truncated: this summary exceeded ${limitText}._\n`)
}

/** The longest prefix of whole lines that, with `tail`, fits in `maxBytes`. */
function cutAtLine(text: string, maxBytes: number, tail: string): string {
  const budget = maxBytes - byteLength(tail)
  let used = 0
  let end = 0
  for (const line of text.split('\n')) {
    const size = byteLength(line) + 1
    if (used + size > budget) break
    used += size
    end += line.length + 1
  }
  return text.slice(0, end) + tail
}
