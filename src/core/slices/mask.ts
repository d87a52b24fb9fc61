import type { Cell } from '../data/types.js'
import { UserError } from '../errors.js'
import type { SliceDefinition } from './schema.js'
import { compileWhere, WhereError, whereSyntax } from './where.js'

/** A value as a slice definition writes it: strings quoted, numbers and booleans bare. */
export function formatValue(v: Cell): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v)
}

/** The rule in words, as the report shows it: `mean_area >= 1000`, `sex == "F"`, `age in [18, 30)`. */
export function describeSlice(def: SliceDefinition): string {
  if (def.where !== undefined) return def.where.trim()
  const column = def.column as string
  if (def.equals !== undefined) return `${column} == ${formatValue(def.equals)}`
  if (def.in !== undefined) return `${column} in (${def.in.map(formatValue).join(', ')})`
  const [low, high] = def.range as [number | null, number | null]
  if (low === null) return `${column} < ${high}`
  if (high === null) return `${column} >= ${low}`
  return `${column} in [${low}, ${high})`
}

/**
 * Equal as read, or a number and its text: a CSV may read a code column as numbers where the manifest
 * wrote strings, or the other way round.
 */
function sameValue(cell: Cell, value: Cell): boolean {
  return cell === value || (cell !== null && typeof cell !== typeof value && String(cell) === String(value))
}

/**
 * 1 for each of the `n` rows in the slice. Missing values never match. `at` is the definition's index in
 * `slices.define`, for error messages.
 */
export function sliceMask(def: SliceDefinition, columns: Record<string, Cell[]>, n: number, dataset: string, at: number): Uint8Array {
  const mask = new Uint8Array(n)
  const field = `slices.define[${at}]`
  function fail(what: string, key: string): never {
    throw new UserError(`data set "${dataset}": slice "${def.name}": ${what}`, { field: `${field}.${key}` })
  }
  const kept = (def.where !== undefined ? whereSyntax(def.where).columns : [def.column as string]).find((c) => columns[c] === undefined)
  if (kept !== undefined) fail(`column "${kept}" was not kept for slices`, def.where !== undefined ? 'where' : 'column')
  if (def.where !== undefined) {
    const matches = compileWhere(def.where, columns)
    try {
      for (let i = 0; i < n; i++) mask[i] = matches(i) ? 1 : 0
    } catch (e) {
      if (!(e instanceof WhereError)) throw e
      fail(`"${def.where}" cannot be evaluated on data row ${e.row + 1}: ${e.reason}`, 'where')
    }
    return mask
  }
  const column = def.column as string
  const cells = columns[column]
  if (def.range !== undefined) {
    const [low, high] = def.range
    for (let i = 0; i < n; i++) {
      const v = cells[i]
      if (v === null) continue
      if (typeof v !== 'number') fail(`column "${column}" holds ${formatValue(v)} on data row ${i + 1}; a range needs numbers`, 'range')
      mask[i] = (low === null || v >= low) && (high === null || v < high) ? 1 : 0
    }
    return mask
  }
  const values: Cell[] = def.equals !== undefined ? [def.equals] : (def.in as Cell[])
  for (let i = 0; i < n; i++) {
    const v = cells[i]
    mask[i] = v !== null && values.some((x) => sameValue(v, x)) ? 1 : 0
  }
  return mask
}
