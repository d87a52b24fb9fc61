import { accessSync, constants, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { UserError, errorText } from './errors.js'

/**
 * Checks that `file` can be written (creating its folder), so that a bad output path is reported
 * before any work is done and before any other output is written.
 */
export function checkOutputPath(file: string, what: string): void {
  const dir = path.dirname(path.resolve(file))
  try {
    mkdirSync(dir, { recursive: true })
    accessSync(dir, constants.W_OK)
  } catch (e) {
    throw new UserError(`${what} ${file}: cannot write there (${errorText(e)})`, { file, field: what })
  }
  let isDirectory = false
  try {
    isDirectory = statSync(file).isDirectory()
  } catch {
    // Does not exist yet: fine.
  }
  if (isDirectory) throw new UserError(`${what} ${file}: is a folder; give a file path`, { file, field: what })
}

/** Writes via a temporary file and a rename, so a reader never sees half a report. */
export function writeFileAtomic(file: string, text: string): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  try {
    writeFileSync(tmp, text)
    renameSync(tmp, file)
  } catch (e) {
    rmSync(tmp, { force: true })
    throw new UserError(`${file}: cannot write (${errorText(e)})`, { file })
  }
}

/**
 * A run's outputs, each written to a temporary file beside its destination and renamed into place only
 * when every one of them was written: a failure on the third output (a full disk, a killed run) leaves
 * none of them, rather than a `pass` report beside a run that exited 2.
 */
export class StagedFiles {
  private staged: { tmp: string; file: string }[] = []

