import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from '@jest/globals'
import { UserError } from '../../src/core/errors.js'
import { columnCells, type Batch, type Cell, type ReadOptions, type TableSource } from '../../src/core/data/types.js'

export const FIXTURES = fileURLToPath(new URL('../fixtures/data/', import.meta.url))

export function fixture(name: string): string {
  return join(FIXTURES, name)
}

/** The batches as the reader gives them: number columns as Float64Arrays (NaN missing), others as cells. */
export async function readTypedBatches(source: TableSource, opts: ReadOptions): Promise<Batch[]> {
  const batches: Batch[] = []
  for await (const batch of source.batches(opts)) batches.push(batch)
  return batches
}

/** A batch with every column as cells (`null` missing), as consumers read them through `cellAt`. */
export function plainBatch(batch: Batch): Batch {
  const columns: Batch['columns'] = Object.create(null) as Batch['columns']
  for (const [name, column] of Object.entries(batch.columns)) columns[name] = columnCells(column)
  return { ...batch, columns }
}

/** The batches with every column as cells: what the readers' tests compare. */
export async function readBatches(source: TableSource, opts: ReadOptions): Promise<Batch[]> {
  return (await readTypedBatches(source, opts)).map(plainBatch)
}

/** All rows of all batches, column by column. */
export async function readColumns(source: TableSource, opts: ReadOptions): Promise<Record<string, Cell[]>> {
  const out: Record<string, Cell[]> = {}
  for (const batch of await readBatches(source, opts)) {
    for (const [name, cells] of Object.entries(batch.columns)) (out[name] ??= []).push(...(cells as Cell[]))
  }
  return out
}

/** Asserts that `work` fails with a UserError whose message is `message` (or matches it) and that names `file`. */
export async function expectUserError(
  work: Promise<unknown> | (() => unknown),
  message: string | RegExp,
  file?: string,
): Promise<UserError> {
  let error: unknown
  try {
    await (typeof work === 'function' ? work() : work)
  } catch (e) {
    error = e
  }
  expect(error).toBeInstanceOf(UserError)
  const userError = error as UserError
  if (typeof message === 'string') expect(userError.message).toBe(message)
  else expect(userError.message).toMatch(message)
  if (file !== undefined) expect(userError.file).toBe(file)
  return userError
}

/** A fresh directory under the OS temp dir; call the returned function to remove it. */
export function tempDir(): { dir: string; file: (name: string, content: string | Buffer) => string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-data-'))
  return {
    dir,
    file: (name, content) => {
      const path = join(dir, name)
      writeFileSync(path, content)
      return path
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}
