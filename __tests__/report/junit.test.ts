import { describe, it, expect } from '@jest/globals'
import { escapeXmlAttribute, escapeXmlText, renderJUnit } from '../../src/core/report/junit.js'
import type { ValidationResult } from '../../src/core/result/types.js'
import { loadResult } from './fixtures.js'
import { findAll, parseXml } from './xml.js'

describe('the test XML parser', () => {
  it('rejects what is not well-formed, so the JUnit assertions below mean something', () => {
    expect(() => parseXml('<a><b></a></b>')).toThrow('</a> does not close <b>')
    expect(() => parseXml('<a x="1" x="2"/>')).toThrow('duplicate attribute x')
    expect(() => parseXml('<a>1 & 2</a>')).toThrow('unterminated reference')
    expect(() => parseXml('<a x="<"/>')).toThrow("'<' in character data")
    expect(() => parseXml('<a>\u0001</a>')).toThrow('forbids')
    expect(() => parseXml('<a/><b/>')).toThrow('more than one root element')
    expect(() => parseXml('<a>')).toThrow('<a> is never closed')
    expect(parseXml('<a k="x&amp;y&#10;">t&lt;</a>')).toEqual({ name: 'a', attrs: { k: 'x&y\n' }, children: [], text: 't<' })
  })
})

describe('escapeXml', () => {
  it('escapes markup and strips characters XML 1.0 forbids', () => {
    expect(escapeXmlText('a|b<script>&\u0000\u0008\u001f\uFFFE\uD800ok\t\n')).toBe('a|b&lt;script&gt;&amp;ok\t\n')
    // A carriage return is a terminal control (it rewrites the line): stripped with the others.
    expect(escapeXmlAttribute(`"q" 'a'\nb\tc\r`)).toBe('&quot;q&quot; &apos;a&apos;&#10;b&#9;c')
    expect(escapeXmlText('😀')).toBe('😀')
  })
})

