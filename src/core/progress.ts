/*
 * Progress of long work (scoring a large data set, robustness's model calls), so that a long run is not
 * silent. The pipelines report what they have done (rows, and the bytes of the data file read when the
 * reader says); a face decides where it goes:
 *   - a terminal: one line rewritten in place (`\r`), cleared when the work ends or before other output;
 *   - a log (CI, a pipe, an action's log): a plain line every few seconds, grouped where the log can.
 * Nothing is shown before the work has lasted `delayMs`: short runs print exactly what they always did.
 *
 * The reporter has no timer: it looks at its clock when told of progress, so tests drive it with a fake
 * clock. The faces hand it to the pipelines through `runWithProgress`, which the pipelines reach with
 * `currentProgress()`: the stages in between need not carry it.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { openSync, readSync, closeSync, statSync } from 'node:fs'
import { stripTerminalControls } from './report/escape.js'
import { scrub } from './secrets.js'

/** Where progress goes. */
export interface ProgressOutput {
  /** A terminal: one line rewritten in place. Otherwise whole lines. */
  tty: boolean
  /** On a terminal, raw text (the reporter adds the `\r` and the padding); otherwise one line, without its line end. */
  write(text: string): void
  /** The terminal's width: the line is cut to fit, since a wrapped line cannot be rewritten. */
  columns?: number
  /** Log lines only: a collapsible group around each phase's lines (an action's log). */
  startGroup?(title: string): void
  endGroup?(): void
}

export interface ProgressOptions {
  /** Milliseconds, monotonic (default performance.now). */
  now?: () => number
  /** Nothing is shown before a phase has lasted this long (default: 2 s on a terminal, 5 s in a log). */
  delayMs?: number
  /** Between two updates (default: 0.25 s on a terminal, 5 s in a log). */
  intervalMs?: number
}

/** One piece of long work, such as scoring one data set. */
export interface ProgressPhase {
  /** Rows done so far (a running total). */
  rows(done: number): void
  /** Bytes of the file read so far (a running total), when the reader tells. */
  bytes(read: number): void
  /** The work is over: the terminal line is cleared, the log group closed. */
  end(): void
}

export interface Progress {
  /**
   * Starts a phase. `label` leads each line ("test: 1,234 rows scored …"), `verb` says what happened to the
   * rows; `file` (the data file read) gives the size a percent and an ETA are computed against.
   */
  phase(label: string, opts?: { verb?: string; file?: string; totalBytes?: number }): ProgressPhase
  /** Before other output: clears the terminal line if one is shown, closes the log group if one is open. */
  clear(): void
  /** Ends whatever is shown (the run is over, or failed). */
  close(): void
}

const NO_PHASE: ProgressPhase = { rows: () => {}, bytes: () => {}, end: () => {} }

/** Reports nothing: the default, and what --quiet and --json get. */
export const NO_PROGRESS: Progress = { phase: () => NO_PHASE, clear: () => {}, close: () => {} }

const storage = new AsyncLocalStorage<Progress>()

/** Runs `fn` with `progress` as the reporter the pipelines find with currentProgress(). */
export function runWithProgress<T>(progress: Progress, fn: () => Promise<T>): Promise<T> {
  return storage.run(progress, fn)
}

/** The reporter of the run in progress; NO_PROGRESS outside runWithProgress. */
export function currentProgress(): Progress {
  return storage.getStore() ?? NO_PROGRESS
}

/** "12 s", "3:05", "1:02:03". */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s} s`
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const ss = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`
}

const count = (n: number) => Math.round(n).toLocaleString('en-US')

/**
 * What a phase line says: "test: 1,234,567 rows scored (37%), 45,678 rows/s, ETA 12 s". `fraction` is of
 * the work done, when known; `estimated` marks one guessed from the file's first lines ("~37%").
 */
export function progressText(p: {
  label: string
  verb: string
  rows: number
  seconds: number
  fraction?: number
  estimated?: boolean
}): string {
  const rate = p.seconds > 0 ? p.rows / p.seconds : 0
  const known = p.fraction !== undefined && p.fraction > 0 ? p.fraction : undefined
  const pct = known === undefined ? '' : ` (${p.estimated ? '~' : ''}${Math.min(p.estimated ? 99 : 100, Math.floor(known * 100))}%)`
  const eta = known !== undefined && known < 1 ? `, ETA ${formatEta(p.seconds * (1 / known - 1))}` : ''
  return `${p.label}: ${count(p.rows)} rows ${p.verb}${pct}, ${count(rate)} rows/s${eta}`
}

