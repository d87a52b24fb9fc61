/**
 * `modelgate validate` on hostile or careless input files, through runCli (issue 12): a YAML alias bomb,
 * an oversized manifest, UTF-16 and binary files, records past the reader's bound, huge cells, numbers
 * out of the range of a double, and paths the file system refuses. Each row is one case: the files to
 * create in a fresh directory, the CLI arguments, and a fragment of the one-line message. Every case
 * must exit 2 with that line, no stack trace, no report file, and leave its input files as they were.
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { runCli } from '../../src/cli/main.js'
import { outside } from '../helpers/workspace.js'
import { MAX_RECORD_BYTES } from '../../src/core/data/csv.js'
import { BC40, BC_HEADER, BC_LINES, BC_TEXT, csvWithCell } from '../helpers/bc40.js'
import { MAX_MANIFEST_BYTES } from '../../src/core/manifest/load.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const MODEL = path.join(ROOT, 'examples/breast-cancer/model.onnx')
const FEATURES = BC_HEADER.filter((h) => h !== 'target')
const MIB = 1024 * 1024

/** What to put at a path in the case's directory. */
type Entry =
  | string
  | Buffer
  | { fifo: true }
  | { dir: true }
  | { symlink: string }
  /** A regular file with these permission bits. */
  | { text: string; mode: number }

interface Row {
  name: string
  /** Built when the case runs (some are tens of MB). */
  files: () => Record<string, Entry>
  args: string[]
  /** A fragment of the `modelgate: …` line. */
  stderr: string
  /** Why the case cannot run here, if it cannot. */
  skip?: string
}

/** Flags that score the example model on `data` (a path in the case's directory). */
function flags(data: string): string[] {
  return ['--model', MODEL, '--data', data, '--label', 'target', '--features', FEATURES.join(',')]
}

/** A manifest over the example model and `data`, with `extra` lines appended. */
function manifest(data = BC40, extra = ''): string {
  return (
    [`name: hostile`, `model: ${MODEL}`, `features: [${FEATURES.join(', ')}]`, `label: target`, `data: ${data}`].join('\n') + '\n' + extra
  )
}

/** The slice as JSON Lines, one object per row, with data row `row` (from 1) of `column` written as `json`. */
function jsonlWithCell(row: number, column: string, json: string): string {
  return (
    BC_LINES.slice(1)
      .map((l, i) => {
        const values = l.split(',')
        const fields = BC_HEADER.map((h, j) => `${JSON.stringify(h)}: ${i + 1 === row && h === column ? json : values[j]}`)
        return `{${fields.join(', ')}}`
      })
      .join('\n') + '\n'
  )
}

/** The slice as Parquet, every column a double but `column`, which is text with `value` in data row 1. */
function parquetWithText(column: string, value: string): Buffer {
  const rows = BC_LINES.slice(1).map((l) => l.split(','))
  const buffer = parquetWriteBuffer({
    columnData: BC_HEADER.map((h, j) =>
      h === column
        ? { name: h, data: rows.map((r, i) => (i === 0 ? value : r[j])), type: 'STRING' as const, nullable: false }
        : { name: h, data: rows.map((r) => Number(r[j])), type: 'DOUBLE' as const, nullable: false },
    ),
  })
  return Buffer.from(buffer)
}

const utf16le = (text: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])
const utf16beNoBom = (text: string) => Buffer.from(text, 'utf16le').swap16()

/** Nine levels of nine aliases: 9^9 (387 million) strings once expanded. */
const ALIAS_BOMB =
  'name: lol\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' +
  'bcdefghi'
    .split('')
    .map((k, i) => {
      const prev = 'abcdefghi'[i]
      return `${k}: &${k} [${Array(9).fill(`*${prev}`).join(',')}]\n`
    })
    .join('')

/** `bytes` of valid YAML: a manifest followed by comment lines. */
function bigManifest(bytes: number): string {
  const head = manifest()
  const line = `# ${'x'.repeat(77)}\n`
  return head + line.repeat(Math.ceil((bytes - head.length) / line.length))
}

const longText = (n: number) => 'a'.repeat(n)
const EXCERPT_60 = `"${'a'.repeat(60)}"…`

const isRoot = process.getuid?.() === 0