describe('renderJUnit', () => {
  it('counts tests, failures and skips and lists one test case per check', () => {
    const xml = renderJUnit(loadResult('binary'))
    const root = parseXml(xml)
    expect(root.name).toBe('testsuites')
    const [suite] = findAll(root, 'testsuite')
    expect(suite!.attrs).toEqual({
      name: 'modelgate validate-model',
      tests: '7',
      failures: '2',
      errors: '0',
      skipped: '1',
      time: '1.8734',
      timestamp: '2026-11-26T03:50:12.345Z',
    })
    const cases = findAll(suite!, 'testcase')
    expect(cases.map((c) => [c.attrs.classname, c.attrs.name])).toEqual([
      ['test', 'threshold:accuracy>=0.95'],
      ['test', 'threshold:recall>=0.98'],
      ['test', 'change:f1'],
      ['test', 'change:log_loss'],
      ['test', 'change:brier'],
      ['test', 'parity:probabilities'],
      ['test', 'contract:test'],
    ])
    expect(findAll(suite!, 'failure')).toHaveLength(2)
    expect(findAll(suite!, 'skipped')).toHaveLength(1)
    const f1 = cases[2]!.children[0]!
    expect(f1.name).toBe('failure')
    expect(f1.attrs).toEqual({ message: 'f1 fell by 0.014 from the baseline 0.979; at most 0.005 is allowed', type: 'change' })
    expect(f1.text).toBe(
      'f1 fell by 0.014 from the baseline 0.979; at most 0.005 is allowed\nvalue: 0.965\nthreshold: f1 >= baseline - 0.005\nbaseline: 0.979\nchange: -0.01397\nseverity: fail',
    )
    const warned = cases[3]!.children
    expect(warned.map((c) => c.name)).toEqual(['system-out'])
    expect(warned[0]!.text.startsWith('WARNING: log_loss rose by 0.0212')).toBe(true)
    expect(cases[0]!.children).toEqual([])
    const properties = Object.fromEntries(findAll(root, 'property').map((p) => [p.attrs.name, p.attrs.value]))
    expect(properties).toMatchObject({ model: 'breast_cancer_lr', task: 'binary', status: 'fail' })
  })

  it('files a contract check under the data set it names and escapes hostile labels', () => {
    const result = loadResult('multiclass')
    result.checks[1]!.message += '\u0000\u001b[31m'
    const xml = renderJUnit(result)
    expect(xml).not.toContain('<script>')
    expect(xml).toContain('name="threshold:recall[a|b&lt;script&gt;]&gt;=0.8"')
    const root = parseXml(xml)
    const cases = findAll(root, 'testcase')
    expect(cases.map((c) => c.attrs.classname)).toEqual(['flowers', 'flowers', 'flowers'])
    expect(cases[1]!.children[0]!.text).toBe(
      'WARNING: recall of class a|b<script> is 0.7,\nbelow 0.8 & falling\nvalue: 0.7\nthreshold: recall[a|b<script>] >= 0.8\nseverity: warn',
    )
    expect(root.attrs).toMatchObject({ tests: '3', failures: '0', skipped: '0' })
  })

  it('reports a run that could not be judged as one erroring test case', () => {
    const result: ValidationResult = {
      ...loadResult('regression'),
      status: 'error',
      checks: [],
      error: { message: 'label column "y" not found', file: 'data/diabetes.parquet', field: 'label' },
    }
    const root = parseXml(renderJUnit(result))
    expect(root.attrs).toMatchObject({ tests: '1', failures: '0', errors: '1', skipped: '0' })
    const [error] = findAll(root, 'error')
    expect(error!.attrs.message).toBe('label column "y" not found (data/diabetes.parquet: label)')
    expect(findAll(root, 'testcase')[0]!.attrs).toMatchObject({ classname: 'diabetes_ridge', name: 'run' })
  })

  it('files comparison, slice and fairness checks, an inconclusive comparison as a passing case with its evidence', () => {
    const root = parseXml(renderJUnit(loadResult('comparison')))
    expect(root.attrs).toMatchObject({ tests: '7', failures: '1', errors: '0', skipped: '1' })
    const cases = findAll(root, 'testcase')
    expect(cases.map((c) => [c.attrs.name, c.children.map((child) => child.name)])).toEqual([
      ['threshold:accuracy>=0.95', []],
      ['comparison/test/accuracy/superiority', ['system-out']],
      ['comparison/test/roc_auc/non-inferiority', []],
      ['comparison/test/log_loss/non-inferiority', ['failure']],
      ['slice/test/large tumours/accuracy>=0.9', []],
      ['slice/test/smooth cells/accuracy>=0.9', ['skipped']],
      ['fairness/test/site/demographic_parity_difference<=0.1', []],
    ])
    expect(cases[1]!.children[0]!.text).toBe(
      [
        'WARNING: no detectable difference on accuracy: +0.018, 95% CI [−0.006, +0.041] (McNemar p = 0.45); superiority by 0.005: inconclusive (the CI includes a gain of 0.005; more rows would narrow it)',
        'value: 0.9591',
        'threshold: accuracy superiority +0.005',
        'baseline: 0.9415',
        'change: +0.01754',
        'interval: 95% CI [−0.006, +0.041]',
        'test: McNemar exact p = 0.45 (b = 5, c = 2)',
        'verdict: inconclusive',
        'method: paired bootstrap (BCa, 1000 resamples, seed 20261126, 95% CI); ' +
          'McNemar test, exact binomial (5 rows right only by the candidate, 2 only by the baseline; p = 0.45)',
        'severity: warn',
      ].join('\n'),
    )
    const failure = cases[3]!.children[0]!
    expect(failure.attrs).toEqual({
      message:
        'the new model is worse on log_loss: +0.036, 95% CI [+0.021, +0.050] (lower is better); non-inferiority within 0.020: fail (the whole CI is beyond an increase of 0.020)',
      type: 'comparison',
    })
    expect(failure.text.split('\n')).toEqual([
      'the new model is worse on log_loss: +0.036, 95% CI [+0.021, +0.050] (lower is better); non-inferiority within 0.020: fail (the whole CI is beyond an increase of 0.020)',
      'value: 0.1187',
      'threshold: log_loss non-inferiority −0.02',
      'baseline: 0.08314',
      'change: +0.0356',
      'interval: 95% CI [+0.021, +0.050]',
      'verdict: fail',
      'method: paired bootstrap (BCa, 1000 resamples, seed 20261126, 95% CI)',
      'severity: fail',
    ])
    expect(cases[5]!.children[0]!.attrs.message).toBe(
      'slice "smooth cells" (n = 19): fewer than min-size 30, reported but not gated: accuracy >= 0.9 skipped',
    )
  })
})
