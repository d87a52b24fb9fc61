/*
 * Progress of long runs (src/core/progress.ts) and its faces: the CLI (one line in place on a terminal,
 * plain lines in a log, nothing with --quiet or --json) and the actions (plain lines in a group of the log).
 * Every clock here is a fake one: no test waits.
 */
import { describe, expect, it } from '@jest/globals'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parse, stringify } from 'yaml'
import {
  NO_PROGRESS,
  createProgress,
  currentProgress,
  formatEta,
  progressText,
  runWithProgress,
  type ProgressOutput,
} from '../src/core/progress.js'
import { runCli, type ProgressStream } from '../src/cli/main.js'
import { isCI } from '../src/cli/index.js'
import { runValidateAction } from '../src/actions/validate-model/main.js'
import { runRobustnessAction } from '../src/actions/test-robustness/main.js'
import { memoryIO } from './helpers/memory-io.js'
import { outside } from './helpers/workspace.js'

const ROOT = path.resolve(import.meta.dirname, '..')
const EXAMPLE = path.join(ROOT, 'examples/breast-cancer')

/** A clock that stands still until moved. */
function fakeClock(start = 1000) {
  let t = start
  return { now: () => t, advance: (ms: number) => void (t += ms) }
}

/** A clock that moves on by `step` ms each time it is read: every batch of a run looks `step` ms long. */
function steppingClock(step: number) {
  let t = 0
  return () => (t += step)
}

function recorder(tty: boolean, columns?: number) {
  const written: string[] = []
  const events: string[] = []
  const out: ProgressOutput = {
    tty,
    columns,
    write: (text) => {
      written.push(text)
      events.push(`write ${text}`)
    },
    startGroup: (title) => void events.push(`group ${title}`),
    endGroup: () => void events.push('endgroup'),
  }
  return { out, written, events }
}

describe('progress text', () => {
  it('says rows, rate, percent and ETA', () => {
    expect(progressText({ label: 'test', verb: 'scored', rows: 1_234_567, seconds: 10, fraction: 0.25 })).toBe(
      'test: 1,234,567 rows scored (25%), 123,457 rows/s, ETA 30 s',
    )
    expect(progressText({ label: 'test', verb: 'read', rows: 5000, seconds: 2 })).toBe('test: 5,000 rows read, 2,500 rows/s')
    // An estimate is marked as one, and never says 100%.
    expect(progressText({ label: 'd', verb: 'scored', rows: 10, seconds: 1, fraction: 1.2, estimated: true })).toBe(
      'd: 10 rows scored (~99%), 10 rows/s',
    )
  })

  it('writes an ETA in seconds, minutes or hours', () => {
    expect(formatEta(0)).toBe('0 s')
    expect(formatEta(59.4)).toBe('59 s')
    expect(formatEta(61)).toBe('1:01')
    expect(formatEta(3723)).toBe('1:02:03')
  })
})

