/**
 * Issue 12, "Reading outside the workspace": every path from the manifest, the inputs or the flags
 * resolves (after symlinks and `..`) inside the workspace (the repository in the action; the working
 * directory and the manifest's folder tree in the CLI), or the run is refused before anything is read
 * or written, unless the workflow or the command line opts out. The manifest cannot opt out.
 * Both faces run from source: the CLI through runCli, validate-model through its run() with an in-memory ActionIO.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import { runValidateAction } from '../../src/actions/validate-model/main.js'
import type { ActionIO } from '../../src/ports/io.js'
import { BC40, BC_HEADER } from '../helpers/bc40.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const MODEL = path.join(ROOT, 'examples/breast-cancer/model.onnx')
const FEATURES = BC_HEADER.filter((h) => h !== 'target').join(',')
// In the environment of the process, as INPUT_GITHUB-TOKEN is on a runner: /proc/self/environ holds it.
const CANARY = 'ghs_confinementCANARY0123456789'

beforeAll(() => void (process.env.MODELGATE_TEST_CANARY = CANARY))
afterAll(() => void delete process.env.MODELGATE_TEST_CANARY)

/** A workspace with the model and the data, and a folder beside it (outside) holding another copy of the data. */
function layout() {
  const top = mkdtempSync(path.join(tmpdir(), 'mg-confine-'))
  const ws = path.join(top, 'ws')
  const outside = path.join(top, 'outside')
  mkdirSync(ws)
  mkdirSync(outside)
  copyFileSync(MODEL, path.join(ws, 'model.onnx'))
  copyFileSync(BC40, path.join(ws, 'test.csv'))
  copyFileSync(BC40, path.join(outside, 'test.csv'))
  return { top, ws, outside }
}

async function cli(args: string[], cwd: string) {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(args, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), cwd })
  return { code, stdout: out.join('\n'), stderr: err.join('\n'), all: [...out, ...err].join('\n') }
}

const flags = (data: string) => ['--model', 'model.onnx', '--data', data, '--label', 'target', '--features', FEATURES]

const manifest = (data: string, extra = '') => `name: c\nmodel: model.onnx\nfeatures: [${FEATURES}]\nlabel: target\ndata: ${data}\n${extra}`

/** Refused: exit 2, the one message, no stack, the canary nowhere, no report, nothing new in the workspace. */
function expectOutside(r: Awaited<ReturnType<typeof cli>>, ws: string, before: string[], message: RegExp): void {
  expect(r.stderr).toMatch(message)
  expect(r.stderr).toMatch(/is outside the workspace \(.*\); modelgate reads and writes only inside it/)
  expect(r.stderr).not.toMatch(/^\s+at /m)
  expect(r.all).not.toContain(CANARY)
  expect(r.code).toBe(2)
  expect(readdirSync(ws).sort()).toEqual(before)
}

