/**
 * Known gaps of the bad-input corpus (issue 12, KNOWN_GAPS in __tests__/corpus/cases.ts), fixed in the
 * source and checked here against it (the corpus runs the bundle). Each row as the corpus states it:
 * exit 2, one `modelgate: …` line naming the file and the field, no stack trace, every file of the
 * workspace byte-identical and none added, no secret in what is printed.
 */
import { describe, expect, it } from '@jest/globals'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import { UserError } from '../../src/core/errors.js'
import { jsonErrorOffset, jsonErrorPlace, parseJsonFile } from '../../src/core/files.js'
import { loadBaselineReport } from '../../src/core/result/load.js'
import { parseEnvironmentState } from '../../src/core/serve/state.js'
import { parseJson as parseOciJson } from '../../src/core/registry/oci/spec.js'
import { LocalBackend } from '../../src/core/registry/backends/local.js'
import { BC_HEADER, BC_TEXT } from '../helpers/bc40.js'
import { snapshot } from '../helpers/snapshot.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const MODEL = path.join(ROOT, 'examples/breast-cancer/model.onnx')
const FEATURES = BC_HEADER.filter((h) => h !== 'target')
/** As the corpus's GITHUB_CANARY: a GitHub App token's shape. */
const TOKEN = 'ghs_corpusCANARY0123456789'

const MANIFEST = `name: corpus\nmodel: model.onnx\nfeatures: [${FEATURES.join(', ')}]\nlabel: target\ndata: data.csv\n`
const DEPLOY = `registry:
  uri: local:registry
deploy:
  timeout: 5
  environments:
    staging:
      canary: [10, 50]
`
const RECORD = '.modelgate/registry/corpus/versions/1.0.0/record.json'
const STAGES = '.modelgate/registry/corpus/stages.json'

/** The corpus's workspace: the example model, the 40-row slice and a manifest over them. */
function workspace(manifest = MANIFEST, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-gaps-'))
  copyFileSync(MODEL, path.join(dir, 'model.onnx'))
  writeFileSync(path.join(dir, 'data.csv'), BC_TEXT)
  writeFileSync(path.join(dir, 'modelgate.yml'), manifest)
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text)
  return dir
}

async function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(args, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), cwd })
  return { code, stdout: out.join('\n'), stderr: err.join('\n') }
}

async function ok(args: string[], cwd: string): Promise<string> {
  const r = await cli(args, cwd)
  expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: r.stderr })
  return r.stdout
}

/** What every corpus row holds: exit 2, one `modelgate: ` line that contains `message`, no stack, nothing changed. */
async function expectRefused(args: string[], cwd: string, message: string | RegExp): Promise<string> {
  const before = snapshot(cwd)
  const r = await cli(args, cwd)
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('modelgate: '))
  expect({ code: r.code, lines: lines.length }).toEqual({ code: 2, lines: 1 })
  const line = lines[0]!
  if (typeof message === 'string') expect(line).toContain(message)
  else expect(line).toMatch(message)
  expect(`${r.stdout}\n${r.stderr}`).not.toMatch(/^\s+at /m)
  expect(r.stdout).not.toContain('undefined')
  expect(snapshot(cwd)).toEqual(before)
  return line
}

const write = (dir: string, file: string, text: string) => writeFileSync(path.join(dir, file), text)