const ROWS: Row[] = [
  // Manifests.
  {
    name: 'a YAML alias bomb ("billion laughs") as the manifest',
    files: () => ({ 'modelgate.yml': ALIAS_BOMB }),
    args: [],
    stderr: 'modelgate: modelgate.yml: invalid YAML: its aliases expand past the limit of 100 alias expansions',
  },
  {
    name: 'an alias to an anchor that does not exist',
    files: () => ({ 'modelgate.yml': manifest(BC40, 'baseline: *nowhere\n') }),
    args: [],
    stderr: 'modelgate: modelgate.yml: invalid YAML: Unresolved alias (the anchor must be set before the alias): nowhere',
  },
  {
    name: 'a manifest over the size limit: says the size and the limit',
    files: () => ({ 'modelgate.yml': bigManifest(2 * MIB) }),
    args: [],
    stderr: `modelgate: modelgate.yml: the manifest is 2.0 MiB; the limit is ${MAX_MANIFEST_BYTES / MIB} MiB`,
  },
  {
    name: 'a device as the manifest (reads without end): stops at the limit',
    files: () => ({}),
    args: ['--config', '/dev/zero'],
    stderr: `modelgate: /dev/zero: the manifest is larger than the limit of ${MAX_MANIFEST_BYTES / MIB} MiB`,
  },
  {
    name: 'a UTF-16 manifest (with its byte order mark)',
    files: () => ({ 'modelgate.yml': utf16le(manifest()) }),
    args: [],
    stderr: 'modelgate: modelgate.yml is UTF-16 (or binary); save it as UTF-8',
  },
  {
    name: 'a UTF-16 manifest without a byte order mark',
    files: () => ({ 'modelgate.yml': utf16beNoBom(manifest()) }),
    args: [],
    stderr: 'modelgate: modelgate.yml is UTF-16 (or binary); save it as UTF-8',
  },
  {
    name: 'a directory as the manifest',
    files: () => ({ 'config.yml': { dir: true } }),
    args: ['--config', 'config.yml'],
    stderr: 'modelgate: config.yml: cannot read the manifest (is a directory, not a file)',
  },

  // Encodings of data files.
  {
    name: 'a UTF-16 CSV (with its byte order mark)',
    files: () => ({ 'data.csv': utf16le(BC_TEXT) }),
    args: flags('data.csv'),
    stderr: 'modelgate: data.csv is UTF-16 (or binary); save it as UTF-8',
  },
  {
    name: 'a UTF-16 big-endian CSV without a byte order mark',
    files: () => ({ 'data.csv': utf16beNoBom(BC_TEXT) }),
    args: flags('data.csv'),
    stderr: 'modelgate: data.csv is UTF-16 (or binary); save it as UTF-8',
  },
  {
    name: 'a UTF-16 JSON Lines file (with its byte order mark)',
    files: () => ({ 'data.jsonl': utf16le(jsonlWithCell(0, '', '')) }),
    args: flags('data.jsonl'),
    stderr: 'modelgate: data.jsonl is UTF-16 (or binary); save it as UTF-8',
  },
  {
    name: 'a binary file (the ONNX model) named .csv',
    files: () => ({ 'data.csv': readFileSync(MODEL) }),
    args: flags('data.csv'),
    stderr: 'modelgate: data.csv is UTF-16 (or binary); save it as UTF-8',
  },

  // Records past the reader's bound.
  {
    name: 'a CSV record longer than the bound: names its line and the bound',
    files: () => ({ 'data.csv': `${BC_LINES[0]}\n${BC_LINES[1]}\n${longText(MAX_RECORD_BYTES + MIB)},1\n` }),
    args: flags('data.csv'),
    stderr: `modelgate: data.csv: line 3: the record starting on this line is longer than ${MAX_RECORD_BYTES / MIB} MiB, the most one record may take`,
  },
  {
    // A quote left open makes the rest of the file one record: the reader stops at the bound, not at the end
    // of a file of any size. (Below twice the bound the end comes first: "line 2: unterminated quoted field".)
    name: 'a CSV quote that is never closed in a large file: points at the quote',
    files: () => ({
      'data.csv': `${BC_LINES[0]}\n"${`${BC_LINES[1]}\n`.repeat(Math.ceil((2.5 * MAX_RECORD_BYTES) / BC_LINES[1].length))}`,
    }),
    args: flags('data.csv'),
    stderr: `modelgate: data.csv: line 2: the record starting on this line is longer than ${MAX_RECORD_BYTES / MIB} MiB, the most one record may take; the quote opened on line 2 is not closed within it (a missing closing quote?)`,
  },
  {
    name: 'a JSON Lines line longer than the bound: names its line and the bound',
    files: () => ({ 'data.jsonl': jsonlWithCell(2, 'mean_texture', `"${longText(MAX_RECORD_BYTES + MIB)}"`) }),
    args: flags('data.jsonl'),
    stderr: `modelgate: data.jsonl: line 2: the line is longer than ${MAX_RECORD_BYTES / MIB} MiB, the most one line may take`,
  },

  // Huge cells are never echoed whole.
  {
    name: 'a 10 MiB CSV cell in a numeric feature: an excerpt',
    files: () => ({ 'data.csv': csvWithCell(1, 'mean_texture', `"${longText(10 * MIB)}"`) }),
    args: flags('data.csv'),
    stderr: `modelgate: data.csv: column 'mean_texture', data row 1: text value ${EXCERPT_60} (${10 * MIB} characters) where the model expects float numbers`,
  },
  {
    name: 'a 10 MiB JSON Lines string in a numeric feature: an excerpt',
    files: () => ({ 'data.jsonl': jsonlWithCell(1, 'mean_texture', `"${longText(10 * MIB)}"`) }),
    args: flags('data.jsonl'),
    stderr: `modelgate: data.jsonl: column 'mean_texture', data row 1: text value ${EXCERPT_60} (${10 * MIB} characters) where the model expects float numbers`,
  },
  {
    name: 'a 50 MB Parquet string in a numeric feature: an excerpt',
    files: () => ({ 'data.parquet': parquetWithText('mean_texture', longText(50_000_000)) }),
    args: flags('data.parquet'),
    stderr: `modelgate: data.parquet: column 'mean_texture', data row 1: text value ${EXCERPT_60} (50000000 characters) where the model expects float numbers`,
  },
  {
    name: 'a cell with control characters: escaped, on one line',
    files: () => ({ 'data.csv': csvWithCell(2, 'mean_texture', '"\x1b[31mred\r\nline"') }),
    args: flags('data.csv'),
    stderr: `modelgate: data.csv: column 'mean_texture', data row 2: text value "\\u001b[31mred\\r\\nline" where the model expects float numbers`,
  },
  {
    name: 'a 1 MiB duplicated column name: an excerpt',
    files: () => ({ 'data.csv': `${longText(MIB)},${longText(MIB)}\n1,2\n` }),
    args: flags('data.csv'),
    stderr: `modelgate: data.csv: line 1: duplicate column name ${EXCERPT_60} (${MIB} characters) in the header`,
  },
  {
    name: 'a 1 MiB column name in a file without the features: an excerpt in the list of columns',
    files: () => ({ 'data.csv': `${longText(MIB)},target\n1,0\n` }),
    args: flags('data.csv'),
    stderr: `; the file has: ${EXCERPT_60} (${MIB} characters), target`,
  },

  // Numbers out of the range of a double.
  {
    name: '1e400 in a numeric CSV column',
    files: () => ({ 'data.csv': csvWithCell(5, 'mean_texture', '1e400') }),
    args: flags('data.csv'),
    stderr: "modelgate: data.csv: column 'mean_texture', data row 5: 1e400 is out of the range of a double (float64",
  },
  {
    name: '-1e400 in a numeric JSON Lines column',
    files: () => ({ 'data.jsonl': jsonlWithCell(5, 'mean_texture', '-1e400') }),
    args: flags('data.jsonl'),
    stderr: "modelgate: data.jsonl: line 5: column 'mean_texture': -1e400 is out of the range of a double (float64",
  },

  // Paths the file system refuses.
  {
    name: 'a directory as the data file',
    files: () => ({ 'data.csv': { dir: true } }),
    args: flags('data.csv'),
    stderr: 'modelgate: data.csv: is a directory, not a file',
  },
  {
    name: 'a named pipe (FIFO) as the data file',
    files: () => ({ 'data.csv': { fifo: true } }),
    args: flags('data.csv'),
    stderr: 'modelgate: data.csv: is a named pipe (FIFO), not a regular file',
  },
  {
    name: 'a data path through a file',
    files: () => ({ 'plain.csv': BC_TEXT }),
    args: flags('plain.csv/data.csv'),
    stderr: 'modelgate: plain.csv/data.csv: a part of the path is not a directory (ENOTDIR)',
  },
  {
    name: 'a symbolic link loop as the data file',
    files: () => ({ 'data.csv': { symlink: 'other.csv' }, 'other.csv': { symlink: 'data.csv' } }),
    args: flags('data.csv'),
    stderr: 'modelgate: data.csv: too many levels of symbolic links (ELOOP)',
  },
  {
    name: 'a symbolic link to a missing file as the data file',
    files: () => ({ 'data.csv': { symlink: 'gone.csv' } }),
    args: flags('data.csv'),
    stderr: 'modelgate: data.csv: a symbolic link to a missing file (gone.csv)',
  },
  {
    name: 'a data file without read permission',
    files: () => ({ 'data.csv': { text: BC_TEXT, mode: 0o000 } }),
    args: flags('data.csv'),
    stderr: 'modelgate: data.csv: permission denied (EACCES)',
    skip: isRoot ? 'root reads files whatever their mode' : undefined,
  },
]

