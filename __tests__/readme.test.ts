import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Ajv } from 'ajv'
import { parse } from 'yaml'
import { parseManifest } from '../src/core/manifest/load.js'

// The README stays true: its examples are run or validated here.
const ROOT = path.resolve(import.meta.dirname, '..')
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
const blocks = (lang: string) => [...README.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1])

describe('README', () => {
  it('quick start: its two commands are package scripts', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    const quick = blocks('sh')[0]
    expect(quick).toContain('npm ci && npm run demo')
    expect(quick).toContain('npm test')
    expect(pkg.scripts.demo).toBe('node scripts/demo.mjs')
  })

  it('the Node version the README promises is the one engines declares and the one these tests run on', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
    expect(pkg.engines.node).toBe('>=20')
    expect(README).toContain('the CLI supports Node 20 and later')
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(20)
  })

  it('the workflow snippet is a valid workflow of under 15 lines using validate-model', () => {
    const [workflow] = blocks('yaml')
    expect(workflow.trimEnd().split('\n').length).toBeLessThan(15)
    const schema = JSON.parse(readFileSync(path.join(ROOT, '__tests__/fixtures/schemastore/github-workflow.schema.json'), 'utf8')) as object
    const validate = new Ajv({ strict: false }).compile(schema)
    expect(validate(parse(workflow))).toBe(true)
    expect(workflow).toMatch(/uses: [\w-]+\/modelgate\/actions\/validate-model@v1/)
    const config = /config: (\S+)/.exec(workflow)![1]
    expect(existsSync(path.join(ROOT, config))).toBe(true)
  })

  it('the manifest example is a valid manifest', () => {
    const manifest = blocks('yaml').find((b) => b.includes('name: breast-cancer-logreg'))!
    const m = parseManifest(manifest, 'README.md')
    expect(m.thresholds).toHaveLength(4)
  })

  it('the manifest fragments (comparison, slices, fairness) are valid manifest sections', () => {
    const fragments = blocks('yaml').filter((b) => /^(comparison|slices|fairness|registry|deploy):/m.test(b) && !/^name: /m.test(b))
    expect(fragments.length).toBeGreaterThanOrEqual(4)
    for (const f of fragments) parseManifest(`name: x\nmodel: m.onnx\nfeatures: [a]\nlabel: y\ndata: d.csv\n${f}`, 'README.md')
  })

  it('the CLI examples run, from a copy of the repository, and pass', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mg-readme-'))
    for (const p of ['dist', 'examples/breast-cancer', 'package.json']) cpSync(path.join(ROOT, p), path.join(dir, p), { recursive: true })
    const cli = blocks('sh').find((b) => b.includes('node dist/cli/index.js validate --config examples/breast-cancer'))!
    const out = execFileSync('bash', ['-euo', 'pipefail', '-c', cli], { cwd: dir, encoding: 'utf8' })
    expect(out.match(/^PASSED/gm)).toHaveLength(2)
    expect(JSON.parse(readFileSync(path.join(dir, 'out/report.json'), 'utf8')).status).toBe('pass')
    expect(readFileSync(path.join(dir, 'out/junit.xml'), 'utf8')).toContain('<testsuites')
    expect(readFileSync(path.join(dir, 'out/predictions.csv'), 'utf8').trim().split('\n')).toHaveLength(172)
  })

  it('"on your own model" runs as written on a model.onnx and a test.csv labelled y', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mg-readme-own-'))
    cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true })
    cpSync(path.join(ROOT, 'examples/breast-cancer/model.onnx'), path.join(dir, 'model.onnx'))
    const csv = readFileSync(path.join(ROOT, 'examples/breast-cancer/data/test.csv'), 'utf8')
    writeFileSync(path.join(dir, 'test.csv'), csv.replace(/,target\n/, ',y\n'))
    const own = blocks('sh').find((b) => b.includes('node dist/cli/index.js init'))!
    expect(own.trim().split('\n').length).toBeLessThanOrEqual(5)
    const out = execFileSync('bash', ['-euo', 'pipefail', '-c', own], { cwd: dir, encoding: 'utf8' })
    expect(out).toMatch(/^wrote modelgate.yml: binary, 30 features/m)
    expect(out.match(/^PASSED/gm)).toHaveLength(2)
    expect(parseManifest(readFileSync(path.join(dir, 'modelgate.yml'), 'utf8'), 'modelgate.yml').features).toHaveLength(30)
    expect(existsSync(path.join(dir, 'out/predictions.csv'))).toBe(true)
  })

  it('every workflow snippet is a valid workflow', () => {
    const schema = JSON.parse(readFileSync(path.join(ROOT, '__tests__/fixtures/schemastore/github-workflow.schema.json'), 'utf8')) as object
    const validate = new Ajv({ strict: false }).compile(schema)
    const workflows = blocks('yaml').filter((b) => /^on:/m.test(b))
    expect(workflows.length).toBeGreaterThanOrEqual(2)
    for (const w of workflows) expect([validate(parse(w)), validate.errors]).toEqual([true, null])
  })

  it('the register and registry examples run, from a copy of the repository', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mg-readme-reg-'))
    for (const p of ['dist', 'examples/breast-cancer', 'package.json']) cpSync(path.join(ROOT, p), path.join(dir, p), { recursive: true })
    const cli = blocks('sh').find((b) => b.includes('node dist/cli/index.js register'))!
    const out = execFileSync('bash', ['-euo', 'pipefail', '-c', cli], { cwd: dir, encoding: 'utf8' })
    expect(out).toContain('registered breast-cancer-logreg 1.0.0 (initial: first version)')
    expect(out).toMatch(/^1\.0\.0\s+sha256:7d4d294826ca\s+\S+ \S+\s+staging\s+validate-model:pass,golden-requests:stored$/m)
    expect(out).toContain('# breast-cancer-logreg 1.0.0')
  })
})
