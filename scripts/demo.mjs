#!/usr/bin/env node
/*
 * `npm run demo`: the whole model lifecycle on the breast-cancer example, with the bundled CLI
 * (dist/cli/index.js) in child processes: validate → robustness → register → deploy with a canary →
 * a broken retrain the gates stop → an unstable version whose deploy rolls back.
 *
 * Everything lands in one folder (demo-output/, or $MODELGATE_DEMO_OUT): the manifests, the local
 * registry, the staging environment (.modelgate/, since the CLI runs with that folder as its cwd),
 * every report and every command's log (the command, its exit code and all it printed). It prints one
 * line per decision, each checked against those files, and exits 0 when each stage decided as expected,
 * 1 naming the stage that did not, 2 when it cannot start.
 */
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import YAML from 'yaml'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const CLI = path.join(ROOT, 'dist', 'cli', 'index.js')
const EXAMPLE = path.join(ROOT, 'examples', 'breast-cancer')
const OUT = path.resolve(ROOT, process.env.MODELGATE_DEMO_OUT || 'demo-output')
// The example is copied into the output folder, the CLI's working directory: modelgate reads and
// writes only inside its workspace (the working directory and the manifest's folder).
const COPY = path.join(OUT, 'example')
const MARKER = '.modelgate-demo'
const NAME = 'breast-cancer-logreg'
const ENV = 'staging'
const shown = (p) => path.relative(process.cwd(), p) || '.'

class Surprise extends Error {}

/** Refuses to wipe a folder the demo did not make (or the repository itself). */
function prepareOutput() {
  if (ROOT === OUT || ROOT.startsWith(OUT + path.sep)) fail(`${OUT} contains the repository; choose another MODELGATE_DEMO_OUT`)
  if (existsSync(OUT) && readdirSync(OUT).length > 0 && !existsSync(path.join(OUT, MARKER)))
    fail(`${shown(OUT)} exists and was not made by the demo; remove it or set MODELGATE_DEMO_OUT`)
  for (const need of [CLI, path.join(EXAMPLE, 'demo', 'broken.onnx'), path.join(EXAMPLE, 'demo', 'unstable.onnx')])
    if (!existsSync(need)) fail(`${shown(need)} is missing (a fresh clone has it; run npm ci in the repository root)`)
  rmSync(OUT, { recursive: true, force: true })
  for (const dir of ['reports', 'logs']) mkdirSync(path.join(OUT, dir), { recursive: true })
  writeFileSync(path.join(OUT, MARKER), 'made by scripts/demo.mjs: deleted and recreated on every run\n')
  cpSync(EXAMPLE, COPY, { recursive: true })
}

function fail(message) {
  console.error(`demo: ${message}`)
  process.exit(2)
}

/**
 * Two manifests from the example's, with absolute paths: modelgate.yml (the example, plus the registry
 * policy and the staging environment) and first-release.yml for validating 1.0.0, which had no model
 * before it to be compared with and whose trainer's predictions are not the ones the example ships.
 */
function writeManifests() {
  const m = YAML.parse(readFileSync(path.join(COPY, 'modelgate.yml'), 'utf8'))
  const abs = (p) => path.resolve(COPY, p)
  m.model = abs(m.model)
  m.baseline = abs(m.baseline)
  m.data = m.data.map((d) => ({ ...d, path: abs(d.path), ...(d.contract ? { contract: abs(d.contract) } : {}) }))
  m['reference-predictions'].path = abs(m['reference-predictions'].path)
  m.registry = {
    uri: 'local:registry',
    stages: ['dev', 'staging', 'prod'],
    promotion: ['dev', 'staging', 'prod'],
    require: { prod: ['validate-model', 'test-robustness'] },
  }
  m.deploy = { timeout: 60, environments: { [ENV]: { target: 'local', canary: [10, 50] } } }
  const header = '# Written by scripts/demo.mjs from examples/breast-cancer/modelgate.yml.\n'
  writeFileSync(path.join(OUT, 'modelgate.yml'), header + YAML.stringify(m))

  const first = { ...m, model: abs('baseline.onnx'), thresholds: m.thresholds.filter((t) => !/\bbaseline\b/.test(t)) }
  for (const key of ['baseline', 'reference-predictions', 'comparison', 'registry', 'deploy']) delete first[key]
  const { 'max-regression': _, ...slices } = m.slices
  first.slices = slices
  writeFileSync(
    path.join(OUT, 'first-release.yml'),
    header + '# validate-model for the first release: nothing to compare with.\n' + YAML.stringify(first),
  )
}

