import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { extname } from 'node:path'
import { UserError } from '../errors.js'
import { CsvSource } from './csv.js'
import { assertFile, fileError } from './files.js'
import { JsonlSource } from './jsonl.js'
import { ParquetSource } from './parquet.js'
import type { TableFormat, TableSource } from './types.js'

/** File extensions (lower case) and the format each implies. */
export const TABLE_EXTENSIONS: Readonly<Record<string, TableFormat>> = {
  '.csv': 'csv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.parquet': 'parquet',
}

/** The format implied by the file's extension (case-insensitive). */
export function inferFormat(path: string): TableFormat {
  const format = TABLE_EXTENSIONS[extname(path).toLowerCase()]
  if (format === undefined) {
    const ext = extname(path) || '(none)'
    throw new UserError(
      `${path}: cannot tell the data format from the extension ${ext}; supported: ${Object.keys(TABLE_EXTENSIONS).join(', ')} (or give the format explicitly)`,
      { file: path },
    )
  }
  return format
}

/** A reader for a data file, in `format` or else the format its extension names. */
export function openTable(path: string, format?: TableFormat): TableSource {
  const resolved = format ?? inferFormat(path)
  assertFile(path)
  switch (resolved) {
    case 'csv':
      return new CsvSource(path)
    case 'jsonl':
      return new JsonlSource(path)
    case 'parquet':
      return new ParquetSource(path)
    default:
      throw new UserError(`${path}: unknown data format "${String(resolved)}"; supported: csv, jsonl, parquet`, {
        file: path,
      })
  }
}

/** `sha256:<hex>` of the file's bytes, read as a stream. */
export async function digestFile(path: string): Promise<string> {
  const hash = createHash('sha256')
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  } catch (e) {
    throw fileError(path, e)
  }
  return `sha256:${hash.digest('hex')}`
}