describe('bad-input corpus: known gaps, fixed in the source', () => {
  it('registry/record-not-a-record', async () => {
    const ws = workspace()
    await ok(['register', '--quiet'], ws)
    const good = readFileSync(path.join(ws, RECORD), 'utf8')
    const file = path.join(ws, RECORD)

    write(ws, RECORD, '{}')
    // Refused naming the file and its first bad field: by list (which crashed in renderVersionList), show and pull.
    const line = await expectRefused(['registry', 'list'], ws, `modelgate: ${file}: invalid version record: schemaVersion: missing`)
    expect(line).toBe(`modelgate: ${file}: invalid version record: schemaVersion: missing`)
    await expectRefused(['registry', 'show', '1.0.0'], ws, `${file}: invalid version record: schemaVersion: missing`)
    await expectRefused(['registry', 'pull', '1.0.0', '--out', 'out'], ws, `${file}: invalid version record: schemaVersion: missing`)

    // A field of the wrong type, deep inside; an array; a record moved to another version's folder.
    const record = JSON.parse(good) as Record<string, unknown> & { artifact: { files: { digest: unknown }[] } }
    record.artifact.files[0]!.digest = 7
    write(ws, RECORD, JSON.stringify(record))
    await expectRefused(
      ['registry', 'list'],
      ws,
      `${file}: invalid version record: artifact.files[0].digest: expected string, received number`,
    )
    write(ws, RECORD, '[]')
    await expectRefused(['registry', 'list'], ws, `${file}: invalid version record: (top level): expected object, received array`)
    write(ws, RECORD, JSON.stringify({ ...JSON.parse(good), version: '2.0.0' }))
    await expectRefused(['registry', 'list'], ws, `${file}: invalid version record: version: '2.0.0', but it is stored as corpus 1.0.0`)

    // The backend itself refuses, as a UserError naming the file.
    write(ws, RECORD, '{}')
    const backend = new LocalBackend(path.join(ws, '.modelgate/registry'))
    await expect(backend.list('corpus')).rejects.toThrow(UserError)
    await expect(backend.get('corpus', '1.0.0')).rejects.toMatchObject({ file, field: 'schemaVersion' })

    // The record as register wrote it passes the same check.
    write(ws, RECORD, good)
    expect(await ok(['registry', 'list'], ws)).toMatch(/^1\.0\.0\s+sha256:/m)
  })

  it('deploy/record-not-a-record', async () => {
    const ws = workspace(MANIFEST + DEPLOY)
    await ok(['register', '--quiet'], ws)
    const file = path.join(ws, 'registry/corpus/versions/1.0.0/record.json')
    writeFileSync(file, '{}')
    // Refused before anything is printed about the version ("corpus undefined (undefined) → staging") or fetched.
    await expectRefused(
      ['deploy', '--environment', 'staging', '--dry-run'],
      ws,
      `modelgate: ${file}: invalid version record: schemaVersion:`,
    )
    await expectRefused(
      ['deploy', '--environment', 'staging', '--dry-run', '--version', '1.0.0'],
      ws,
      `modelgate: ${file}: invalid version record: schemaVersion:`,
    )
    expect(existsSync(path.join(ws, '.modelgate'))).toBe(false)
  })

  it('registry/stages-not-an-object', async () => {
    const ws = workspace()
    await ok(['register', '--quiet'], ws)
    const file = path.join(ws, STAGES)
    write(ws, STAGES, '[]')
    // Was "internal error: e is not iterable" (stageState).
    const line = await expectRefused(['registry', 'list'], ws, `modelgate: ${file}: `)
    expect(line).toBe(`modelgate: ${file}: invalid stage history: (top level): expected object, received array`)
    write(ws, STAGES, '{}')
    await expectRefused(['registry', 'list'], ws, `${file}: invalid stage history: events: missing`)
    write(ws, STAGES, JSON.stringify({ events: [{ stage: 'staging', version: '1.0.0', action: 'promote', at: 'now' }] }))
    await expectRefused(['registry', 'show', 'staging'], ws, `${file}: invalid stage history: events[0].action: expected one of`)
    // A promotion reads the history under the lock: refused too, and the history is left as it was.
    const history = readFileSync(file)
    const r = await cli(['registry', 'promote', '1.0.0', 'staging'], ws)
    expect({ code: r.code, stderr: r.stderr }).toEqual({
      code: 2,
      stderr: expect.stringContaining(`${file}: invalid stage history: events[0].action:`),
    })
    expect(readFileSync(file)).toEqual(history)
  })

  it('secrets/evidence-file-holding-the-token', async () => {
    const ws = workspace(MANIFEST, { 'e.json': TOKEN })
    const file = path.join(ws, 'e.json')
    const line = await expectRefused(['register', '--evidence', 'e.json', '--quiet'], ws, `${file}: evidence is not valid JSON`)
    expect(line).toBe(`modelgate: ${file}: evidence is not valid JSON (line 1, column 1); give a modelgate report (--report)`)
    // V8 quoted the file's first 10 characters ("Unexpected token 'g', "ghs_corpus"... is not valid JSON"), past the mask.
    expect(line).not.toContain(TOKEN.slice(0, 4))

    // Every JSON.parse wrapper says where the JSON breaks, never what is there.
    const texts = [TOKEN, `{"token": ${TOKEN}}`, `[\n  "${TOKEN}",\n  ${TOKEN}\n]`, `{"a": "${TOKEN}`]
    const refusals = (text: string): string[] => {
      const messages: string[] = []
      const attempt = (fn: () => unknown) => {
        try {
          fn()
          messages.push('(accepted)')
        } catch (e) {
          expect(e).toBeInstanceOf(UserError)
          expect((e as UserError).cause).toBeUndefined()
          messages.push((e as Error).message)
        }
      }
      const base = path.join(ws, 'baseline.json')
      writeFileSync(base, text)
      attempt(() => loadBaselineReport(base))
      attempt(() => parseEnvironmentState(text, 'state.json'))
      attempt(() => parseOciJson(Buffer.from(text), 'ghcr.io/o/m:v1.0.0 record.json'))
      attempt(() => parseJsonFile(text, 'x.json', 'the file'))
      return messages
    }
    for (const text of texts) {
      for (const m of refusals(text)) {
        expect(m).toMatch(/not valid JSON \((line \d+, column \d+|it is empty)\)/)
        expect(m).not.toContain(TOKEN.slice(0, 4))
        expect(m).not.toContain('\n')
      }
    }
    expect(refusals(`[\n  "${TOKEN}",\n  ${TOKEN}\n]`)[0]).toBe(
      `${path.join(ws, 'baseline.json')}: the baseline report is not valid JSON (line 3, column 3)`,
    )
    // The data contract and the version record, through the CLI.
    const ws2 = workspace(`${MANIFEST.replace('data: data.csv\n', '')}data: [{path: data.csv, contract: contract.json}]\n`, {
      'contract.json': TOKEN,
    })
    const contract = await expectRefused(
      ['validate', '--quiet'],
      ws2,
      'contract.json: the data contract is not valid JSON (line 1, column 1)',
    )
    expect(contract).not.toContain(TOKEN.slice(0, 4))
    const ws3 = workspace()
    await ok(['register', '--quiet'], ws3)
    write(ws3, RECORD, TOKEN)
    const record = await expectRefused(
      ['registry', 'list'],
      ws3,
      `${path.join(ws3, RECORD)}: unreadable version record (not valid JSON at line 1, column 1)`,
    )
    expect(record).not.toContain(TOKEN.slice(0, 4))
  })

  it('registry/evidence-short-not-json', async () => {
    const ws = workspace(MANIFEST, { 'e.json': 'oops\n' })
    const file = path.join(ws, 'e.json')
    // Was two lines: V8 quoted "oops" with its line break.
    const r = await cli(['register', '--evidence', 'e.json', '--quiet'], ws)
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(`modelgate: ${file}: evidence is not valid JSON (line 1, column 1); give a modelgate report (--report)`)
    // Where it breaks, on a later line; and an empty file.
    write(ws, 'e.json', '{\n  "schemaVersion": "1.0",\n  "status": pass\n}\n')
    await expectRefused(['register', '--evidence', 'e.json', '--quiet'], ws, `${file}: evidence is not valid JSON (line 3, column 13);`)
    write(ws, 'e.json', '')
    await expectRefused(['register', '--evidence', 'e.json', '--quiet'], ws, `${file}: evidence is not valid JSON (it is empty);`)
  })

  it('registry/show-stage-nobody-holds', async () => {
    const ws = workspace()
    await ok(['register', '--quiet'], ws)
    const registry = path.join(ws, '.modelgate/registry')
    const line = await expectRefused(['registry', 'show', 'prod'], ws, `modelgate: ${registry}: no version of corpus holds stage prod`)
    expect(line).toBe(`modelgate: ${registry}: no version of corpus holds stage prod; no stage is held yet`)
    await expectRefused(
      ['registry', 'pull', 'prod', '--out', 'out'],
      ws,
      `${registry}: no version of corpus holds stage prod; no stage is held yet`,
    )

    await ok(['registry', 'promote', '1.0.0', 'staging'], ws)
    await expectRefused(['registry', 'show', 'prod'], ws, `${registry}: no version of corpus holds stage prod; held: staging (1.0.0)`)
    await expectRefused(
      ['registry', 'pull', 'prod', '--out', 'out'],
      ws,
      `${registry}: no version of corpus holds stage prod; held: staging (1.0.0)`,
    )
    expect(await ok(['registry', 'show', 'staging'], ws)).toContain('# corpus 1.0.0')
    expect(await ok(['registry', 'pull', 'staging', '--out', 'out'], ws)).toContain('corpus 1.0.0 (sha256:')
    expect(readFileSync(path.join(ws, 'out/model.onnx'))).toEqual(readFileSync(MODEL))

    // A version written wrong is still said to be one; a version nobody registered is still "has no version".
    await expectRefused(['registry', 'show', '1.0'], ws, "version: '1.0' is not a SemVer version (e.g. 1.4.0)")
    await expectRefused(['registry', 'show', 'v2'], ws, "version: 'v2' is not a SemVer version (e.g. 1.4.0)")
    await expectRefused(['registry', 'show', '2.0.0'], ws, `${registry}: corpus has no version 2.0.0`)

    // With declared stages, a name that is none of them says so.
    const declared = workspace(`${MANIFEST}registry:\n  stages: [staging, prod]\n`)
    await ok(['register', '--quiet'], declared)
    await expectRefused(
      ['registry', 'show', 'prdo'],
      declared,
      `${path.join(declared, '.modelgate/registry')}: no version of corpus holds stage prdo; no stage is held yet; the manifest declares staging, prod`,
    )
  })
})

