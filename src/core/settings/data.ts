/*
 * The evaluation data sets and the reference predictions: a `data` option (one file) or the manifest's
 * `data:` list, each named, with paths made absolute.
 */
import path from 'node:path'
import { UserError } from '../errors.js'
import type { Manifest } from '../manifest/schema.js'
import type { ResolvedData, Settings } from './types.js'

/** A data set's or a model's default name: its file name without the extension. */
export function nameOf(p: string): string {
  return path.basename(p).replace(/\.[^.]+$/, '')
}

/** `given`: the data option, resolved from the workspace; else the manifest's list, from its folder. Undefined: neither. */
export function resolveData(given: string | undefined, manifest: Manifest | undefined, cwd: string, baseDir: string, file?: string) {
  let data: ResolvedData[]
  if (given) {
    const p = path.resolve(cwd, given)
    data = [{ name: nameOf(p), path: p }]
  } else if (manifest) {
    const entries = typeof manifest.data === 'string' ? [manifest.data] : manifest.data
    data = entries.map((d) => {
      const spec = typeof d === 'string' ? { path: d } : d
      const p = path.resolve(baseDir, spec.path)
      return {
        name: 'name' in spec && spec.name ? spec.name : nameOf(p),
        path: p,
        format: 'format' in spec ? spec.format : undefined,
        contract: 'contract' in spec && spec.contract ? path.resolve(baseDir, spec.contract) : undefined,
      }
    })
  } else {
    return undefined
  }
  const names = new Set<string>()
  for (const d of data) {
    if (names.has(d.name))
      throw new UserError(`${file}: data: two data sets are named "${d.name}"; give each a distinct name`, { file, field: 'data' })
    names.add(d.name)
  }
  return data
}

/** The reference predictions a run must reproduce (option, else the manifest's key), with their tolerance. */
export function resolveReferencePredictions(
  given: string | undefined,
  manifest: Manifest | undefined,
  cwd: string,
  baseDir: string,
): Settings['referencePredictions'] {
  if (given) return { path: path.resolve(cwd, given), tolerance: 1e-5, maxMismatches: 0 }
  const r = manifest?.['reference-predictions']
  if (r === undefined) return undefined
  return typeof r === 'string'
    ? { path: path.resolve(baseDir, r), tolerance: 1e-5, maxMismatches: 0 }
    : { path: path.resolve(baseDir, r.path), tolerance: r.tolerance, maxMismatches: r['max-mismatches'] }
}
