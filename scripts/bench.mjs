// npm run bench: end-to-end throughput and peak memory of `modelgate validate` on a generated,
// seeded 1,000,000-row × 30-feature CSV, beside bare ONNX inference on the same rows (the baseline).
// Figures are ratios against that baseline, measured in the same run. Uses the built dist/ (npm run build).
import { spawn, spawnSync } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { mulberry32 } from './mulberry32.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const rows = Number(process.env.BENCH_ROWS ?? 1_000_000)
// The generated file is cached between runs; the name changes whenever the generator does.
const dir = path.join(os.tmpdir(), `modelgate-bench-v3-${rows}`)
const example = path.join(root, 'examples/breast-cancer')
const model = path.join(example, 'model.onnx')
const features = readFileSync(path.join(example, 'data/test.csv'), 'utf8')
  .split(/\r?\n/, 1)[0]
  .split(',')
  .filter((c) => c !== 'target')
if (features.length !== 30) throw new Error(`expected 30 features in the example, found ${features.length}`)

// Each feature ~ N(class mean, (SPREAD·sd)²) of the real training column: wider than the real data, so
// that the classes overlap and the metrics are not trivially perfect.
const SPREAD = 3
async function generate(file) {
  const train = readFileSync(path.join(example, 'data/train.csv'), 'utf8').trim().split(/\r?\n/)
  const header = train[0].split(',')
  const data = train.slice(1).map((l) => l.split(',').map(Number))
  const t = header.indexOf('target')
  const stats = [0, 1].map((cls) => {
    const rowsOf = data.filter((r) => r[t] === cls)
    return features.map((f) => {
      const j = header.indexOf(f)
      const xs = rowsOf.map((r) => r[j])
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length
      const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length)
      return { mean, sd }
    })
  })
  const rand = mulberry32(20261126)
  const normal = () => Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand())
  const out = createWriteStream(file)
  out.write(`${[...features, 'target'].join(',')}\n`)
  let chunk = ''
  for (let i = 0; i < rows; i++) {
    const cls = rand() < 0.63 ? 1 : 0
    const s = stats[cls]
    let line = ''
    for (let j = 0; j < s.length; j++) line += `${(s[j].mean + SPREAD * s[j].sd * normal()).toPrecision(6)},`
    chunk += `${line}${cls}\n`
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise((r) => out.once('drain', r))
      chunk = ''
    }
  }
  out.write(chunk)
  await new Promise((r) => out.end(r))
}

function child(args) {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 })
  if (r.status !== 0 && r.status !== 1) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  const line = r.stdout.trim().split('\n').pop()
  return JSON.parse(line)
}

// The parts measured besides the CLI (bench/parts.ts), bundled from the same sources as dist/ but not shipped in it.
spawnSync(
  process.execPath,
  [
    path.join(root, 'node_modules/@vercel/ncc/dist/ncc/cli.js'),
    'build',
    'bench/parts.ts',
    '-o',
    'node_modules/.cache/modelgate-bench',
    '-t',
    '-q',
  ],
  { cwd: root, stdio: 'inherit' },
)

mkdirSync(dir, { recursive: true })
const csv = path.join(dir, 'bench.csv')
if (!existsSync(csv)) {
  const t = Date.now()
  await generate(csv)
  console.log(`generated ${csv} (${(statSync(csv).size / 1e6).toFixed(0)} MB) in ${((Date.now() - t) / 1000).toFixed(1)} s`)
}
writeFileSync(
  path.join(dir, 'modelgate.yml'),
  `name: bench\nmodel: ${model}\nfeatures: [${features.join(', ')}]\nlabel: target\ndata: ${csv}\nbatch-size: 4096\nthresholds:\n  - accuracy >= 0.5\n`,
)