function create(dir: string, files: Record<string, Entry>): void {
  for (const [name, entry] of Object.entries(files)) {
    const p = path.join(dir, name)
    if (typeof entry === 'string' || Buffer.isBuffer(entry)) writeFileSync(p, entry)
    else if ('fifo' in entry) execFileSync('mkfifo', [p])
    else if ('dir' in entry) mkdirSync(p)
    else if ('symlink' in entry) symlinkSync(entry.symlink, p)
    else {
      writeFileSync(p, entry.text)
      chmodSync(p, entry.mode)
    }
  }
}

/** The sha256 of a file's bytes; its size and time of change when it cannot be read (the permission case). */
function digest(p: string, size: number, mtime: number): string {
  try {
    return createHash('sha256').update(readFileSync(p)).digest('hex')
  } catch {
    return `unreadable, ${size} bytes, changed at ${mtime}`
  }
}

/** Every entry under `dir`: the sha256 of a file's bytes, a link's target, or its kind. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, name)
    const stat = lstatSync(p)
    if (stat.isSymbolicLink()) out[name] = `link ${readlinkSync(p)}`
    else if (stat.isFile()) out[name] = `file ${stat.mode.toString(8)} ${digest(p, stat.size, stat.mtimeMs)}`
    else out[name] = stat.isDirectory() ? 'dir' : stat.isFIFO() ? 'fifo' : 'other'
  }
  return out
}

describe('hostile and careless input files: exit 2, one line, inputs untouched, no report', () => {
  const runnable = ROWS.filter((r) => r.skip === undefined)
  for (const row of ROWS.filter((r) => r.skip !== undefined)) it.skip(`${row.name} (skipped: ${row.skip})`, () => {})

  it.each(runnable)('$name', async (row) => {
    // Some inputs are tens of MB: each case removes its directory.
    const dir = mkdtempSync(path.join(tmpdir(), 'mg-e2e-hostile-'))
    try {
      const inputs = path.join(dir, 'in')
      mkdirSync(inputs)
      create(inputs, row.files())
      const before = snapshot(inputs)
      const report = path.join(dir, 'report.json')
      const err: string[] = []
      const code = await runCli(outside(['validate', '--report', report, ...row.args]), {
        stdout: () => {},
        stderr: (t) => err.push(t),
        cwd: inputs,
      })
      const stderr = err.join('\n')
      const lines = stderr.split('\n')
      const error = lines.slice(lines.findIndex((l) => l.startsWith('modelgate: '))).join('\n')

      expect(stderr).not.toContain('    at ')
      expect(stderr).not.toContain('internal error')
      expect(error).toContain(row.stderr)
      expect(error).not.toContain('\n')
      // No message quotes a cell or a file whole.
      expect(stderr.length).toBeLessThan(4000)
      expect(code).toBe(2)
      expect(existsSync(report)).toBe(false)
      expect(snapshot(inputs)).toEqual(before)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
