import { afterAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { MAX_MANIFEST_ALIASES, MAX_MANIFEST_BYTES, parseManifest, loadManifest } from '../../src/core/manifest/load.js'
import { resolveSettings } from '../../src/core/settings/index.js'
import { UserError } from '../../src/core/errors.js'

const GOOD = `
name: cancer
model: model.onnx
features: [a, b]
label: target
data: data/test.csv
thresholds:
  - accuracy >= 0.9
  - metric: log_loss
    op: "<="
    value: 0.3
    severity: warn
  - roc_auc >= baseline - 0.01
baseline: old.onnx
`

function errorOf(fn: () => unknown): UserError {
  try {
    fn()
  } catch (e) {
    if (e instanceof UserError) return e
    throw e
  }
  throw new Error('expected a UserError')
}

describe('manifest', () => {
  it('parses a good manifest with defaults applied', () => {
    const m = parseManifest(GOOD, 'modelgate.yml')
    expect(m.name).toBe('cancer')
    expect(m['fail-on']).toBe('fail')
    expect(m['batch-size']).toBe(1024)
    expect(m.thresholds).toHaveLength(3)
  })

  it('names the file, the path, the line and what was expected', () => {
    const e = errorOf(() => parseManifest(GOOD.replace('label: target', 'label: 7'), 'cfg/modelgate.yml'))
    expect(e.message).toBe('cfg/modelgate.yml: invalid manifest: label (line 5, expected string, received number)')
    expect(e.file).toBe('cfg/modelgate.yml')
    expect(e.field).toBe('label')
  })

  it('reports a bad gate line with its index and the syntax', () => {
    const e = errorOf(() => parseManifest(GOOD.replace('accuracy >= 0.9', 'accuracy >> 0.9'), 'modelgate.yml'))
    expect(e.message).toContain('modelgate.yml: invalid manifest: thresholds[0] (line 8, cannot read gate "accuracy >> 0.9"')
    expect(e.field).toBe('thresholds[0]')
  })

  it('picks the branch of a union that matches what the user wrote', () => {
    const e = errorOf(() => parseManifest(GOOD.replace('model: model.onnx', 'model:\n  path: m.onnx\n  runer: onnx'), 'modelgate.yml'))
    expect(e.message).toBe('modelgate.yml: invalid manifest: model.runer (line 5, unknown key(s): runer)')
    const e2 = errorOf(() => parseManifest(GOOD.replace('model: model.onnx', 'model:\n  path: m.onnx\n  timeout: -1'), 'modelgate.yml'))
    expect(e2.message).toContain('model.timeout (line 5, Too small: expected number to be >0)')
  })

  it('lists every problem, the first one first', () => {
    const e = errorOf(() => parseManifest('name: x\nfeatures: []\n', 'm.yml'))
    expect(e.message.split('\n')[0]).toBe('m.yml: invalid manifest: model (expected string or object)')
    expect(e.message).toContain('also: features (line 2, Too small: expected array to have >=1 items)')
    expect(e.message).toContain('also: label (required: expected string)')
  })

  it('reports malformed YAML with its position', () => {
    const e = errorOf(() => parseManifest('name: x\nfeatures: [a, b\nlabel: y\n', 'modelgate.yml'))
    expect(e.message).toMatch(/^modelgate\.yml:\d+:\d+: invalid YAML: /)
  })

  it('rejects duplicate keys, empty files and non-mappings', () => {
    expect(errorOf(() => parseManifest('name: a\nname: b\n', 'm.yml')).message).toMatch(
      /^m\.yml:2:1: invalid YAML: Map keys must be unique/,
    )
    expect(errorOf(() => parseManifest('', 'm.yml')).message).toBe('m.yml: the manifest is empty')
    expect(errorOf(() => parseManifest('- a\n- b\n', 'm.yml')).message).toContain('m.yml: the manifest must be a mapping')
  })

  it('says when the manifest does not exist', () => {
    expect(errorOf(() => loadManifest('/nonexistent/modelgate.yml')).message).toBe(
      '/nonexistent/modelgate.yml: manifest not found; check the path (config input or --config), relative to the repository root (the workspace)',
    )
  })
})

describe('hostile manifests', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-manifest-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const file = (name: string, content: string | Buffer) => {
    const p = path.join(dir, name)
    writeFileSync(p, content)
    return p
  }

  it('refuses a "billion laughs" document: nested aliases past the expansion limit', () => {
    expect(MAX_MANIFEST_ALIASES).toBe(100)
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
    for (const k of 'bcdefgh')
      levels.push(
        `${k}: &${k} [${Array(10)
          .fill(`*${levels.length === 1 ? 'a' : 'abcdefgh'[levels.length - 1]}`)
          .join(', ')}]`,
      )
    const e = errorOf(() => parseManifest(`name: lol\n${levels.join('\n')}\n`, 'm.yml'))
    expect(e.message).toBe('m.yml: invalid YAML: its aliases expand past the limit of 100 alias expansions (a "billion laughs" document?)')
    expect(e.file).toBe('m.yml')
  })

  it('takes anchors reused a few times, as a manifest would', () => {
    const text = 'name: x\nmodel: &m model.onnx\nbaseline: *m\nfeatures: &f [a, b]\nlabel: target\ndata: d.csv\n'
    const m = parseManifest(text, 'm.yml')
    expect(m.baseline).toBe('model.onnx')
    expect(m.features).toEqual(['a', 'b'])
  })

  it('refuses an alias to an anchor that does not exist, naming the file', () => {
    expect(errorOf(() => parseManifest('name: x\nmodel: *nowhere\n', 'm.yml')).message).toBe(
      'm.yml: invalid YAML: Unresolved alias (the anchor must be set before the alias): nowhere',
    )
  })

  it('refuses a manifest over 1 MiB by its size, before reading it', () => {
    expect(MAX_MANIFEST_BYTES).toBe(1024 * 1024)
    const at = file('at-limit.yml', GOOD + '#'.repeat(MAX_MANIFEST_BYTES - GOOD.length - 1) + '\n')
    expect(loadManifest(at, 'at-limit.yml').name).toBe('cancer')
    const over = file('over.yml', GOOD + '#'.repeat(MAX_MANIFEST_BYTES - GOOD.length) + '\n')
    expect(errorOf(() => loadManifest(over, 'over.yml')).message).toBe(
      'over.yml: the manifest is 1048577 bytes; the limit is 1 MiB (is it the right file?)',
    )
    const big = file('big.yml', Buffer.alloc(40 * 1024 * 1024, '#'))
    expect(errorOf(() => loadManifest(big, 'big.yml')).message).toBe(
      'big.yml: the manifest is 40.0 MiB; the limit is 1 MiB (is it the right file?)',
    )
  })

  it('stops reading a device or pipe at the limit', () => {
    expect(errorOf(() => loadManifest('/dev/zero')).message).toBe(
      '/dev/zero: the manifest is larger than the limit of 1 MiB (is it the right file?)',
    )
  })

  it('refuses UTF-16 and binary manifests', () => {
    const utf16 = 'm.yml is UTF-16 (or binary); save it as UTF-8'
    const le = file('le.yml', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(GOOD, 'utf16le')]))
    expect(errorOf(() => loadManifest(le, 'm.yml')).message).toBe(`${utf16} (it starts with the UTF-16 byte order mark FF FE)`)
    const be = file('be.yml', Buffer.from(GOOD, 'utf16le').swap16())
    expect(errorOf(() => loadManifest(be, 'm.yml')).message).toBe(`${utf16} (byte 1 is NUL)`)
    // A UTF-8 byte order mark is fine.
    expect(loadManifest(file('bom.yml', `\ufeff${GOOD}`)).name).toBe('cancer')
  })

  it('says what the file system said about a path it cannot read', () => {
    const sub = path.join(dir, 'a-dir.yml')
    mkdirSync(sub)
    expect(errorOf(() => loadManifest(sub, 'a-dir.yml')).message).toBe('a-dir.yml: cannot read the manifest (is a directory, not a file)')
  })
})