/** Bytes per line in the first 64 KB of a text file (CSV, JSON Lines): an estimate of its rows, when its reader tells no bytes. */
function bytesPerLine(file: string): number | undefined {
  let fd: number | undefined
  try {
    fd = openSync(file, 'r')
    const buf = Buffer.alloc(64 * 1024)
    const n = readSync(fd, buf, 0, buf.length, 0)
    let lines = 0
    let last = -1
    for (let i = 0; i < n; i++)
      if (buf[i] === 10) {
        lines++
        last = i
      }
    // The header (CSV) or a first record: either way, whole lines only.
    return lines >= 2 ? (last + 1) / lines : undefined
  } catch {
    return undefined
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

function fileSize(file: string): number | undefined {
  try {
    return statSync(file).size
  } catch {
    return undefined
  }
}

const TEXT_FILE = /\.(csv|tsv|txt|jsonl|ndjson)$/i

/** The reporter over an output; see the module's comment. */
export function createProgress(out: ProgressOutput, opts: ProgressOptions = {}): Progress {
  const now = opts.now ?? (() => performance.now())
  const delay = opts.delayMs ?? (out.tty ? 2000 : 5000)
  const interval = opts.intervalMs ?? (out.tty ? 250 : 5000)
  // What is on the terminal line (its length, to pad over), or whether a log group is open.
  let shown = 0
  let grouped = false

  const clearLine = () => {
    if (out.tty && shown > 0) {
      out.write(`\r${' '.repeat(shown)}\r`)
      shown = 0
    }
  }
  const endGroup = () => {
    if (grouped) {
      grouped = false
      out.endGroup?.()
    }
  }

  const show = (title: string, text: string) => {
    const clean = stripTerminalControls(scrub(text))
    if (out.tty) {
      const width = out.columns !== undefined && out.columns > 1 ? out.columns - 1 : Infinity
      const line = clean.length > width ? clean.slice(0, width) : clean
      out.write(`\r${line.padEnd(shown)}`)
      shown = line.length
    } else {
      if (!grouped && out.startGroup) {
        out.startGroup(stripTerminalControls(scrub(title)))
        grouped = true
      }
      out.write(clean)
    }
  }

  return {
    phase(label, phaseOpts = {}) {
      const verb = phaseOpts.verb ?? 'scored'
      const file = phaseOpts.file
      const started = now()
      let last: number | undefined
      let rows = 0
      let bytes: number | undefined
      let total = phaseOpts.totalBytes
      let sized = total !== undefined
      let perLine: number | undefined
      let estimated = false
      let over = false

      const fraction = (): number | undefined => {
        if (!sized) {
          sized = true
          total ??= file !== undefined ? fileSize(file) : undefined
        }
        if (total === undefined || total <= 0) return undefined
        if (bytes !== undefined) return bytes / total
        // No bytes from the reader: rows × the size of the first lines, for a text file.
        if (file === undefined || !TEXT_FILE.test(file)) return undefined
        if (!estimated) {
          estimated = true
          perLine = bytesPerLine(file)
        }
        return perLine === undefined ? undefined : Math.min(1, (rows * perLine) / total)
      }

      const tick = () => {
        if (over) return
        const t = now()
        if (t - started < delay) return
        if (last !== undefined && t - last < interval) return
        last = t
        const f = fraction()
        show(
          label,
          progressText({
            label,
            verb,
            rows,
            seconds: (t - started) / 1000,
            fraction: f,
            estimated: f !== undefined && bytes === undefined,
          }),
        )
      }

      return {
        rows(done) {
          rows = done
          tick()
        },
        bytes(read) {
          bytes = read
        },
        end() {
          if (over) return
          over = true
          clearLine()
          endGroup()
        },
      }
    },
    clear() {
      clearLine()
      endGroup()
    },
    close() {
      clearLine()
      endGroup()
    },
  }
}
