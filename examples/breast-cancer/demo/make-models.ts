/**
 * Writes broken.onnx and unstable.onnx (see models.ts and README.md) into examples/breast-cancer/demo.
 * Run from the repository root; it is bundled with ncc as train.ts is (the repository has no
 * TypeScript runner):
 *   ncc build examples/breast-cancer/demo/make-models.ts -o node_modules/.cache/modelgate-demo-models -t -q \
 *     && node node_modules/.cache/modelgate-demo-models/index.js [exampleDir]
 * The output is byte-for-byte reproducible.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildDemoModels } from './models.js'

function main(): void {
  const dir = process.argv[2] ?? join('examples', 'breast-cancer')
  const out = buildDemoModels(readFileSync(join(dir, 'data', 'breast_cancer.csv'), 'utf8'))
  for (const [name, bytes] of Object.entries(out.files)) writeFileSync(join(dir, 'demo', name), bytes)
  console.log(`broken.onnx: test accuracy ${out.summary.brokenAccuracy.toFixed(4)} (float64)`)
  console.log(`unstable.onnx: test accuracy ${out.summary.unstableAccuracy.toFixed(4)} without its noise (float64)`)
  console.log(`wrote ${Object.keys(out.files).join(', ')} in ${join(dir, 'demo')}`)
}

main()
