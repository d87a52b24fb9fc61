/**
 * Trains the example's model and baseline and writes the split data, both ONNX files and the
 * reference predictions. Run from the repository root: `npm run example:train`, which bundles
 * this file with ncc (the repository has no TypeScript runner) and runs it as
 *   node <bundle> [exampleDir]          (exampleDir defaults to examples/breast-cancer)
 * The output is byte-for-byte reproducible.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildExample } from './pipeline.js'

function main(): void {
  const dir = process.argv[2] ?? join('examples', 'breast-cancer')
  const out = buildExample(readFileSync(join(dir, 'data', 'breast_cancer.csv'), 'utf8'))
  for (const [name, content] of Object.entries(out.files)) writeFileSync(join(dir, name), content)
  const s = out.summary
  console.log(`train ${s.train} rows, test ${s.test} rows`)
  console.log(`model: Newton converged in ${s.modelIterations} iterations, test accuracy ${s.modelAccuracy.toFixed(4)} (float64)`)
  console.log(`baseline: Newton converged in ${s.baselineIterations} iterations, test accuracy ${s.baselineAccuracy.toFixed(4)} (float64)`)
  console.log(`wrote ${Object.keys(out.files).join(', ')} in ${dir}`)
}

main()
