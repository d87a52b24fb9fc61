import { closeSync, openSync, readSync } from 'node:fs'
import type { ValidationResult } from '../result/types.js'
import { mergeRobustness } from '../robustness/run.js'
import type { Settings } from '../settings/index.js'
import type { CiContext } from '../validate/context.js'
import { mergeValidation } from '../validate/run.js'
import { readShardState, type ShardKind } from './state.js'

/** The kind of shards a merge is given, from the first file (written first in every state file, so the head tells it). */
export function shardKind(file: string): ShardKind {
  const head = Buffer.alloc(512)
  let fd: number | undefined
  try {
    fd = openSync(file, 'r')
    const n = readSync(fd, head, 0, head.length, 0)
    const kind = /"kind"\s*:\s*"(validate|robustness)"/.exec(head.toString('utf8', 0, n))?.[1] as ShardKind | undefined
    if (kind) return kind
  } catch {
    // readShardState below says what is wrong with the file.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
  return readShardState(file).kind
}

/** `modelgate merge` and the actions' input merge: validate's or test-robustness's merge, as the shards were made. */
export function mergeShards(
  settings: Settings,
  files: string[],
  opts: { context: CiContext; log?: (line: string) => void },
): Promise<ValidationResult> {
  return shardKind(files[0]) === 'robustness' ? mergeRobustness(settings, files, opts) : mergeValidation(settings, files, opts)
}
