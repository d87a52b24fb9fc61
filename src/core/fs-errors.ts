import * as nodeFs from 'node:fs'
import path from 'node:path'
import { errorText } from './errors.js'

/*
 * File-system errors in words, for the messages of everything that writes in a user's folder (the
 * lock file, the local registry): "read-only file system (EROFS)" rather than a bare code, and
 * "<path> is a file, not a folder" where Node says only ENOTDIR. Each function takes the file system
 * as a port, so tests can inject the errors that root cannot provoke.
 */

/** The errno name of a file-system error (`ENOENT`), or undefined for anything else. */
export function errnoCode(e: unknown): string | undefined {
  const c = (e as NodeJS.ErrnoException | undefined)?.code
  return typeof c === 'string' ? c : undefined
}

const CAUSES: Record<string, string> = {
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'not a folder',
  EISDIR: 'is a folder, not a file',
  ENOENT: 'does not exist',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'name too long',
  EIO: 'input/output error',
  EBUSY: 'busy',
}

/**
 * The cause of a file-system error in words, with its code: "read-only file system (EROFS)". With
 * the path that failed, a "not a folder" names the file that stands where a folder should be.
 */
export function fsCause(e: unknown, failed?: string, fs: Pick<typeof nodeFs, 'statSync'> = nodeFs): string {
  const c = errnoCode(e)
  if (!c) return errorText(e)
  if (failed && (c === 'ENOTDIR' || c === 'EEXIST')) {
    const blocker = fileInTheWay(failed, fs)
    if (blocker) return `${blocker === failed ? 'it' : blocker} is a file, not a folder (${c})`
  }
  return CAUSES[c] ? `${CAUSES[c]} (${c})` : errorText(e)
}

/**
 * `mkdir -p` that reports the real cause: Node 20's recursive mkdir turns EROFS or EACCES on a
 * missing folder into ENOENT, so on ENOENT the missing folders are made one at a time.
 */
export function makeFolder(dir: string, fs: Pick<typeof nodeFs, 'mkdirSync' | 'statSync'> = nodeFs): void {
  try {
    fs.mkdirSync(dir, { recursive: true })
    return
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e
  }
  const isFolder = (p: string) => {
    try {
      return fs.statSync(p).isDirectory()
    } catch {
      return undefined
    }
  }
  const missing: string[] = []
  for (let at = path.resolve(dir); isFolder(at) === undefined && path.dirname(at) !== at; at = path.dirname(at)) missing.unshift(at)
  for (const m of missing) {
    try {
      fs.mkdirSync(m)
    } catch (e) {
      // Made by someone else meanwhile: fine.
      if (errnoCode(e) !== 'EEXIST' || !isFolder(m)) throw e
    }
  }
}

/** The nearest existing path at or above `p`, when it is not a folder. */
export function fileInTheWay(p: string, fs: Pick<typeof nodeFs, 'statSync'> = nodeFs): string | undefined {
  for (let at = path.resolve(p); ; at = path.dirname(at)) {
    try {
      return fs.statSync(at).isDirectory() ? undefined : at
    } catch {
      // Missing, or under a file: look one level up.
    }
    if (path.dirname(at) === at) return undefined
  }
}