// Each run three times, in alternation, reporting the median: a single run on a shared machine is noise.
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3)
const runs = { bare: [], read: [], e2e: [], csvOut: [], parquetOut: [] }
for (let i = 0; i < REPEAT; i++) {
  runs.bare.push(child([path.join(root, 'scripts/bench-child.mjs'), 'bare', csv, model, String(features.length)]))
  runs.read.push(child([path.join(root, 'scripts/bench-child.mjs'), 'read', csv, features.join(',')]))
  runs.e2e.push(child([path.join(root, 'scripts/bench-child.mjs'), 'e2e', path.join(dir, 'modelgate.yml')]))
  runs.csvOut.push(child([path.join(root, 'scripts/bench-child.mjs'), 'e2e', path.join(dir, 'modelgate.yml'), 'csv']))
  runs.parquetOut.push(child([path.join(root, 'scripts/bench-child.mjs'), 'e2e', path.join(dir, 'modelgate.yml'), 'parquet']))
}
const median = (rs) => [...rs].sort((a, b) => a.seconds - b.seconds)[Math.floor(rs.length / 2)]
const [bare, read, e2e, csvOut, parquetOut] = [runs.bare, runs.read, runs.e2e, runs.csvOut, runs.parquetOut].map(median)

const fmt = (n) => Math.round(n).toLocaleString('en-US')
console.log(
  `\nmodelgate bench (median of ${REPEAT} runs): ${fmt(rows)} rows × ${features.length} features, ${os.cpus()[0].model}, ${os.cpus().length} cores, Node ${process.version}`,
)
console.log(`| run | seconds | rows/s | peak RSS (MB) | vs bare inference |`)
console.log(`|---|---|---|---|---|`)
for (const [name, r] of [
  ['bare ONNX inference (baseline)', bare],
  ['read CSV only', read],
  ['modelgate validate, end to end', e2e],
  ['… and --predictions out.csv', csvOut],
  ['… and --predictions out.parquet', parquetOut],
]) {
  console.log(
    `| ${name} | ${r.seconds.toFixed(2)} | ${fmt(rows / r.seconds)} | ${(r.maxRssKb / 1024).toFixed(0)} | ${(r.seconds / bare.seconds).toFixed(2)}× time |`,
  )
}
if (e2e.metrics) console.log(`\nend-to-end metrics: accuracy ${e2e.metrics.accuracy.toFixed(4)}, roc_auc ${e2e.metrics.roc_auc.toFixed(4)}`)

// Champion vs challenger: accuracy, roc_auc, log_loss, f1 and brier compared with BCa intervals, McNemar and
// DeLong, beside the straightforward paired bootstrap (materialised resamples, percentile only) as baseline.
const CMP_ROWS = 10_000
const CMP_RESAMPLES = 1_000
const cmp = { compare: [], naive: [] }
for (let i = 0; i < REPEAT; i++) {
  for (const mode of ['compare', 'naive'])
    cmp[mode].push(child([path.join(root, 'scripts/bench-child.mjs'), mode, String(CMP_ROWS), String(CMP_RESAMPLES)]))
}
const [fast, naive] = [median(cmp.compare), median(cmp.naive)]
console.log(`\nchampion vs challenger, ${fmt(CMP_ROWS)} rows × ${fmt(CMP_RESAMPLES)} resamples, 5 metrics (median of ${REPEAT}):`)
console.log(`| run | seconds | vs naive bootstrap |`)
console.log(`|---|---:|---:|`)
console.log(`| naive paired bootstrap, percentile only (baseline) | ${naive.seconds.toFixed(3)} | 1.00× |`)
console.log(`| modelgate comparison (BCa, McNemar, DeLong) | ${fast.seconds.toFixed(3)} | ${(fast.seconds / naive.seconds).toFixed(2)}× |`)

