/**
 * Trains the diabetes example's model and baseline and writes the split data, both ONNX files and
 * the reference predictions. Run from the repository root, bundled with ncc (the repository has no
 * TypeScript runner):
 *   ncc build examples/diabetes/train.ts -o node_modules/.cache/modelgate-example-diabetes -t -q
 *   node node_modules/.cache/modelgate-example-diabetes/index.js [exampleDir]   (default examples/diabetes)
 * The output is byte-for-byte reproducible.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildExample, type RegressionMetrics } from './pipeline.js'

const show = (m: RegressionMetrics) => `r2 ${m.r2.toFixed(4)}, rmse ${m.rmse.toFixed(3)}, mae ${m.mae.toFixed(3)}`

function main(): void {
  const dir = process.argv[2] ?? join('examples', 'diabetes')
  const out = buildExample(readFileSync(join(dir, 'data', 'diabetes.csv'), 'utf8'))
  for (const [name, content] of Object.entries(out.files)) writeFileSync(join(dir, name), content)
  const s = out.summary
  console.log(`train ${s.train} rows, test ${s.test} rows`)
  console.log(`model (test, float64): ${show(s.model)}`)
  console.log(`baseline (test, float64): ${show(s.baseline)}`)
  console.log(`wrote ${Object.keys(out.files).join(', ')} in ${dir}`)
}

main()