let logCount = 0

/** An argument as a POSIX shell would need it, so a log's command line can be pasted back. */
const quote = (arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)

/** Runs the CLI in OUT, without --quiet: logs/NN-<name>.log gets the command, its exit code and all it printed. */
function cli(name, args) {
  const file = path.join(OUT, 'logs', `${String(++logCount).padStart(2, '0')}-${name}.log`)
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: OUT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => {
      const command = `# in ${OUT}, modelgate = node ${CLI}\n$ modelgate ${args.map(quote).join(' ')}\n# exit ${code}\n`
      const streams = [stdout && `\n# stdout\n${stdout}`, stderr && `\n# stderr\n${stderr}`].filter(Boolean).join('')
      writeFileSync(file, `${command}${streams}`)
      resolve({ code, stdout, stderr, log: path.relative(OUT, file) })
    })
  })
}

const report = (file) => JSON.parse(readFileSync(path.join(OUT, 'reports', file), 'utf8'))
const rp = (file) => path.join('reports', file)

/** Prints the decision; throws when the exit code is not the one the story expects. */
function decide(stage, what, r, expected, text) {
  if (r.code !== expected) {
    let decision
    try {
      decision = text()
    } catch {
      decision = why(r)
    }
    console.log(line(stage, what, `exit ${r.code}`, decision))
    throw new Surprise(`stage ${stage} ${what}: expected exit ${expected}, got ${r.code} (see ${path.join(shown(OUT), r.log)})`)
  }
  let decision
  try {
    decision = text()
  } catch (e) {
    throw new Surprise(`stage ${stage} ${what}: exit ${r.code} as expected, but ${e.message} (see ${path.join(shown(OUT), r.log)})`)
  }
  console.log(line(stage, what, `exit ${r.code}`, decision))
}

const line = (stage, what, code, text) => `${stage.padEnd(3)}${what.padEnd(30)}${code.padEnd(8)}${text}`

/** Throws when a decision is not the one the story expects, though its exit code was. */
function expect(ok, stage, message) {
  if (!ok) throw new Surprise(`stage ${stage} ${message}`)
}

/** The CLI's error line (the progress lines before it left out), without its "modelgate: " prefix. */
function why(r) {
  const lines = r.stderr.trim().split('\n')
  const error = lines.find((l) => /^(error|modelgate): /i.test(l)) ?? lines[0] ?? ''
  return error.replace(/^(error|modelgate): /i, '')
}
const f4 = (x) => (typeof x === 'number' ? x.toFixed(4) : String(x))

function validated(file) {
  const v = report(file)
  const m = v.metrics
  const failed = v.checks.filter((c) => c.status === 'fail')
  const head = `${v.status}: accuracy ${f4(m.accuracy)}, roc_auc ${f4(m.roc_auc)}`
  const vs = v.baseline ? ` (baseline ${f4(v.baseline.metrics.accuracy)}, ${f4(v.baseline.metrics.roc_auc)})` : ''
  if (failed.length === 0) return `${head}${vs}; ${v.checks.length} of ${v.checks.length} checks passed`
  // The absolute thresholds say it best; the log has the rest.
  const gates = failed.filter((c) => c.kind === 'threshold').map((c) => c.threshold?.expression ?? c.id)
  return `${head}${vs}; ${failed.length} of ${v.checks.length} checks failed, among them ${gates.join(', ')}`
}

