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