// test-robustness: K perturbations are batched so that they cost about K clean passes.
const ROB_ROWS = 20_000
console.log(`\ntest-robustness, ${fmt(ROB_ROWS)} rows, K gaussian-noise perturbations (median of ${REPEAT}):`)
console.log(
  `| K | clean pass (s) | K perturbations (s) | model time per perturbation vs clean pass | wall time per perturbation vs clean pass | model calls | rows scored |`,
)
console.log(`|---:|---:|---:|---:|---:|---:|---:|`)
for (const k of [5, 10]) {
  const rs = []
  for (let i = 0; i < REPEAT; i++) {
    rs.push(
      child([
        path.join(root, 'scripts/bench-child.mjs'),
        'robustness',
        model,
        csv,
        features.join(','),
        'target',
        String(k),
        String(ROB_ROWS),
      ]),
    )
  }
  const r = [...rs].sort((a, b) => a.ratioPerPerturbation - b.ratioPerPerturbation)[Math.floor(rs.length / 2)]
  const modelRatio = r.modelSeconds / k / r.cleanSeconds
  console.log(
    `| ${k} | ${r.cleanSeconds.toFixed(3)} | ${r.perturbedSeconds.toFixed(3)} | ${modelRatio.toFixed(2)}× | ${r.ratioPerPerturbation.toFixed(2)}× | ${fmt(r.modelCalls)} | ${fmt(r.rowsScored)} |`,
  )
}

// register-version to an OCI registry (Debian's docker-registry on loopback): uploads stream from disk in
// chunks, so peak memory must not grow with the model. Seeded random weights of 64 MB and 512 MB; the
// baseline is reading and hashing the same file once, in the same run.
async function startRegistry() {
  const home = mkdtempSync(path.join(os.tmpdir(), 'mg-bench-registry-'))
  const port = 20000 + Math.floor(Math.random() * 20000)
  writeFileSync(
    path.join(home, 'config.yml'),
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${home}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  )
  const proc = spawn('docker-registry', ['serve', path.join(home, 'config.yml')], { stdio: 'ignore' })
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/v2/`)).ok)
        return { port, stop: () => (proc.kill(), rmSync(home, { recursive: true, force: true })) }
    } catch {
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  throw new Error('docker-registry did not start (apt-get install docker-registry)')
}

function weights(file, megabytes) {
  if (existsSync(file) && statSync(file).size === megabytes << 20) return
  const rand = mulberry32(megabytes)
  const out = Buffer.alloc(1 << 20)
  writeFileSync(file, '')
  for (let m = 0; m < megabytes; m++) {
    for (let i = 0; i < out.length; i += 4) out.writeUInt32LE(Math.floor(rand() * 2 ** 32), i)
    writeFileSync(file, out, { flag: 'a' })
  }
}

const registry = await startRegistry()
try {
  console.log(`\nregister-version to an OCI registry (docker-registry on loopback), median of ${REPEAT}:`)
  console.log(`| model | read + hash once (s, baseline) | modelgate register (s) | vs baseline | peak RSS (MB) |`)
  console.log(`|---:|---:|---:|---:|---:|`)
  const peaks = []
  for (const mb of [64, 512]) {
    const file = path.join(dir, `weights-${mb}.bin`)
    weights(file, mb)
    const hashes = []
    const pushes = []
    for (let i = 0; i < REPEAT; i++) {
      hashes.push(child([path.join(root, 'scripts/bench-child.mjs'), 'hash', file]))
      pushes.push(
        child([path.join(root, 'scripts/bench-child.mjs'), 'push', file, `oci://127.0.0.1:${registry.port}/bench`, `m${mb}-${i}`]),
      )
    }
    const [h, p] = [median(hashes), median(pushes)]
    peaks.push(p.maxRssKb)
    console.log(
      `| ${mb} MB | ${h.seconds.toFixed(2)} | ${p.seconds.toFixed(2)} | ${(p.seconds / h.seconds).toFixed(2)}× | ${(p.maxRssKb / 1024).toFixed(0)} |`,
    )
  }
  console.log(`peak RSS at 512 MB vs 64 MB: ${(peaks[1] / peaks[0]).toFixed(2)}× (8× the bytes)`)
} finally {
  registry.stop()
}