function robust(file) {
  const r = report(file)
  const failed = r.checks.filter((c) => c.status === 'fail')
  const first = failed[0]?.message.split(':')[0]
  return `${r.status}: ${failed.length} of ${r.checks.length} tests failed: ${failed.map((c) => c.id).join(', ')} (${first ?? 'none'})`
}

/** A version's folder in the local registry. */
const stored = (version, ...parts) => path.join('registry', NAME, 'versions', version, ...parts)

/**
 * The reports given as evidence, then the golden requests register made itself (rows with the model's own
 * answers, which deploy checks servers against): the registry lists both as evidence (golden-requests:stored).
 */
function registered(file) {
  const r = report(file)
  const bump = r.record.parent ? `${r.record.bump.kind} bump from ${r.record.parent}` : 'explicit'
  const reports = r.record.evidence.filter((e) => e.kind !== 'golden-requests').map((e) => `${e.kind} ${e.status}`)
  const golden = r.record.evidence
    .filter((e) => e.kind === 'golden-requests')
    .map((e) => `${JSON.parse(readFileSync(path.join(OUT, stored(r.version, 'evidence', e.file)), 'utf8')).rows.length} golden requests`)
  const stage = r.stage ? `, stage ${r.stage.stage}` : ''
  return `${r.version} (${bump})${stage}; evidence: ${[reports.join(', ') || 'no reports', ...golden].join(', ')}`
}

/**
 * A refusal names the evidence by the name the registry stored it under (`test-robustness.json`): says
 * which of the demo's reports that is, and where the copy is, once the bytes show they are the same file.
 */
function refusal(text, version) {
  const named = /\(([\w.-]+\.json)\) has status/.exec(text)?.[1]
  const copy = named && stored(version, 'evidence', named)
  if (!copy || !existsSync(path.join(OUT, copy))) return text
  const bytes = readFileSync(path.join(OUT, copy))
  const original = readdirSync(path.join(OUT, 'reports')).find((f) => readFileSync(path.join(OUT, 'reports', f)).equals(bytes))
  return original ? text.replace(`(${named})`, `(${rp(original)}, stored with ${version} as ${copy})`) : text
}

function deployed(file) {
  const d = report(file)
  const rollback = d.rolledBack ? d.steps.at(-1) : undefined
  const steps = d.steps
    .filter((s) => s !== rollback)
    .map((s) => `${s.name} ${s.status}${s.status === 'fail' ? ` (${s.message.split('\n')[0].replace(/ \(row \d+:.*\)$/, '')})` : ''}`)
  const end = rollback
    ? `; rolled back to ${d.rolledBackTo} (${rollback.status === 'pass' ? 'verified' : 'NOT verified'})`
    : d.status === 'success'
      ? `; ${ENV} serves ${d.version}`
      : ''
  return `${d.status}: ${steps.join(', ')}${end}`
}

/** Stops the environment's server, when it answers as one: never a stranger that reused the pid. */
async function stopServer() {
  const file = path.join(OUT, '.modelgate', 'environments', NAME, ENV, 'server.json')
  if (!existsSync(file)) return undefined
  const info = JSON.parse(readFileSync(file, 'utf8'))
  const alive = await fetch(`${info.url}/v2/health/live`, { signal: AbortSignal.timeout(2000) }).then(
    (r) => r.ok,
    () => false,
  )
  if (!alive) return undefined
  process.kill(info.pid, 'SIGTERM')
  const running = () => {
    try {
      process.kill(info.pid, 0)
      return true
    } catch {
      return false
    }
  }
  for (let i = 0; i < 200 && running(); i++) await new Promise((r) => setTimeout(r, 50))
  return info
}

/** Stops a server a run before this one left behind, then starts afresh. */
async function prepare() {
  if (existsSync(path.join(OUT, MARKER))) await stopServer()
  prepareOutput()
  writeManifests()
}