describe('settings', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-settings-'))
  writeFileSync(path.join(dir, 'modelgate.yml'), GOOD)

  it('resolves paths against the manifest and infers runners', () => {
    const s = resolveSettings({}, dir)
    expect(s.model).toMatchObject({ runner: 'onnx', path: path.join(dir, 'model.onnx'), features: ['a', 'b'] })
    expect(s.data).toEqual([{ name: 'test', path: path.join(dir, 'data/test.csv'), format: undefined, contract: undefined }])
    expect(s.baseline).toMatchObject({ kind: 'model', model: { runner: 'onnx', path: path.join(dir, 'old.onnx') } })
    expect(s.gates.map((g) => g.expression)).toEqual(['accuracy >= 0.9', 'log_loss <= 0.3', 'roc_auc >= baseline - 0.01'])
    expect(s.gates[1].severity).toBe('warn')
  })

  it('lets inputs and flags override the manifest', () => {
    const s = resolveSettings(
      {
        model: 'preds.csv',
        data: 'other.jsonl',
        label: 'y',
        features: ['b', 'a'],
        thresholds: ['f1 >= 0.5'],
        failOn: 'never',
        baseline: 'prev.json',
      },
      dir,
    )
    expect(s.model).toMatchObject({ runner: 'predictions', path: path.join(dir, 'preds.csv') })
    expect(s.data[0]).toMatchObject({ name: 'other', path: path.join(dir, 'other.jsonl') })
    expect(s.label).toBe('y')
    expect(s.features).toEqual(['b', 'a'])
    expect(s.gates.map((g) => g.expression)).toEqual(['f1 >= 0.5'])
    expect(s.failOn).toBe('never')
    expect(s.baseline).toEqual({ kind: 'report', path: path.join(dir, 'prev.json') })
  })

  it('works without a manifest from inputs alone, and says what is missing', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'mg-empty-'))
    const s = resolveSettings({ model: 'http://127.0.0.1:1/v2/models/m/infer', data: 'd.csv', label: 'y', features: ['x'] }, empty)
    expect(s.model).toMatchObject({ runner: 'http', url: 'http://127.0.0.1:1/v2/models/m/infer' })
    expect(errorOf(() => resolveSettings({ data: 'd.csv', label: 'y', features: ['x'] }, empty)).message).toBe(
      'no manifest (modelgate.yml) found and no --model / the model input given: model is required',
    )
    expect(
      errorOf(() => resolveSettings({ thresholds: ['acc >> 1'], model: 'm.onnx', data: 'd.csv', label: 'y', features: ['x'] }, empty))
        .message,
    ).toContain('input thresholds, line 1: cannot read gate "acc >> 1"')
  })

  it('fails on an explicit --config that does not exist', () => {
    expect(errorOf(() => resolveSettings({ config: 'nope.yml' }, dir)).message).toBe(
      'nope.yml: manifest not found; check the path (config input or --config), relative to the repository root (the workspace)',
    )
  })

  it('a first run with nothing at all says what to do', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'mg-first-'))
    expect(errorOf(() => resolveSettings({}, empty)).message).toBe(
      `no manifest: modelgate.yml is not in ${empty}. Point to yours with --config (the config input), or write one with modelgate init --model <model.onnx> --data <data.csv> --label <column>, or give --model, --data and --label`,
    )
  })
})