describe('where JSON breaks, without quoting it', () => {
  it('agrees with JSON.parse on what is JSON, and with V8 where V8 gives a position', () => {
    const good = [
      '{}',
      '[]',
      ' 1 ',
      '-0.5e+3',
      '"a\\u00e9"',
      '{"a":[1,{"b":null}],"c":true}',
      '"\\/"',
      `${'['.repeat(50_000)}${']'.repeat(50_000)}`,
    ]
    for (const t of good) expect({ t: t.slice(0, 20), at: jsonErrorOffset(t) }).toEqual({ t: t.slice(0, 20), at: undefined })
    const bad = [
      '{"a":1,}',
      '{"a" 1}',
      '[1,2',
      '"a\u0001"',
      '01',
      '{,}',
      '1 2',
      '"abc',
      '"\\x"',
      '"\\u12g4"',
      '-',
      '1.',
      '1e',
      '{"a"',
      'truex',
      '[1}',
    ]
    for (const t of bad) {
      let position: string | undefined
      try {
        JSON.parse(t)
      } catch (e) {
        position = /at position (\d+)/.exec((e as Error).message)?.[1]
      }
      expect({ t, at: jsonErrorOffset(t) }).toEqual({ t, at: Number(position) })
    }
    // Where V8 gives no position (an unexpected token: it quotes the text instead).
    expect(jsonErrorPlace('{"a":tru}')).toBe('line 1, column 9')
    expect(jsonErrorPlace('{\n  "a": 1,\n  "b": x\n}')).toBe('line 3, column 8')
    expect(jsonErrorPlace('[1,]')).toBe('line 1, column 4')
    expect(jsonErrorPlace('["🙂", x]')).toBe('line 1, column 7')
  })
})
