import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse } from 'csv-parse/sync'
import type { Cell } from '../../src/core/data/types.js'
import type { FeatureBatch } from '../../src/core/runners/types.js'

export const MODELS_DIR = fileURLToPath(new URL('../fixtures/models/', import.meta.url))
export const EXAMPLE_DIR = fileURLToPath(new URL('../../examples/breast-cancer/', import.meta.url))

export const fixture = (name: string) => MODELS_DIR + name

/** Row-major rows → a FeatureBatch. */
export function batchOf(features: string[], rows: Cell[][], offset = 0): FeatureBatch {
  return { offset, length: rows.length, features, columns: features.map((_, j) => rows.map((r) => r[j] ?? null)) }
}

export const sigmoid = (z: number) => 1 / (1 + Math.exp(-z))

export function readCsv(path: string): { header: string[]; rows: number[][] } {
  const records = parse(readFileSync(path, 'utf8')) as string[][]
  const [header, ...rows] = records
  return { header: header ?? [], rows: rows.map((r) => r.map(Number)) }
}