describe('the reporter on a terminal', () => {
  it('shows nothing for the first two seconds, then one line rewritten in place, cleared at the end', () => {
    const clock = fakeClock()
    const r = recorder(true)
    const progress = createProgress(r.out, { now: clock.now })
    const phase = progress.phase('test', { totalBytes: 1000 })
    for (let i = 1; i <= 10; i++) {
      clock.advance(150)
      phase.bytes(i * 10)
      phase.rows(i * 100)
    }
    expect(r.written).toEqual([]) // 1.5 s
    clock.advance(600)
    phase.bytes(200)
    phase.rows(2000)
    expect(r.written).toEqual(['\rtest: 2,000 rows scored (20%), 952 rows/s, ETA 8 s'])
    // Not more often than every 250 ms; a shorter line is padded over the longer one.
    clock.advance(100)
    phase.rows(2100)
    expect(r.written).toHaveLength(1)
    clock.advance(200)
    phase.bytes(990)
    phase.rows(2200)
    const second = r.written[1]
    expect(second).toMatch(/^\rtest: 2,200 rows scored \(99%\), 917 rows\/s, ETA 0 s */)
    expect(second.length).toBe(r.written[0].length)
    phase.end()
    const width = r.written[1].length - 1
    expect(r.written[2]).toBe(`\r${' '.repeat(width)}\r`)
    // Once ended, a phase says no more.
    clock.advance(10_000)
    phase.rows(9999)
    expect(r.written).toHaveLength(3)
  })

  it('cuts the line to the terminal width, so that it never wraps', () => {
    const clock = fakeClock()
    const r = recorder(true, 20)
    const phase = createProgress(r.out, { now: clock.now }).phase('a rather long data set name')
    clock.advance(3000)
    phase.rows(10)
    expect(r.written[0]).toBe('\ra rather long data ')
  })

  it('clears its line before other output, and shows it again at the next update', () => {
    const clock = fakeClock()
    const r = recorder(true)
    const progress = createProgress(r.out, { now: clock.now })
    const phase = progress.phase('test')
    clock.advance(2500)
    phase.rows(100)
    progress.clear()
    expect(r.written[1]).toBe(`\r${' '.repeat(r.written[0].length - 1)}\r`)
    progress.clear() // nothing shown: nothing to clear
    expect(r.written).toHaveLength(2)
    clock.advance(300)
    phase.rows(200)
    expect(r.written[2]).toBe('\rtest: 200 rows scored, 71 rows/s')
  })

  it('strips terminal controls from what it shows', () => {
    const clock = fakeClock()
    const r = recorder(true)
    const phase = createProgress(r.out, { now: clock.now }).phase('evil\u001b[2Jname')
    clock.advance(3000)
    phase.rows(1)
    expect(r.written[0]).not.toContain('\u001b')
  })
})

describe('the reporter in a log', () => {
  it('writes a plain line every five seconds, after the first five, in a group', () => {
    const clock = fakeClock()
    const r = recorder(false)
    const progress = createProgress(r.out, { now: clock.now })
    const phase = progress.phase('test', { totalBytes: 100 })
    for (let s = 1; s <= 12; s++) {
      clock.advance(1000)
      phase.bytes(s * 5)
      phase.rows(s * 1000)
    }
    phase.end()
    expect(r.events).toEqual([
      'group test',
      'write test: 5,000 rows scored (25%), 1,000 rows/s, ETA 15 s',
      'write test: 10,000 rows scored (50%), 1,000 rows/s, ETA 10 s',
      'endgroup',
    ])
    expect(r.written.every((l) => !l.includes('\r'))).toBe(true)
  })

  it('closes its group before other lines, so that they are not hidden in it', () => {
    const clock = fakeClock()
    const r = recorder(false)
    const progress = createProgress(r.out, { now: clock.now })
    const phase = progress.phase('robustness')
    clock.advance(6000)
    phase.rows(10)
    progress.clear()
    clock.advance(6000)
    phase.rows(20)
    progress.close()
    expect(r.events).toEqual([
      'group robustness',
      'write robustness: 10 rows scored, 2 rows/s',
      'endgroup',
      'group robustness',
      'write robustness: 20 rows scored, 2 rows/s',
      'endgroup',
    ])
  })

  it('estimates a percent from the size of the first lines of a text file when the reader tells no bytes', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mg-progress-'))
    const file = path.join(dir, 'data.csv')
    writeFileSync(file, `a,b\n${'1,2\n'.repeat(999)}`) // 1,000 lines of 4 bytes
    const clock = fakeClock()
    const r = recorder(false)
    const phase = createProgress(r.out, { now: clock.now }).phase('d', { file })
    clock.advance(5000)
    phase.rows(250)
    expect(r.written).toEqual(['d: 250 rows scored (~25%), 50 rows/s, ETA 15 s'])
  })

  it('says nothing of a percent for a file it cannot size', () => {
    const clock = fakeClock()
    const r = recorder(false)
    const phase = createProgress(r.out, { now: clock.now }).phase('d', { file: '/no/such/file.csv' })
    clock.advance(5000)
    phase.rows(10)
    expect(r.written).toEqual(['d: 10 rows scored, 2 rows/s'])
  })
})

