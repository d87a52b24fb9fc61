/*
 * Sharding: which rows of a data set one job of a workflow matrix scores. A shard is `i/n`; the rows
 * are cut into blocks of `batch-size` consecutive data rows and block b goes to shard (b mod n) + 1.
 *
 * Why blocks dealt round-robin and not n contiguous ranges: the row count of a CSV or JSON Lines file is
 * not known before it is read, so a shard could not tell where its range starts; blocks need no count
 * and stay balanced to within one block per shard. Why blocks of `batch-size`: a shard then calls its
 * model with batches as large as an unsharded run does (a slow endpoint pays per request), and the
 * setting is the same in every shard (the merge checks it). Every row belongs to exactly one shard
 * whatever the file's length; a file of fewer than n blocks leaves the last shards empty, which the
 * merge accepts.
 */
import { UserError } from '../errors.js'
import type { Batch, Column } from '../data/types.js'

export interface ShardSpec {
  /** 1-based. */
  index: number
  count: number
}

/** More shards than a workflow matrix can hold (256 jobs) is a typo. */
export const MAX_SHARDS = 256

/** `2/3` → { index: 2, count: 3 }; `where` names the option or manifest key in the message. */
export function parseShard(text: string, where: { file?: string; field: string }): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text)
  const named = `${where.file ? `${where.file}: ` : ''}${where.field}`
  if (!m) throw new UserError(`${named}: "${text}" is not a shard; write i/n, e.g. 2/3 for the second of three shards`, where)
  const index = Number(m[1])
  const count = Number(m[2])
  if (count < 1 || count > MAX_SHARDS)
    throw new UserError(`${named}: "${text}": the number of shards must be from 1 to ${MAX_SHARDS}`, where)
  if (index < 1 || index > count)
    throw new UserError(`${named}: "${text}": the shard must be from 1 to ${count} (shards are numbered from 1)`, where)
  return { index, count }
}

export function shardName(spec: ShardSpec): string {
  return `${spec.index}/${spec.count}`
}

/** The shard (1-based) a 0-based data row belongs to, with blocks of `block` rows. */
export function shardOfRow(row: number, count: number, block: number): number {
  return (Math.floor(row / block) % count) + 1
}

/** The runs `[start, end)` of the batch's rows (indices within the batch) that belong to the shard, in order. */
export function shardRuns(offset: number, length: number, spec: ShardSpec, block: number): [number, number][] {
  const runs: [number, number][] = []
  if (spec.count === 1) return length > 0 ? [[0, length]] : []
  let row = offset
  const end = offset + length
  while (row < end) {
    const blockEnd = Math.min(end, (Math.floor(row / block) + 1) * block)
    if (shardOfRow(row, spec.count, block) === spec.index) {
      const last = runs[runs.length - 1]
      if (last && last[1] === row - offset) last[1] = blockEnd - offset
      else runs.push([row - offset, blockEnd - offset])
    }
    row = blockEnd
  }
  return runs
}

/** Rows `[start, end)` of a batch as a batch of their own: views, no copies; its offset is its first row's. */
export function sliceBatch(batch: Batch, start: number, end: number): Batch {
  if (start === 0 && end === batch.length) return batch
  const columns: Record<string, Column> = {}
  for (const [name, column] of Object.entries(batch.columns))
    columns[name] = column instanceof Float64Array ? column.subarray(start, end) : column.slice(start, end)
  return { offset: batch.offset + start, length: end - start, columns }
}

/** The parts of a batch a shard scores: contiguous slices, each with its own offset, so row numbers in messages stay true. */
export function shardBatches(batch: Batch, spec: ShardSpec | undefined, block: number): Batch[] {
  if (!spec || spec.count === 1) return [batch]
  return shardRuns(batch.offset, batch.length, spec, block).map(([s, e]) => sliceBatch(batch, s, e))
}
