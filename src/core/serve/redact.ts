import { homedir, tmpdir } from 'node:os'
import path from 'node:path'

/*
 * Server file paths out of what clients read. Messages about the state file, a model file that did
 * not load or a model that failed name those files in full, which is right for the server's log and
 * for `status()`, but an HTTP client must not learn how the server's disk is laid out. Known files
 * (the state file, each version's model) become a label that still says which one; anything else
 * that looks like an absolute path becomes <server path>.
 */

export const SERVER_PATH = '<server path>'

/** A character of a path inside a message; white space, quotes, brackets and `:` (as in `path: reason`) end it. */
const PATH_CHAR = String.raw`[^\s'"()\[\]{},;:]`
/** The same within one segment: no separator either. */
const SEGMENT_CHAR = String.raw`[^\s'"()\[\]{},;:/\\]`
/** An absolute POSIX path of two segments or more, not inside a URL (`//host/…`) or a relative path (`a/b`). */
const POSIX_PATH = new RegExp(String.raw`(?<![\w.:/\\~-])/(?:${SEGMENT_CHAR}+/)+${SEGMENT_CHAR}*`, 'g')
const WINDOWS_PATH = new RegExp(String.raw`(?<!\w)[A-Za-z]:\\(?:${SEGMENT_CHAR}+\\)*${SEGMENT_CHAR}*`, 'g')

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

export class PathRedactor {
  /** Exact paths and the label that replaces them. */
  private readonly files = new Map<string, string>()
  /** Folders whose contents are server paths, whatever their names contain. */
  private readonly folders = new Set<string>()

  constructor(folders: (string | undefined)[] = []) {
    for (const f of [...folders, process.cwd(), tmpdir(), homedir()]) this.folder(f)
  }

  file(file: string, label: string): void {
    this.files.set(file, label)
    this.files.set(path.resolve(file), label)
  }

  folder(dir: string | undefined): void {
    if (dir === undefined || dir === '') return
    const abs = path.resolve(dir)
    // The file system's root would make every path-like text a server path: the generic patterns cover it.
    if (path.dirname(abs) !== abs) this.folders.add(abs)
  }

  /** Known files replaced: for any message, including ones that echo what the client sent. */
  known(text: string): string {
    let out = text
    for (const [file, label] of [...this.files].sort((a, b) => b[0].length - a[0].length)) out = out.replaceAll(file, label)
    return out
  }

  /** Known files, anything in the known folders and anything shaped like an absolute path: for messages the server wrote. */
  text(text: string): string {
    let out = this.known(text)
    for (const dir of [...this.folders].sort((a, b) => b.length - a.length))
      out = out.replace(new RegExp(`${escapeRegExp(dir)}(?![\\w.-])(?:[\\\\/]${PATH_CHAR}*)?`, 'g'), SERVER_PATH)
    return out.replace(POSIX_PATH, SERVER_PATH).replace(WINDOWS_PATH, SERVER_PATH)
  }
}