describe('the run in progress', () => {
  it('is NO_PROGRESS outside runWithProgress, and the given reporter inside, across awaits', async () => {
    expect(currentProgress()).toBe(NO_PROGRESS)
    const r = recorder(false)
    const progress = createProgress(r.out)
    const seen = await runWithProgress(progress, async () => {
      await new Promise((resolve) => setImmediate(resolve))
      return currentProgress()
    })
    expect(seen).toBe(progress)
    expect(currentProgress()).toBe(NO_PROGRESS)
  })

  it('knows CI from its environment variable', () => {
    expect(isCI('true')).toBe(true)
    expect(isCI('1')).toBe(true)
    expect(isCI(undefined)).toBe(false)
    expect(isCI('')).toBe(false)
    expect(isCI('false')).toBe(false)
    expect(isCI('0')).toBe(false)
  })
})

/** `modelgate validate` on the example, in small batches, with a progress stream. */
async function cliRun(args: string[], progress?: ProgressStream) {
  const stdout: string[] = []
  const stderr: string[] = []
  const code = await runCli(outside(['validate', '--config', path.join(EXAMPLE, 'modelgate.yml'), '--batch-size', '20', ...args]), {
    stdout: (t) => stdout.push(t),
    stderr: (t) => stderr.push(t),
    cwd: ROOT,
    ...(progress ? { progress } : {}),
  })
  return { code, stdout, stderr }
}

describe('modelgate validate', () => {
  it('on a terminal, rewrites one line while it scores, and clears it before its next line', async () => {
    const raw: string[] = []
    const r = await cliRun([], { isTTY: true, write: (t) => void raw.push(t), now: steppingClock(1000) })
    expect(r.code).toBe(0)
    expect(raw.length).toBeGreaterThan(1)
    expect(raw[0]).toMatch(/^\rtest: \d+ rows scored \(~\d+%\), \d+ rows\/s, ETA \d+ s/)
    // The last thing written clears the line; the log lines went to stderr as ever.
    expect(raw.at(-1)).toMatch(/^\r +\r$/)
    expect(r.stderr).toContain('model: examples/breast-cancer/model.onnx (onnx)')
    expect(r.stderr.some((l) => l.includes('rows scored'))).toBe(false)
  })

  it('in a log, writes plain lines among its others on stderr', async () => {
    const raw: string[] = []
    const r = await cliRun([], { isTTY: false, write: (t) => void raw.push(t), now: steppingClock(1000) })
    expect(r.code).toBe(0)
    expect(raw).toEqual([])
    const lines = r.stderr.filter((l) => l.includes('rows scored'))
    expect(lines.length).toBeGreaterThan(0)
    for (const l of lines) expect(l).toMatch(/^test: \d+ rows scored \(~\d+%\), \d+ rows\/s(, ETA \S+ s)?$/)
    // Before the line that says the data set is scored.
    expect(r.stderr.findIndex((l) => l.includes('rows scored'))).toBeLessThan(r.stderr.findIndex((l) => /^test: scored 171 rows/.test(l)))
  })

  it('shows nothing with --quiet or --json', async () => {
    for (const flag of ['--quiet', '--json']) {
      const raw: string[] = []
      const r = await cliRun([flag], { isTTY: true, write: (t) => void raw.push(t), now: steppingClock(1000) })
      expect(r.code).toBe(0)
      expect(raw).toEqual([])
      expect(r.stderr).toEqual([])
    }
  })

  it('prints exactly what it did without progress when the run is short', async () => {
    const clock = fakeClock()
    const raw: string[] = []
    const withProgress = await cliRun([], { isTTY: true, write: (t) => void raw.push(t), now: clock.now })
    const without = await cliRun([])
    expect(raw).toEqual([])
    const timing = (lines: string[]) => lines.map((l) => l.replace(/in \d+\.\d+ s/, 'in N s'))
    expect(timing(withProgress.stderr)).toEqual(timing(without.stderr))
  })
})

