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
