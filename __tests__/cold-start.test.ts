/*
 * What keeps a run's start short, checked without timing anything:
 *   - the CLI's path through the shared bundle never imports @actions/* (nor undici under them): the
 *     actions import the GitHub adapters when they run, so that ncc puts them in a chunk of their own;
 *   - each entry stub turns V8's code cache on (Node >= 22.1) before it loads the bundle;
 *   - the ONNX runtime starts with one thread and lazy WebAssembly validation, and still scores as before.
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { createOnnxRunner } from '../src/core/runners/onnx.js'
import type { ModelRunner } from '../src/core/runners/types.js'
import { batchOf, EXAMPLE_DIR, readCsv } from './onnx/helpers.js'

const ROOT = path.resolve(import.meta.dirname, '..')
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8')

/** The import lines of a source file that load a module at run time (not `import type`). */
function runtimeImports(source: string): string[] {
  return source.split('\n').filter((l) => /^import\s/.test(l) && !/^import type\s/.test(l))
}

/** Every .ts file under a folder of src/, relative to the repository. */
function sources(dir: string): string[] {
  return (readdirSync(path.join(ROOT, dir), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => path.join(dir, f))
}

describe('the bundle’s layout', () => {
  it('imports the GitHub adapters (and @actions/*, undici) only when an action runs', () => {
    const github = read('src/actions/github.ts')
    expect(runtimeImports(github).some((l) => /adapters\/github\/(io|context|comment|deployments|index)\.js|@actions\//.test(l))).toBe(
      false,
    )
    expect(github).toContain("await import('../adapters/github/index.js')")
  })

  it('has no other way from the CLI or the core to @actions/*', () => {
    // The adapters are the only modules that import @actions/* (the artifact one with import(), when uploading).
    for (const file of [...sources('src/cli'), ...sources('src/core'), ...sources('src/actions'), 'src/bundle.ts']) {
      const imports = runtimeImports(read(file))
      expect({
        file,
        github: imports.filter((l) => /@actions\/|adapters\/github\//.test(l) && !/adapters\/github\/artifact\.js/.test(l)),
      }).toEqual({
        file,
        github: [],
      })
    }
  })

  it('turns the code cache on in every entry stub, before the bundle loads', () => {
    const build = read('scripts/build.mjs')
    expect(build).toContain(
      "`import module from 'node:module'\\nmodule.enableCompileCache?.()\\nconst { ${name} } = await import('../lib/index.js')",
    )
    for (const name of ['runValidateModel', 'runTestRobustness', 'runRegisterVersion', 'runDeployModel', 'runPipeline', 'runModelgateCli'])
      expect(build).toContain(`entry('${name}')`)
  })
})

describe('the ONNX runtime’s start', () => {
  const opened: ModelRunner[] = []
  afterAll(async () => {
    for (const r of opened) await r.close()
  })

  it('scores the example with lazy WebAssembly validation as it always did', async () => {
    const runner = await createOnnxRunner({ path: path.join(EXAMPLE_DIR, 'model.onnx') })
    opened.push(runner)
    const data = readCsv(path.join(EXAMPLE_DIR, 'data/test.csv'))
    const features = data.header.filter((h) => h !== 'target')
    const rows = data.rows.slice(0, 5).map((r) => features.map((f) => r[data.header.indexOf(f)] ?? null))
    const out = await runner.predict(batchOf(features, rows))
    expect(out.length).toBe(5)
    expect(out.classes).toEqual([0, 1])
    for (const p of out.probabilities ?? []) expect(p).toBeGreaterThanOrEqual(0)
  })
})