/** A workspace holding the breast-cancer example's model and data, with a manifest over them. */
function workspace(extra: Record<string, unknown> = {}): string {
  const ws = mkdtempSync(path.join(tmpdir(), 'mg-progress-action-'))
  for (const f of ['model.onnx', 'data/test.csv']) {
    mkdirSync(path.dirname(path.join(ws, f)), { recursive: true })
    cpSync(path.join(EXAMPLE, f), path.join(ws, f))
  }
  const example = parse(readFileSync(path.join(EXAMPLE, 'modelgate.yml'), 'utf8')) as { features: string[] }
  const manifest = {
    name: 'bc',
    task: 'binary',
    model: 'model.onnx',
    features: example.features,
    label: 'target',
    classes: [0, 1],
    'positive-class': 1,
    data: 'data/test.csv',
    ...extra,
  }
  writeFileSync(path.join(ws, 'modelgate.yml'), stringify(manifest))
  return ws
}

/** The example's memory IO, with log groups recorded among its lines. */
function groupedIO(inputs: Record<string, string>) {
  const m = memoryIO(inputs)
  m.io.startGroup = (title) => void m.said.lines.push(`::group::${title}`)
  m.io.endGroup = () => void m.said.lines.push('::endgroup::')
  return m
}

describe('the actions', () => {
  it('validate-model logs its progress in a group of its own', async () => {
    const m = groupedIO({ 'batch-size': '10', comment: 'false' })
    const code = await runValidateAction({
      io: m.io,
      workspace: workspace(),
      context: { tool: 'modelgate', version: 'test' },
      now: steppingClock(1000),
    })
    expect(code).toBe(0)
    const start = m.said.lines.indexOf('::group::test')
    const end = m.said.lines.indexOf('::endgroup::')
    expect(start).toBeGreaterThanOrEqual(0)
    expect(end).toBeGreaterThan(start + 1)
    for (const l of m.said.lines.slice(start + 1, end)) expect(l).toMatch(/^test: \d+ rows scored \(~\d+%\), \d+ rows\/s/)
    // The line saying the data set is scored comes after the group, outside it.
    expect(m.said.lines.findIndex((l) => /^test: scored 171 rows/.test(l))).toBeGreaterThan(end)
  })

  it('test-robustness logs the rows its models score, and closes the group before its other lines', async () => {
    const m = groupedIO({ 'batch-size': '50', comment: 'false', rows: '100' })
    const code = await runRobustnessAction({
      io: m.io,
      workspace: workspace(),
      context: { tool: 'modelgate', version: 'test' },
      now: steppingClock(1000),
    })
    expect([0, 1]).toContain(code)
    const opened = m.said.lines.filter((l) => l.startsWith('::group::'))
    expect(opened.length).toBeGreaterThan(0)
    expect(m.said.lines.filter((l) => l === '::endgroup::')).toHaveLength(opened.length)
    // Groups never nest, and only progress lines are inside them.
    let inside = false
    for (const l of m.said.lines) {
      if (l.startsWith('::group::')) {
        expect(inside).toBe(false)
        inside = true
      } else if (l === '::endgroup::') inside = false
      else if (inside) expect(l).toMatch(/^(test|robustness): [\d,]+ rows (read|scored)/)
    }
    expect(m.said.lines.some((l) => /^robustness: [\d,]+ rows scored, [\d,]+ rows\/s$/.test(l))).toBe(true)
  })

  it('log nothing of progress on a short run', async () => {
    const m = groupedIO({ comment: 'false' })
    const code = await runValidateAction({
      io: m.io,
      workspace: workspace(),
      context: { tool: 'modelgate', version: 'test' },
      now: fakeClock().now,
    })
    expect(code).toBe(0)
    expect(m.said.lines.some((l) => l.startsWith('::group::') || l.includes('rows scored'))).toBe(false)
  })
})
