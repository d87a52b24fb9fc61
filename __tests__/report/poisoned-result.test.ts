/**
 * Issue 12, "Injection into what people read", for every sink at once: real validate and robustness
 * results (the breast-cancer example, with its baseline, contract, parity, slices and robustness tests)
 * have a hostile payload appended to every string they carry, as if each had come from data, a server or
 * a file. Every renderer must then show it as text: in Markdown (summary, PR comment) no live mention,
 * link, image, HTML or code span opened by the payload; in JUnit (which test reporters render) and
 * annotations no live mention or link and no control characters, JUnit well-formed; in the terminal
 * text no escape sequences; nowhere a line that the runner would read as a workflow command.
 */
import { beforeAll, describe, expect, it } from '@jest/globals'
import path from 'node:path'
import { XMLValidator } from 'fast-xml-parser'
import { runCli } from '../../src/cli/main.js'
import type { ValidationResult } from '../../src/core/result/types.js'
import { renderSummary } from '../../src/core/report/markdown.js'
import { renderComment } from '../../src/core/report/comment.js'
import { renderJUnit } from '../../src/core/report/junit.js'
import { annotationsFor } from '../../src/core/report/annotations.js'
import { renderText } from '../../src/cli/text.js'
import { sanitizeLogText, stripTerminalControls } from '../../src/core/report/escape.js'
import { outside } from '../helpers/workspace.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const PAYLOAD =
  'X\n::warning title=pwned::pwned\n@octocat [click](https://evil.example) ![i](https://evil.example/i.png) `tick` <script>alert(1)</script> <img src=x onerror=alert(1)> \u001b[31mred\u001b]0;owned\u0007 nul\u0000end'

/** Keys whose values are enumerations the renderers branch on, not text from outside. */
const ENUMS = new Set([
  'status',
  'task',
  'kind',
  'schemaVersion',
  'level',
  'severity',
  'direction',
  'runner',
  'format',
  'protocol',
  'decision',
  'verdict',
  'type',
  'op',
  'outcome',
  'inconclusive',
  'startedAt',
  'method',
  'family',
  'alternative',
  'test',
])

function poison<T>(value: T, key = ''): T {
  if (typeof value === 'string') return (ENUMS.has(key) ? value : value + PAYLOAD) as T
  if (Array.isArray(value)) return value.map((v) => poison(v, key)) as T
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, poison(v, k)])) as T
  return value
}

async function resultOf(args: string[]): Promise<ValidationResult> {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(outside([...args, '--json']), { stdout: (t) => out.push(t), stderr: (t) => err.push(t), cwd: ROOT })
  if (code > 1) throw new Error(err.join('\n'))
  return JSON.parse(out.join('\n')) as ValidationResult
}

/** Markdown prose: what GitHub would turn into mentions, links, images or HTML. Mermaid titles are drawn, not parsed. */
function expectInertMarkdown(md: string): void {
  const prose = md
    .split('\n')
    .filter((l) => !/^\s+(title|x-axis|y-axis|bar|line) /.test(l))
    .join('\n')
  expect(prose).not.toMatch(/(^|[^\w\u200b])@octocat/m)
  expect(prose).not.toMatch(/(?<!\\)\]\(https:\/\/evil/)
  expect(prose).not.toMatch(/<script|<img /i)
  expect(prose).not.toMatch(/(?<!\\)`tick(?<!\\)`/)
  expectNoControls(md)
  expectNoCommands(md)
}

/** Plain text that GitHub or a test reporter may still render: no live mention, no link. */
function expectInertText(text: string): void {
  expect(text).not.toMatch(/(^|[^\w\u200b])@octocat/m)
  expect(text).not.toMatch(/\]\(https:\/\/evil/)
  expectNoControls(text.replace(/\n/g, ''))
}

function expectNoControls(text: string): void {
  // eslint-disable-next-line no-control-regex
  expect(text).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/)
}

/** The runner reads a stdout line starting with `::` as a command; the log adapter sanitises, and so must each text. */
function expectNoCommands(text: string): void {
  expect(
    sanitizeLogText(text)
      .split('\n')
      .filter((l) => l.startsWith('::warning title=pwned')),
  ).toEqual([])
}

describe.each([
  ['validate', ['validate', '--config', 'examples/breast-cancer/modelgate.yml']],
  ['robustness', ['robustness', '--config', 'examples/breast-cancer/modelgate.yml', '--rows', '60', '--fail-on', 'never']],
])('a %s result with a hostile payload in every string', (_name, args) => {
  let result: ValidationResult
  beforeAll(async () => {
    result = poison(await resultOf(args))
  }, 120_000)

  it('renders an inert job summary and PR comment', () => {
    expectInertMarkdown(renderSummary(result, { title: `modelgate: ${result.model.name}` }))
    expectInertMarkdown(renderComment(result, { marker: '<!-- m -->' }))
  })

  it('renders well-formed JUnit XML without control characters', () => {
    const xml = renderJUnit(result)
    expect(XMLValidator.validate(xml)).toBe(true)
    expectNoControls(xml)
    expectInertText(xml)
    expect(xml).not.toContain('<script')
  })

  it('renders terminal text and annotations without escape sequences', () => {
    const text = stripTerminalControls(renderText(result))
    expectNoControls(text.replace(/\n/g, ''))
    for (const a of annotationsFor(result, { action: 'validate-model' })) expectInertText(`${a.title ?? ''} ${a.message}`)
  })
})