describe('the CLI reads only inside the working directory and the manifest’s folder', () => {
  it('refuses data: /proc/self/environ in a manifest, and prints none of the environment', async () => {
    const { ws } = layout()
    writeFileSync(path.join(ws, 'modelgate.yml'), manifest('/proc/self/environ'))
    const before = readdirSync(ws).sort()
    const r = await cli(['validate', '--report', 'report.json', '--summary', 'summary.md'], ws)
    expectOutside(
      r,
      ws,
      before,
      /^modelgate: modelgate\.yml: data: \/proc\/self\/environ \(which resolves to \/proc\/\d+\/environ\) is outside the workspace/m,
    )
    expect(r.stderr).toContain('opt out with --allow-outside-workspace')
  })

  it('refuses a symlink inside the workspace that points outside, and says where it leads', async () => {
    const { ws, outside } = layout()
    symlinkSync(path.join(outside, 'test.csv'), path.join(ws, 'linked.csv'))
    const before = readdirSync(ws).sort()
    const r = await cli(['validate', ...flags('linked.csv'), '--report', 'report.json'], ws)
    expectOutside(r, ws, before, /^modelgate: --data: .*linked\.csv \(which resolves to .*outside\/test\.csv\) is outside the workspace/m)
  })

  it('refuses ../ out of the workspace, in a flag and in the manifest (model, contract, baseline, reference predictions)', async () => {
    const { ws } = layout()
    const before = readdirSync(ws).sort()
    expectOutside(
      await cli(['validate', ...flags('../outside/test.csv')], ws),
      ws,
      before,
      /^modelgate: --data: .*outside\/test\.csv is outside/m,
    )
    const cases: [string, RegExp][] = [
      [manifest('../outside/test.csv'), /modelgate\.yml: data: /],
      [manifest('[{path: test.csv, contract: ../outside/test.csv}]'), /modelgate\.yml: data\.contract: /],
      [manifest('test.csv', 'baseline: ../outside/model.onnx\n'), /modelgate\.yml: baseline: /],
      [manifest('test.csv', 'reference-predictions: ../outside/test.csv\n'), /modelgate\.yml: reference-predictions: /],
      [manifest('test.csv').replace('model: model.onnx', 'model: ../outside/model.onnx'), /modelgate\.yml: model: /],
    ]
    for (const [text, message] of cases) {
      writeFileSync(path.join(ws, 'modelgate.yml'), text)
      const r = await cli(['validate'], ws)
      expectOutside(r, ws, [...before, 'modelgate.yml'].sort(), message)
    }
  })

  it('refuses outputs outside, before creating their folder', async () => {
    const { ws, top } = layout()
    const before = readdirSync(ws).sort()
    for (const flag of ['--report', '--junit', '--summary', '--predictions']) {
      const r = await cli(['validate', ...flags('test.csv'), flag, '../made/out.file'], ws)
      expectOutside(r, ws, before, new RegExp(`^modelgate: ${flag}: .*made/out\\.file is outside the workspace`, 'm'))
      expect(existsSync(path.join(top, 'made'))).toBe(false)
    }
  })

  it('takes the manifest’s folder tree as part of the workspace, so --config elsewhere works', async () => {
    const { ws, outside } = layout()
    copyFileSync(MODEL, path.join(outside, 'model.onnx'))
    writeFileSync(path.join(outside, 'modelgate.yml'), manifest('test.csv'))
    const r = await cli(['validate', '--config', '../outside/modelgate.yml', '--report', 'report.json', '--quiet'], ws)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(existsSync(path.join(ws, 'report.json'))).toBe(true)
  })

  it('reads outside with --allow-outside-workspace, and the manifest cannot say so itself', async () => {
    const { ws } = layout()
    const ok = await cli(['validate', ...flags('../outside/test.csv'), '--allow-outside-workspace', '--quiet'], ws)
    expect([ok.code, ok.stderr]).toEqual([0, ''])
    writeFileSync(path.join(ws, 'modelgate.yml'), manifest('../outside/test.csv', 'allow-outside-workspace: true\n'))
    const r = await cli(['validate'], ws)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/modelgate\.yml: invalid manifest: allow-outside-workspace \(line 6, unknown key/)
  })

  it('confines register: the registry folder and the evidence', async () => {
    const { ws } = layout()
    const before = readdirSync(ws).sort()
    const base = ['register', '--name', 'c', '--model', 'model.onnx']
    expectOutside(await cli([...base, '--registry', 'local:../reg'], ws), ws, before, /^modelgate: --registry: .*reg is outside/m)
    expectOutside(
      await cli([...base, '--evidence', '../outside/test.csv'], ws),
      ws,
      before,
      /^modelgate: --evidence: .*outside\/test\.csv is outside/m,
    )
  })
})

function memoryIO(inputs: Record<string, string>) {
  const said: string[] = []
  const io: ActionIO = {
    getInput: (name) => inputs[name] ?? '',
    setOutput: (name, value) => void said.push(`output ${name}=${value}`),
    appendSummary: async (markdown) => void said.push(markdown),
    annotate: (level, message) => void said.push(`${level}: ${message}`),
    setSecret: () => {},
    info: (message) => void said.push(message),
    warning: (message) => void said.push(`warning: ${message}`),
    setFailed: (message) => void said.push(`failed: ${message}`),
  }
  return { io, said }
}

describe('validate-model reads only inside the repository', () => {
  async function action(inputs: Record<string, string>, ws: string) {
    const m = memoryIO({ comment: 'false', 'report-path': 'report.json', ...inputs })
    const code = await runValidateAction({ io: m.io, workspace: ws, context: { tool: 'modelgate', version: 'test' } })
    return { code, text: m.said.join('\n') }
  }

  it('refuses data: /proc/self/environ and a config outside; takes input allow-outside-workspace: true', async () => {
    const { ws, outside } = layout()
    writeFileSync(path.join(ws, 'modelgate.yml'), manifest('/proc/self/environ'))
    const environ = await action({}, ws)
    expect(environ.code).toBe(2)
    expect(environ.text).toMatch(
      /failed: modelgate\.yml: data: \/proc\/self\/environ \(which resolves to \/proc\/\d+\/environ\) is outside the workspace/,
    )
    expect(environ.text).toContain('opt out with input allow-outside-workspace: true')
    expect(environ.text).not.toContain(CANARY)
    expect(existsSync(path.join(ws, 'report.json'))).toBe(false)

    copyFileSync(MODEL, path.join(outside, 'model.onnx'))
    writeFileSync(path.join(outside, 'modelgate.yml'), manifest('test.csv'))
    const config = await action({ config: '../outside/modelgate.yml' }, ws)
    expect(config.code).toBe(2)
    expect(config.text).toMatch(/failed: input config: .*outside\/modelgate\.yml is outside the workspace/)

    const allowed = await action({ config: '../outside/modelgate.yml', 'allow-outside-workspace': 'true' }, ws)
    expect(allowed.code).toBe(0)
    const bad = await action({ 'allow-outside-workspace': 'yes please' }, ws)
    expect(bad.code).toBe(2)
    expect(bad.text).toMatch(/input allow-outside-workspace/)
  })
})
