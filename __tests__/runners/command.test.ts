import { describe, it, expect, afterEach } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { createCommandRunner } from '../../src/core/runners/command.js'
import { UserError } from '../../src/core/errors.js'
import type { ModelRunner } from '../../src/core/runners/types.js'
import { FIXTURES, REPO, breastCancerRows, featureBatch } from './helpers.js'

const EXAMPLE = `${REPO}examples/command-runner/`
const open: ModelRunner[] = []

afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()))
})

async function start(opts: Parameters<typeof createCommandRunner>[0]): Promise<ModelRunner> {
  const runner = await createCommandRunner(opts)
  open.push(runner)
  return runner
}

function fake(mode: string, timeoutSeconds?: number): Promise<ModelRunner> {
  return start({ command: ['python3', `${FIXTURES}fake_model.py`, mode], features: ['a', 'b'], timeoutSeconds })
}

interface Weights {
  classes: number[]
  intercept: number
  features: { name: string; mean: number; scale: number; coef: number }[]
}

/** The example model's arithmetic, in the same order, from the same weights file. */
function expectedProbability(weights: Weights, features: string[], row: (number | null)[]): number {
  let z = weights.intercept
  for (const t of weights.features) {
    const x = row[features.indexOf(t.name)]
    if (x !== null && x !== undefined) z += (t.coef * (x - t.mean)) / t.scale
  }
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z))
}

async function rejection(p: Promise<unknown>): Promise<UserError> {
  const e = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(e).toBeInstanceOf(UserError)
  return e as UserError
}

describe('command runner with the example model', () => {
  it('scores several batches with the logistic regression in weights.json', async () => {
    const weights = JSON.parse(readFileSync(`${EXAMPLE}weights.json`, 'utf8')) as Weights
    const { features, rows } = breastCancerRows()
    // Reverse the feature order so that the model must map columns by name, and drop one value.
    const order = [...features].reverse()
    const reordered: (number | null)[][] = rows.map((r) => order.map((f) => r[features.indexOf(f)]!))
    reordered[4]![order.indexOf('worst_area')] = null
    const runner = await start({ command: ['python3', 'model.py', 'weights.json'], cwd: EXAMPLE, features: order })

    const batches = [reordered.slice(0, 3), reordered.slice(3, 6), reordered.slice(6)]
    let offset = 0
    for (const batchRows of batches) {
      const out = await runner.predict(featureBatch(order, batchRows, offset))
      const p1 = batchRows.map((r) => expectedProbability(weights, order, r))
      expect(out.length).toBe(batchRows.length)
      expect(out.classes).toEqual([0, 1])
      expect(out.labels).toEqual(p1.map((p) => (p >= 0.5 ? 1 : 0)))
      p1.forEach((p, i) => {
        expect(Math.abs(out.probabilities![2 * i + 1]! - p)).toBeLessThanOrEqual(1e-12)
        expect(Math.abs(out.probabilities![2 * i]! - (1 - p))).toBeLessThanOrEqual(1e-12)
      })
      expect(out.sources).toEqual({ labels: 'labels', probabilities: 'probabilities' })
      offset += batchRows.length
    }
    expect(offset).toBe(7)
  })

  it('describes itself by its command line and what the model said in ready', async () => {
    const { features } = breastCancerRows()
    const runner = await start({ command: ['python3', 'model.py', 'weights.json'], cwd: EXAMPLE, features })
    const info = await runner.describe()
    expect(info.source).toBe('python3 model.py weights.json')
    expect(info.runner).toBe('command')
    expect(info.inputs).toEqual([{ name: 'rows', dtype: 'unknown', shape: [-1, 30] }])
    expect(info.notes).toEqual(
      expect.arrayContaining(['model name: breast-cancer-logreg', 'model version: 1', `working directory: ${EXAMPLE}`]),
    )
  })

  it('reports the model refusing the handshake when a feature it needs is not sent', async () => {
    const e = await rejection(
      createCommandRunner({
        command: ['python3', 'model.py', 'weights.json'],
        cwd: EXAMPLE,
        features: ['mean_radius'],
      }),
    )
    expect(e.message).toMatch(
      /^model command `python3 model.py weights.json` refused the hello handshake: features not sent by the runner: mean_texture, /,
    )
  })
})