async function main() {
  const started = performance.now()
  await prepare()
  const model = (f) => path.join(COPY, f)
  const demoModel = (f) => path.join(COPY, 'demo', f)
  const version = (file) => report(file).version
  const status = (file) => report(file).status
  console.log(`modelgate demo: ${NAME}, validate → robustness → register → deploy, everything in ${shown(OUT)}/`)

  // a. The model in production today: validated on its own, registered, deployed (first deploy: 100%).
  let r = await cli('validate-baseline', ['validate', '--config', 'first-release.yml', '--report', rp('validate-baseline.json')])
  decide('a.', 'validate baseline.onnx', r, 0, () => validated('validate-baseline.json'))
  r = await cli('register-1.0.0', [
    'register',
    '--model',
    model('baseline.onnx'),
    '--version',
    '1.0.0',
    '--stage',
    'dev',
    '--evidence',
    rp('validate-baseline.json'),
    '--description',
    'the production model: logistic regression on the 10 mean_* features',
    '--report',
    rp('register-1.0.0.json'),
  ])
  decide('a.', 'register baseline.onnx', r, 0, () => registered('register-1.0.0.json'))
  r = await cli('deploy-1.0.0', ['deploy', '--environment', ENV, '--version', '1.0.0', '--report', rp('deploy-1.0.0.json')])
  decide('a.', `deploy 1.0.0 → ${ENV}`, r, 0, () => deployed('deploy-1.0.0.json'))

  // b. The candidate: better than the baseline, but robustness finds that NaN in gives NaN out.
  r = await cli('validate-model', ['validate', '--report', rp('validate-model.json')])
  decide('b.', 'validate model.onnx', r, 0, () => validated('validate-model.json'))
  r = await cli('robustness-model', ['robustness', '--report', rp('robustness-model.json')])
  decide('b.', 'robustness model.onnx', r, 1, () => robust('robustness-model.json'))
  r = await cli('register-1.0.1', [
    'register',
    '--model',
    model('model.onnx'),
    '--stage',
    'dev',
    '--evidence',
    rp('validate-model.json'),
    '--evidence',
    rp('robustness-model.json'),
    '--description',
    'the candidate: logistic regression on all 30 features',
    '--report',
    rp('register-1.0.1.json'),
  ])
  decide('b.', 'register model.onnx', r, 0, () => registered('register-1.0.1.json'))
  expect(version('register-1.0.1.json') === '1.0.1', 'b.', `register: expected 1.0.1, got ${version('register-1.0.1.json')}`)
  r = await cli('promote-1.0.1-staging', ['registry', 'promote', '1.0.1', ENV])
  decide('b.', `promote 1.0.1 → ${ENV}`, r, 0, () => `done: ${r.stdout.trim().split('\n')[0]}`)
  r = await cli('deploy-1.0.1', ['deploy', '--environment', ENV, '--version', '1.0.1', '--report', rp('deploy-1.0.1.json')])
  decide('b.', `deploy 1.0.1 → ${ENV}`, r, 0, () => deployed('deploy-1.0.1.json'))
  const canary = report('deploy-1.0.1.json').steps.map((s) => s.name)
  expect(
    canary.join() === 'canary 10%,canary 50%,promote 100%',
    'b.',
    `deploy: expected a canary 10% → 50% → 100%, got ${canary.join(' → ')}`,
  )

  // c. The policy: prod demands passing validate-model and test-robustness reports.
  r = await cli('promote-1.0.1-prod', ['registry', 'promote', '1.0.1', 'prod'])
  decide('c.', 'promote 1.0.1 → prod', r, 2, () => `refused: ${refusal(why(r), '1.0.1')}`)
  expect(/test-robustness/.test(r.stderr), 'c.', `promote: refused, but not for its test-robustness report: ${why(r)}`)

  // d. A retrain with an export bug: the gates stop it, so it is never registered.
  r = await cli('validate-broken', ['validate', '--model', demoModel('broken.onnx'), '--report', rp('validate-broken.json')])
  decide('d.', 'validate demo/broken.onnx', r, 1, () => validated('validate-broken.json'))
  expect(status('validate-broken.json') === 'fail', 'd.', 'validate: expected the gates to fail')
  console.log(line('d.', '', '', 'stopped by the gates: broken.onnx is not registered'))

  // e. A version that registers but answers differently on every call: the canary catches it.
  r = await cli('register-1.0.2', [
    'register',
    '--model',
    demoModel('unstable.onnx'),
    '--stage',
    'dev',
    '--report',
    rp('register-1.0.2.json'),
  ])
  decide('e.', 'register demo/unstable.onnx', r, 0, () => registered('register-1.0.2.json'))
  expect(version('register-1.0.2.json') === '1.0.2', 'e.', `register: expected 1.0.2, got ${version('register-1.0.2.json')}`)
  r = await cli('deploy-1.0.2', ['deploy', '--environment', ENV, '--version', '1.0.2', '--report', rp('deploy-1.0.2.json')])
  decide('e.', `deploy 1.0.2 → ${ENV}`, r, 1, () => deployed('deploy-1.0.2.json'))
  const after = report('deploy-1.0.2.json')
  expect(
    after.rolledBack && after.rolledBackTo === '1.0.1' && after.steps.at(-1)?.status === 'pass',
    'e.',
    `deploy: expected a verified rollback to 1.0.1, got ${after.rolledBackTo ?? 'none'}`,
  )

  // f. Where things stand, then leave no process behind.
  r = await cli('registry-list', ['registry', 'list', '--json'])
  const list = JSON.parse(r.stdout)
  const current = list.stages.current
  const stages = Object.entries(current).map(([stage, v]) => `${stage} → ${v}`)
  decide(
    'f.',
    'registry list',
    r,
    0,
    () => `${list.versions.length} versions; stages: ${stages.join(', ')}; prod: ${current.prod ?? 'none'}`,
  )
  expect(current[ENV] === '1.0.1' && !current.prod, 'f.', `registry: expected staging → 1.0.1 and no prod, got ${JSON.stringify(current)}`)
  const table = (await cli('registry-list-text', ['registry', 'list'])).stdout
  writeFileSync(path.join(OUT, 'reports', 'registry-list.txt'), table)
  for (const row of table.trimEnd().split('\n')) console.log(`     ${row}`)
  // The table lists golden requests among the evidence (as stored, not passed): say what they are.
  const golden = new Set(
    list.versions.flatMap((v) =>
      v.evidence
        .filter((e) => e.kind === 'golden-requests')
        .map((e) => JSON.parse(readFileSync(path.join(OUT, stored(v.version, 'evidence', e.file)), 'utf8')).rows.length),
    ),
  )
  if (golden.size > 0) {
    const rows = golden.size === 1 ? `${[...golden][0]} rows` : 'rows'
    console.log(
      `     golden-requests: not a report but ${rows} with the version's own answers, stored by register for deploy to check servers against`,
    )
  }
  const server = await stopServer()
  expect(server !== undefined, 'f.', `no ${ENV} server was running`)
  console.log(line('f.', `${ENV} server`, '', `served 1.0.1 at ${server.url}; stopped (pid ${server.pid})`))

  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  console.log(`demo: every stage decided as expected (${seconds} s)`)
  console.log(`  reports  ${shown(path.join(OUT, 'reports'))}/  validate, robustness, register and deploy JSON, and registry-list.txt`)
  console.log(`  logs     ${shown(path.join(OUT, 'logs'))}/  each command with its exit code and all it printed`)
  console.log(`  registry ${shown(path.join(OUT, 'registry'))}/, environment ${shown(path.join(OUT, '.modelgate', 'environments'))}/`)
}

process.on('SIGINT', () => {
  stopServer()
    .catch(() => undefined)
    .finally(() => process.exit(130))
})

main().catch(async (e) => {
  await stopServer().catch(() => undefined)
  console.error(e instanceof Surprise ? `demo: ${e.message}` : e)
  process.exit(1)
})
