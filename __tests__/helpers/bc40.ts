import { readFileSync } from 'node:fs'
import path from 'node:path'

/** The 40-row breast-cancer slice the bad-input tests mutate (__tests__/fixtures/e2e/bc40.csv). */
export const BC40 = path.resolve(import.meta.dirname, '../fixtures/e2e/bc40.csv')
export const BC_TEXT = readFileSync(BC40, 'utf8')
export const BC_LINES = BC_TEXT.trimEnd().split('\n')
export const BC_HEADER = BC_LINES[0].split(',')

/** The slice with data row `row` (from 1) of `column` replaced by `value`, written as is. */
export function csvWithCell(row: number, column: string, value: string): string {
  return (
    BC_LINES.map((l, i) =>
      i === row
        ? l
            .split(',')
            .map((v, j) => (BC_HEADER[j] === column ? value : v))
            .join(',')
        : l,
    ).join('\n') + '\n'
  )
}