describe('command runner failures', () => {
  it('sends rows in feature order with null for missing values', async () => {
    const runner = await fake('sum')
    const out = await runner.predict(
      featureBatch(
        ['a', 'b'],
        [
          [1, 2],
          [null, 5],
          [0.5, null],
        ],
      ),
    )
    expect(Array.from(out.values!)).toEqual([3, 5, 0.5])
    expect(out.sources).toEqual({ values: 'values' })
  })

  it('reports a process that exits non-zero at start, with its stderr', async () => {
    const e = await rejection(fake('exit-at-start'))
    expect(e.message).toMatch(/fake_model\.py exit-at-start` exited with code 3 before it was ready; the end of its stderr: "/)
    expect(e.message).toContain("ModuleNotFoundError: No module named 'sklearn'")
  })

  it('reports a crash in the middle of a batch, and every later call fails the same way', async () => {
    const runner = await fake('crash-mid-batch')
    const first = await runner.predict(featureBatch(['a', 'b'], [[1, 1]]))
    expect(Array.from(first.values!)).toEqual([2])
    const e = await rejection(runner.predict(featureBatch(['a', 'b'], [[2, 2]], 1)))
    expect(e.message).toMatch(/exited with code 1 while answering a request; the end of its stderr: "/)
    expect(e.message).toContain('segfault-ish: weights corrupted at batch 2')
    const again = await rejection(runner.predict(featureBatch(['a', 'b'], [[3, 3]], 2)))
    expect(again.message).toBe(e.message)
  })

  it('rejects a non-protocol line on stdout and says logs belong on stderr', async () => {
    const runner = await fake('malformed')
    const e = await rejection(runner.predict(featureBatch(['a', 'b'], [[1, 2]])))
    expect(e.message).toContain('protocol error: printed a line on stdout that is not a protocol message')
    expect(e.message).toContain('logs belong on stderr): "Loading model weights... done"')
  })

  it('rejects a reply with the wrong number of rows', async () => {
    const runner = await fake('wrong-length')
    const e = await rejection(
      runner.predict(
        featureBatch(
          ['a', 'b'],
          [
            [1, 2],
            [3, 4],
          ],
          10,
        ),
      ),
    )
    expect(e.message).toMatch(
      /^model command `python3 \S+fake_model\.py wrong-length` \(predict request 1\): returned 1 labels for a batch of 2 rows; the end of its stderr: "/,
    )
  })

  it('rejects a reply with another id', async () => {
    const runner = await fake('wrong-id')
    const e = await rejection(runner.predict(featureBatch(['a', 'b'], [[1, 2]])))
    expect(e.message).toContain('protocol error: replied with id 2 to predict request 1')
  })

  it('rejects probabilities without classes', async () => {
    const runner = await fake('probabilities-without-classes')
    const e = await rejection(runner.predict(featureBatch(['a', 'b'], [[1, 2]])))
    expect(e.message).toContain('probabilities were returned without the list of classes they belong to')
  })

  it('passes on an error reply for one batch and keeps serving the next', async () => {
    const runner = await fake('error-reply')
    const e = await rejection(
      runner.predict(
        featureBatch(
          ['a', 'b'],
          [
            [1, 2],
            [3, 4],
          ],
          100,
        ),
      ),
    )
    expect(e.message).toMatch(/error-reply` reported an error for rows 100–101: cannot convert 'abc' to float; the end of its stderr: "/)
    const out = await runner.predict(featureBatch(['a', 'b'], [[3, 4]], 102))
    expect(Array.from(out.values!)).toEqual([7])
  })

  it('kills a model that does not answer within the timeout', async () => {
    const runner = await fake('sleep', 0.4)
    const e = await rejection(runner.predict(featureBatch(['a', 'b'], [[1, 2]], 5)))
    expect(e.message).toMatch(/did not answer predict request 1 \(rows 5–5\) within 0\.4 s \(timeoutSeconds\); the process was killed/)
    const pid = Number(/fake_model pid=(\d+)/.exec(e.message)?.[1])
    await runner.close()
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }))
  })

  it('reports a command that cannot be started', async () => {
    const e = await rejection(createCommandRunner({ command: ['modelgate-no-such-program', '--serve'], features: ['a'] }))
    expect(e.message).toMatch(
      /^model command `modelgate-no-such-program --serve` cannot be started: modelgate-no-such-program was not found \(ENOENT\)/,
    )
  })

  it('reports a missing working directory', async () => {
    const e = await rejection(createCommandRunner({ command: ['python3', 'x.py'], cwd: '/nonexistent/dir', features: ['a'] }))
    expect(e.message).toBe('model command `python3 x.py`: working directory /nonexistent/dir does not exist')
  })
})
