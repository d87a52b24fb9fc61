import { lstatSync, readlinkSync, statSync, type Stats } from 'node:fs'
import { UserError, errorText } from '../errors.js'

/**
 * The most bytes one CSV record or one JSON Lines line may take: 16 MiB. A row of thousands of
 * features or a long text cell is far below it; past it the file is almost surely not what it claims
 * (a quote never closed turns the rest of a CSV into one record, a binary file has no line ends) and
 * holding it would cost the reader a multiple of that in buffers and strings, up to V8's limit of
 * 2^29 characters, where it fails with "Invalid string length".
 */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024

/** How many bytes at the start of a text file are looked at for a sign of UTF-16 or binary content. */
export const SNIFF_BYTES = 4096

/** The most characters of a cell, a name or a file's text that a message quotes. */
export const EXCERPT_CHARS = 60

/** A file-system failure as a UserError naming the file. */
export function fileError(path: string, e: unknown): UserError {
  if (e instanceof UserError) return e
  return new UserError(`${path}: ${fileProblem(e)}`, { file: path, cause: e })
}

/** What the file system said, in words; the errno code follows but for the two everyone knows. */
const PROBLEMS: Readonly<Record<string, string>> = {
  ENOENT: 'file not found',
  EISDIR: 'is a directory, not a file',
  EACCES: 'permission denied (EACCES)',
  EPERM: 'operation not permitted (EPERM)',
  ENOTDIR: 'a part of the path is not a directory (ENOTDIR)',
  ELOOP: 'too many levels of symbolic links (ELOOP)',
  ENAMETOOLONG: 'the path is too long (ENAMETOOLONG)',
  EMFILE: 'too many open files (EMFILE)',
  ENFILE: 'too many open files in the system (ENFILE)',
  EIO: 'input/output error (EIO): a failing disk or network file system?',
  ENXIO: 'no such device or address (ENXIO)',
  EAGAIN: 'resource temporarily unavailable (EAGAIN)',
}

/** A file-system failure in words rather than errno codes. */
export function fileProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code
  if (typeof code === 'string' && Object.hasOwn(PROBLEMS, code)) return PROBLEMS[code]
  const text = errorText(e)
  // Node's "ECODE: description, syscall 'path'": the caller names the path already.
  const errno = /^([A-Z][A-Z0-9_]+): (.+?), \w+(?: '.*')?$/s.exec(text)
  return errno ? `${errno[2]} (${errno[1]})` : text
}

/** Throws a UserError unless `path` is an existing regular file (a symbolic link to one will do). */
export function assertFile(path: string): void {
  let stat: Stats
  try {
    stat = statSync(path)
  } catch (e) {
    const target = (e as NodeJS.ErrnoException).code === 'ENOENT' ? danglingLink(path) : undefined
    if (target !== undefined) throw new UserError(`${path}: a symbolic link to a missing file (${target})`, { file: path, cause: e })
    throw fileError(path, e)
  }
  if (!stat.isFile()) throw new UserError(`${path}: ${notAFile(stat)}`, { file: path })
}

/** The target of `path` when it is a symbolic link, else undefined. */
function danglingLink(path: string): string | undefined {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined
  } catch {
    return undefined
  }
}

/** What a path that is not a regular file is instead. */
function notAFile(stat: Stats): string {
  if (stat.isDirectory()) return 'is a directory, not a file'
  if (stat.isFIFO()) return 'is a named pipe (FIFO), not a regular file'
  if (stat.isSocket()) return 'is a socket, not a regular file'
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'is a device, not a regular file'
  return 'not a regular file'
}

/**
 * Throws unless `bytes`, read from `path` at file offset `offset`, may be UTF-8 text: a UTF-16 byte
 * order mark at the start (FF FE, FE FF) or a NUL byte within the first SNIFF_BYTES means UTF-16 or a
 * binary file (a spreadsheet, a gzip or Parquet file under a .csv name). Decoded as UTF-8 these give
 * garbled names and odd errors far from the cause; NUL never appears in a UTF-8 text file.
 */
export function assertText(path: string, bytes: Uint8Array, offset = 0): void {
  let why: string | undefined
  if (offset === 0 && bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
    why = `it starts with the UTF-16 byte order mark ${bytes[0] === 0xff ? 'FF FE' : 'FE FF'}`
  } else if (offset < SNIFF_BYTES) {
    const nul = bytes.subarray(0, SNIFF_BYTES - offset).indexOf(0)
    if (nul >= 0) why = `byte ${offset + nul + 1} is NUL`
  }
  if (why !== undefined) throw new UserError(`${path} is UTF-16 (or binary); save it as UTF-8 (${why})`, { file: path })
}

/**
 * Characters JSON.stringify leaves as they are but a terminal would act on or not show: line and
 * paragraph separators, bidirectional controls, zero-width characters and the byte order mark (a
 * BOM in the middle of a file, where two files were joined, makes a key or a name that looks right).
 */
const INVISIBLE = /[\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060\u2066-\u2069\ufeff]/g
/** Text a message may show as it is: no control, format (invisible) or lone surrogate character, no line or paragraph separator. */
const PLAIN = /^[^\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]*$/u

/**
 * `text` as a message quotes it: JSON-escaped (one line, control characters visible) and, past
 * EXCERPT_CHARS, cut with its length: `"aaaa…"… (52428800 characters)`. A cell or a file may be
 * megabytes; a message must stay a line.
 */
export function excerpt(text: string, max = EXCERPT_CHARS): string {
  let shown = text
  if (text.length > max) {
    // Not half a surrogate pair.
    const end = text.charCodeAt(max - 1) >= 0xd800 && text.charCodeAt(max - 1) <= 0xdbff ? max - 1 : max
    shown = text.slice(0, end)
  }
  const quoted = JSON.stringify(shown).replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  return shown === text ? quoted : `${quoted}… (${text.length} characters)`
}

/**
 * A name the user wrote (a key, a column, a tensor's) as a message shows it: as written when short and
 * plain, else as an excerpt, so that a line break or an invisible character in it cannot end the
 * message's line or hide.
 */
export function shownName(name: string): string {
  return name.length <= EXCERPT_CHARS && PLAIN.test(name) ? name : excerpt(name)
}
