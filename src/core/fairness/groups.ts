import type { Cell } from '../data/types.js'

export type GroupValue = number | string

/** The groups of a sensitive column: its distinct values, and each row's group. */
export interface Grouping {
  /** Numbers ascending, then strings by code unit: the order pandas' groupby gives fairlearn's by_group. */
  values: GroupValue[]
  /** Group index per row; -1 where the value is missing. */
  codes: Int32Array
  /** Rows per group. */
  rows: number[]
  /** Rows with no value: they belong to no group, as pandas' groupby drops missing keys. */
  missing: number
}

/**
 * Booleans become "true"/"false": a group is reported as a number or a string. `1` and `"1"` stay distinct
 * groups, as they are distinct values in the data.
 */
function groupValue(cell: Exclude<Cell, null>): GroupValue {
  return typeof cell === 'boolean' ? String(cell) : cell
}

function compareValues(a: GroupValue, b: GroupValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  if (typeof a === 'number') return -1
  if (typeof b === 'number') return 1
  return a < b ? -1 : a > b ? 1 : 0
}

export function groupColumn(cells: readonly Cell[]): Grouping {
  const firstCode = new Map<GroupValue, number>()
  const firstCodes = new Int32Array(cells.length)
  let missing = 0
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i]
    if (cell === null || (typeof cell === 'number' && Number.isNaN(cell))) {
      firstCodes[i] = -1
      missing++
      continue
    }
    const v = groupValue(cell)
    let code = firstCode.get(v)
    if (code === undefined) {
      code = firstCode.size
      firstCode.set(v, code)
    }
    firstCodes[i] = code
  }
  const seen = [...firstCode.keys()]
  const values = [...seen].sort(compareValues)
  const position = new Int32Array(seen.length)
  values.forEach((v, k) => (position[firstCode.get(v)!] = k))
  const codes = new Int32Array(cells.length)
  const rows = new Array<number>(values.length).fill(0)
  for (let i = 0; i < cells.length; i++) {
    const c = firstCodes[i] < 0 ? -1 : position[firstCodes[i]]
    codes[i] = c
    if (c >= 0) rows[c]++
  }
  return { values, codes, rows, missing }
}
