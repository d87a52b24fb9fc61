import { describe, it, expect } from '@jest/globals'
import {
  clip,
  escapeHtml,
  escapeMarkdownCell,
  sanitizeLogText,
  escapeMermaidLabel,
  formatBytes,
  formatDelta,
  formatNumber,
} from '../../src/core/report/escape.js'

describe('escapeMarkdownCell', () => {
  it('neutralises HTML, pipes, backslashes and line breaks', () => {
    expect(escapeMarkdownCell('a|b<script>')).toBe('a\\|b&lt;script&gt;')
    expect(escapeMarkdownCell('x & y')).toBe('x &amp; y')
    expect(escapeMarkdownCell('C:\\data\\x.csv')).toBe('C:\\\\data\\\\x.csv')
    expect(escapeMarkdownCell('one\ntwo\r\nthree\rfour')).toBe('one<br>two<br>three<br>four')
    // The backslash of an input `\|` is escaped too, so the pipe stays escaped.
    expect(escapeMarkdownCell('\\|')).toBe('\\\\\\|')
  })

  it('leaves plain text alone', () => {
    expect(escapeMarkdownCell('mean radius (mm)')).toBe('mean radius (mm)')
  })
})

describe('escapeHtml', () => {
  it('escapes the five markup characters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;')
  })
})

describe('escapeMermaidLabel', () => {
  it('quotes the label and removes what could end the string, the list or the fence', () => {
    expect(escapeMermaidLabel('accuracy')).toBe('"accuracy"')
    expect(escapeMermaidLabel('say "hi"')).toBe(`"say 'hi'"`)
    expect(escapeMermaidLabel('a|b<script>')).toBe('"a|bscript"')
    expect(escapeMermaidLabel('x[0]{1}(2)')).toBe('"x012"')
    expect(escapeMermaidLabel('line\n```')).toBe('"line"')
    expect(escapeMermaidLabel('#quot;')).toBe('"quot"')
  })
})

describe('formatNumber', () => {
  it('gives metrics four significant digits without trailing zeros', () => {
    expect(formatNumber(0.956140350877193)).toBe('0.9561')
    expect(formatNumber(0.95)).toBe('0.95')
    expect(formatNumber(0.0123456)).toBe('0.01235')
    expect(formatNumber(-0.0087719)).toBe('-0.008772')
    expect(formatNumber(3.2e-7)).toBe('3.2e-7')
    expect(formatNumber(1.23456)).toBe('1.235')
    expect(formatNumber(123.456)).toBe('123.5')
  })

  it('never drops integer digits and groups thousands', () => {
    expect(formatNumber(12345.678)).toBe('12,346')
    expect(formatNumber(1234567)).toBe('1,234,567')
    expect(formatNumber(-1234)).toBe('-1,234')
    expect(formatNumber(999)).toBe('999')
    expect(formatNumber(0)).toBe('0')
    expect(formatNumber(-0)).toBe('0')
  })

  it('shows missing values as a dash', () => {
    expect(formatNumber(NaN)).toBe('—')
    expect(formatNumber(null)).toBe('—')
    expect(formatNumber(undefined)).toBe('—')
    expect(formatNumber(Infinity)).toBe('∞')
  })
})

describe('formatDelta, formatBytes, clip', () => {
  it('signs differences', () => {
    expect(formatDelta(0.0212)).toBe('+0.0212')
    expect(formatDelta(-0.014)).toBe('-0.014')
    expect(formatDelta(0)).toBe('0')
    expect(formatDelta(null)).toBe('—')
  })

  it('uses binary units', () => {
    expect(formatBytes(812)).toBe('812 B')
    expect(formatBytes(1587)).toBe('1.5 KiB')
    expect(formatBytes(5 * 1024 * 1024)).toBe('5 MiB')
    expect(formatBytes(undefined)).toBe('—')
  })

  it('clips without splitting a surrogate pair', () => {
    expect(clip('abcdef', 4)).toBe('abc…')
    expect(clip('abc', 3)).toBe('abc')
    expect(clip('ab😀cd', 4)).toBe('ab…')
  })
})

describe('what GitHub would act on, in data-derived text', () => {
  it('disarms mentions, links, images and code spans, and strips terminal controls', () => {
    expect(escapeMarkdownCell('ping @octocat and @org/team, not a@b.c')).toBe('ping @\u200boctocat and @\u200borg/team, not a@b.c')
    expect(escapeMarkdownCell('[click](https://evil.example) ![x](https://evil.example/p.png)')).toBe(
      '[click\\](https://evil.example) ![x\\](https://evil.example/p.png)',
    )
    expect(escapeMarkdownCell('`code` ``` fence')).toBe('\\`code\\` \\`\\`\\` fence')
    expect(escapeMarkdownCell('red\u001b[31mtext\u001b]0;title\u0007 nul\u0000')).toBe('redtext nul')
    expect(escapeMarkdownCell('[0.690, 0.957]')).toBe('[0.690, 0.957]')
  })

  it('log lines cannot be workflow commands, nor drive the terminal', () => {
    expect(sanitizeLogText('data set x\n::warning::pwned\n  ::error file=a::b')).toBe(
      'data set x\n:\u200b:warning::pwned\n  :\u200b:error file=a::b',
    )
    expect(sanitizeLogText('a\u001b[2Jb')).toBe('ab')
  })
})
