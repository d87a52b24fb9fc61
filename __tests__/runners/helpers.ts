import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Cell } from '../../src/core/data/types.js'
import type { FeatureBatch } from '../../src/core/runners/types.js'

export const FIXTURES = fileURLToPath(new URL('../fixtures/runners/', import.meta.url))
export const REPO = fileURLToPath(new URL('../../', import.meta.url))

/** A FeatureBatch from rows, as the evaluation loop would build it. */
export function featureBatch(features: string[], rows: Cell[][], offset = 0): FeatureBatch {
  return { offset, length: rows.length, features, columns: features.map((_, j) => rows.map((r) => r[j] ?? null)) }
}

/** The numeric CSV fixture: header and rows, without the target column. */
export function breastCancerRows(): { features: string[]; rows: number[][]; targets: number[] } {
  const [header, ...lines] = readFileSync(`${FIXTURES}breast_cancer_head.csv`, 'utf8').trim().split('\n')
  const names = header!.split(',')
  const data = lines.map((l) => l.split(',').map(Number))
  return { features: names.slice(0, -1), rows: data.map((r) => r.slice(0, -1)), targets: data.map((r) => r.at(-1)!) }
}