  /** A temporary path beside `file` for a writer that streams (the predictions); renamed by commit(). */
  reserve(file: string): string {
    const abs = path.resolve(file)
    mkdirSync(path.dirname(abs), { recursive: true })
    const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.${process.pid}.${this.staged.length}.tmp`)
    this.staged.push({ tmp, file: abs })
    return tmp
  }

  write(file: string, text: string): void {
    const tmp = this.reserve(file)
    try {
      writeFileSync(tmp, text)
    } catch (e) {
      this.abort()
      throw new UserError(`${file}: cannot write (${errorText(e)})`, { file })
    }
  }

  get files(): string[] {
    return this.staged.map((s) => s.file)
  }

  /** Renames every staged file into place; returns their paths. */
  commit(): string[] {
    const files = this.files
    try {
      for (const s of this.staged) renameSync(s.tmp, s.file)
    } catch (e) {
      this.abort()
      throw new UserError(`cannot move the outputs into place (${errorText(e)})`)
    }
    this.staged = []
    return files
  }

  /** Removes whatever was staged and not yet moved into place. */
  abort(): void {
    for (const s of this.staged) {
      try {
        rmSync(s.tmp, { force: true })
      } catch {
        // Not a file we made (something else took the name): left alone; the error that stopped the run is what matters.
      }
    }
    this.staged = []
  }
}

/*
 * JSON text from files the user gave or a registry holds. V8's JSON.parse messages quote the text
 * ("Unexpected token 'g', "ghs_abc123"... is not valid JSON"): the first characters of a file that
 * holds a token, past the secret mask, which hides only whole values, and raw line breaks that split
 * a one-line message. So a syntax error is described by where it is, never by what is there.
 */

/** Where JSON.parse failed on `text`, as `line L, column C` (1-based), without quoting any of it; undefined when unknown. */
export function jsonErrorPlace(text: string, error?: unknown): string | undefined {
  const reported = /\bat position (\d+)\b/.exec(typeof error === 'object' && error !== null ? String((error as Error).message) : '')
  const offset = reported ? Number(reported[1]) : jsonErrorOffset(text)
  if (offset === undefined || offset > text.length) return undefined
  const before = text.slice(0, offset)
  const lineStart = before.lastIndexOf('\n') + 1
  const line = before.length - before.replaceAll('\n', '').length + 1
  // Code points, not UTF-16 units: an emoji before the error is one column.
  const column = Array.from(before.slice(lineStart)).length + 1
  return `line ${line}, column ${column}`
}

/** `not valid JSON (line L, column C)`, `not valid JSON (it is empty)`, or `not valid JSON`: the reason, without the text. */
export function notValidJson(text: string, error?: unknown): string {
  if (text.trim() === '') return 'not valid JSON (it is empty)'
  const place = jsonErrorPlace(text, error)
  return place ? `not valid JSON (${place})` : 'not valid JSON'
}

/** The same reason for inside parentheses: `not valid JSON at line L, column C`, `empty, not JSON`, `not valid JSON`. */
export function whyNotJson(text: string, error?: unknown): string {
  if (text.trim() === '') return 'empty, not JSON'
  const place = jsonErrorPlace(text, error)
  return place ? `not valid JSON at ${place}` : 'not valid JSON'
}

/**
 * JSON.parse for a file's text. A syntax error becomes a UserError
 * `<file>: <what> is not valid JSON (line L, column C)[; <hint>]` that quotes none of the text.
 */
export function parseJsonFile(text: string, file: string, what: string, opts: { field?: string; hint?: string } = {}): unknown {
  try {
    return JSON.parse(text)
  } catch (e) {
    // Not attached as the cause: its message quotes the text.
    throw new UserError(`${file}: ${what} is ${notValidJson(text, e)}${opts.hint ? `; ${opts.hint}` : ''}`, { file, field: opts.field })
  }
}

const JSON_SPACE = new Set([0x20, 0x09, 0x0a, 0x0d])
const JSON_ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't'])
const DIGIT = /[0-9]/
const HEX = /[0-9a-fA-F]/

/**
 * The offset of the first character that makes `text` not JSON (RFC 8259, as JSON.parse reads it;
 * `text.length` when it ends early), or undefined when it is JSON. Iterative, so a deeply nested
 * text cannot overflow the stack.
 */
export function jsonErrorOffset(text: string): number | undefined {
  const n = text.length
  let i = 0
  const space = () => {
    while (i < n && JSON_SPACE.has(text.charCodeAt(i))) i++
  }
  const digits = (): boolean => {
    if (i >= n || !DIGIT.test(text[i]!)) return false
    while (i < n && DIGIT.test(text[i]!)) i++
    return true
  }
  const string = (): boolean => {
    i++ // the opening quote
    while (i < n) {
      const c = text.charCodeAt(i)
      if (c === 0x22) {
        i++
        return true
      }
      if (c < 0x20) return false
      if (c === 0x5c) {
        i++
        if (i >= n) return false
        if (JSON_ESCAPES.has(text[i]!)) i++
        else if (text[i] === 'u') {
          i++
          for (let k = 0; k < 4; k++, i++) if (i >= n || !HEX.test(text[i]!)) return false
        } else return false
      } else i++
    }
    return false
  }
  const number = (): boolean => {
    if (text[i] === '-') i++
    if (text[i] === '0') i++
    else if (!digits()) return false
    if (text[i] === '.') {
      i++
      if (!digits()) return false
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++
      if (text[i] === '+' || text[i] === '-') i++
      if (!digits()) return false
    }
    return true
  }
  const literal = (word: string): boolean => {
    for (const ch of word) {
      if (text[i] !== ch) return false
      i++
    }
    return true
  }
  /** A property name and its colon; false with `i` at the offending character. */
  const key = (): boolean => {
    space()
    if (text[i] !== '"' || !string()) return false
    space()
    if (text[i] !== ':') return false
    i++
    return true
  }
  /** The open containers, innermost last: `]` or `}`. */
  const open: string[] = []
  for (;;) {
    // A value.
    space()
    if (i >= n) return n
    const c = text[i]!
    if (c === '{' || c === '[') {
      i++
      space()
      const close = c === '{' ? '}' : ']'
      if (text[i] === close) i++
      else {
        open.push(close)
        if (c === '{' && !key()) return Math.min(i, n)
        continue
      }
    } else if (c === '"') {
      if (!string()) return Math.min(i, n)
    } else if (c === '-' || DIGIT.test(c)) {
      if (!number()) return Math.min(i, n)
    } else if (c === 't' || c === 'f' || c === 'n') {
      if (!literal(c === 't' ? 'true' : c === 'f' ? 'false' : 'null')) return Math.min(i, n)
    } else return i
    // What follows a value: the end of the text, or a comma or the close of its container.
    let next = false
    while (!next) {
      space()
      const close = open.at(-1)
      if (close === undefined) return i < n ? i : undefined
      if (i >= n) return n
      if (text[i] === close) {
        i++
        open.pop()
      } else if (text[i] === ',') {
        i++
        if (close === '}' && !key()) return Math.min(i, n)
        next = true
      } else return i
    }
  }
}
