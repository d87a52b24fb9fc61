import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** A JSON fixture from __tests__/fixtures/stats (made by scripts/fixtures/stats_*.py; see their headers). */
export function statsFixture<T>(name: string): T {
  return JSON.parse(readFileSync(fileURLToPath(new URL(`../fixtures/stats/${name}`, import.meta.url)), 'utf8')) as T
}

/** |actual − expected| ≤ rel·|expected| (or ≤ rel near 0), with a message naming the case. */
export function expectClose(actual: number, expected: number, rel: number, what: string): void {
  const tolerance = rel * Math.max(Math.abs(expected), Number.MIN_VALUE)
  if (!(Math.abs(actual - expected) <= tolerance) && !(actual === expected)) {
    throw new Error(`${what}: got ${actual}, expected ${expected} (relative tolerance ${rel})`)
  }
}
