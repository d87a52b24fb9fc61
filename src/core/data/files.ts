import { statSync } from 'node:fs'
import { UserError, errorText } from '../errors.js'

/** A file-system failure as a UserError naming the file. */
export function fileError(path: string, e: unknown): UserError {
  if (e instanceof UserError) return e
  return new UserError(`${path}: ${fileProblem(e)}`, { file: path, cause: e })
}

/** A file-system failure in words rather than errno codes. */
export function fileProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code
  if (code === 'ENOENT') return 'file not found'
  if (code === 'EISDIR') return 'is a directory, not a file'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  return errorText(e)
}

/** Throws a UserError unless `path` is an existing regular file. */
export function assertFile(path: string): void {
  let isFile: boolean
  try {
    isFile = statSync(path).isFile()
  } catch (e) {
    throw fileError(path, e)
  }
  if (!isFile) throw new UserError(`${path}: not a regular file`, { file: path })
}
