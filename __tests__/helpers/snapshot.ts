import { createHash } from 'node:crypto'
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs'
import path from 'node:path'

/**
 * Every entry under `dir`, by relative path: a file's mode and sha256, a link's target, or its kind
 * (`dir`, `fifo`, `other`). Two snapshots are equal when a run left the folder byte-identical.
 */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, name)
    const stat = lstatSync(p)
    if (stat.isSymbolicLink()) out[name] = `link ${readlinkSync(p)}`
    else if (stat.isFile()) out[name] = `file ${stat.mode.toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`
    else out[name] = stat.isDirectory() ? 'dir' : stat.isFIFO() ? 'fifo' : 'other'
  }
  return out
}
