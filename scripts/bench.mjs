// npm run bench: modelgate against the route users would take instead, measured in the same run.
// On seeded generated data (the breast-cancer example's 30 features, 1M and 10M rows; CSV and Parquet
// of the same rows), every figure is a ratio against baselines run alternately with it:
//   - the Python route: pandas read_csv + the model's arithmetic in numpy + scikit-learn's metrics;
//   - the floor: a bare byte parse into a Float32Array and bare ONNX inference on it, one thread;
// then modelgate validate end to end (CSV, Parquet, with and without a baseline comparison) and
// modelgate robustness with K = 0, 5, 10 perturbations. Wall time, rows/s and peak RSS, medians.
// BENCH_SIZES=1000000,10000000 (rows), BENCH_REPEAT=3, BENCH_ROBUSTNESS_ROWS=200000. Uses dist/ (npm run build).
import { spawn, spawnSync } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { mulberry32 } from './mulberry32.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SIZES = (process.env.BENCH_SIZES ?? process.env.BENCH_ROWS ?? '1000000,10000000').split(',').map(Number)
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3)
const ROB_ROWS = Number(process.env.BENCH_ROBUSTNESS_ROWS ?? 200_000)
const example = path.join(root, 'examples/breast-cancer')
const model = path.join(example, 'model.onnx')
const baseline = path.join(example, 'baseline.onnx')
const features = readFileSync(path.join(example, 'data/test.csv'), 'utf8')
  .split(/\r?\n/, 1)[0]
  .split(',')
  .filter((c) => c !== 'target')
if (features.length !== 30) throw new Error(`expected 30 features in the example, found ${features.length}`)

// Each feature ~ N(class mean, (SPREAD·sd)²) of the real training column: wider than the real data, so
// that the classes overlap and the metrics are not trivially perfect.
const SPREAD = 3
async function generate(file, rows) {
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

function child(args, opts = {}) {
  const r = spawnSync(opts.command ?? process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 })
  if (r.status !== 0 && r.status !== 1) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  const line = r.stdout.trim().split('\n').pop()
  // A child that printed no result (killed, out of memory, a traceback) says why instead of a JSON error.
  if (!line?.startsWith('{')) throw new Error(`${args.join(' ')} exited ${r.status ?? r.signal} without a result: ${r.stderr.slice(-2000)}`)
  return JSON.parse(line)
}
/** `child`, but without blocking: for runs measured side by side. */
function childAsync(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { cwd: root })
    let out = ''
    let err = ''
    proc.stdout.on('data', (d) => (out += d))
    proc.stderr.on('data', (d) => (err += d))
    proc.on('close', (code) => {
      const line = out.trim().split('\n').pop()
      if (!line?.startsWith('{')) reject(new Error(`${args.join(' ')} exited ${code} without a result: ${err.slice(-2000)}`))
      else resolve(JSON.parse(line))
    })
  })
}
const CHILD = path.join(root, 'scripts/bench-child.mjs')
const median = (rs, key = 'seconds') => [...rs].sort((a, b) => a[key] - b[key])[Math.floor(rs.length / 2)]
const fmt = (n) => Math.round(n).toLocaleString('en-US')
const mb = (r) => (r.maxRssKb / 1024).toFixed(0)

// The parts measured besides the CLI (bench/parts.ts), bundled from the same sources as dist/ but not shipped in it.
const parts = spawnSync(
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
if (parts.status !== 0) {
  console.error('npm run bench: bundling bench/parts.ts failed (run npm ci first)')
  process.exit(2)
}

// The Python route needs Debian's pandas, scikit-learn and onnx (for the model's coefficients): found, or
// installed when this user may (a CI runner), or said to be unavailable.
function findPython() {
  const ok = (py) => spawnSync(py, ['-c', 'import pandas, sklearn, onnx'], { stdio: 'ignore' }).status === 0
  for (const py of ['/usr/bin/python3', 'python3']) if (ok(py)) return py
  if (process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0) {
    console.log('installing python3-pandas, python3-sklearn and python3-onnx for the Python route')
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' })
    spawnSync('apt-get', ['install', '-y', '-qq', 'python3-pandas', 'python3-sklearn', 'python3-onnx'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    })
    if (ok('/usr/bin/python3')) return '/usr/bin/python3'
  }
  return undefined
}
const python = findPython()
const pythonParquet =
  python && spawnSync(python, ['-c', 'import pandas; pandas.io.parquet.get_engine("auto")'], { stdio: 'ignore' }).status === 0
const PY_ROUTE = path.join(root, 'bench/python_route.py')

console.log(
  `modelgate bench: ${features.length} features, ${os.cpus()[0].model}, ${os.availableParallelism?.() ?? os.cpus().length} cores, Node ${process.version}, medians of ${REPEAT} alternating runs`,
)
if (!python)
  console.log(
    'the Python route is unavailable: no python3 with pandas, scikit-learn and onnx (apt-get install python3-pandas python3-sklearn python3-onnx)',
  )
else if (!pythonParquet)
  console.log('pandas has no Parquet engine here (pyarrow and fastparquet are not packaged in Debian): the Python route reads the CSV only')

const manifest = (dir, name, data, extra = '') => {
  const file = path.join(dir, `${name}.yml`)
  writeFileSync(
    file,
    `name: bench\nmodel: ${model}\nfeatures: [${features.join(', ')}]\nlabel: target\nclasses: [0, 1]\npositive-class: 1\ndata: ${data}\nbatch-size: 4096\nthresholds:\n  - accuracy >= 0.5\n${extra}`,
  )
  return file
}
const validate = (config) => [CHILD, 'cli', 'validate', '--config', config, '--quiet', '--allow-outside-workspace']

for (const rows of SIZES) {
  // Generated once and cached between runs; the folder's name changes whenever the generator does.
  const dir = path.join(os.tmpdir(), `modelgate-bench-v4-${rows}`)
  mkdirSync(dir, { recursive: true })
  const csv = path.join(dir, 'bench.csv')
  const parquet = path.join(dir, 'bench.parquet')
  if (!existsSync(csv)) {
    const t = Date.now()
    await generate(csv, rows)
    console.log(`generated ${csv} (${(statSync(csv).size / 1e6).toFixed(0)} MB) in ${((Date.now() - t) / 1000).toFixed(1)} s`)
  }
  if (!existsSync(parquet)) {
    const r = child([CHILD, 'parquet', csv, parquet])
    console.log(
      `wrote ${parquet} (${(statSync(parquet).size / 1e6).toFixed(0)} MB, snappy, 131,072-row groups) in ${r.seconds.toFixed(1)} s`,
    )
  }
  const clean = manifest(dir, 'clean', csv)
  const cleanParquet = manifest(dir, 'clean-parquet', parquet)
  const compared = manifest(
    dir,
    'compared',
    csv,
    `baseline: ${baseline}\ncomparison:\n  metrics: [accuracy, roc_auc, log_loss]\n  resamples: 1000\n  seed: 7\n`,
  )

  // Drift and integrity (issue 17) against a reference of the same size: a second read of as many rows,
  // through the model too (prediction drift), and the per-column statistics.
  const drifted = manifest(dir, 'drifted', csv, `drift:\n  reference: ${csv}\nintegrity: true\n`)
  const runs = { python: [], floor: [], csv: [], parquet: [], compared: [], drifted: [] }
  for (let i = 0; i < REPEAT; i++) {
    if (python) runs.python.push(child([PY_ROUTE, csv, model, features.join(','), 'target'], { command: python }))
    runs.floor.push(child([CHILD, 'floor', csv, model, String(features.length)]))
    runs.csv.push(child(validate(clean)))
    runs.parquet.push(child(validate(cleanParquet)))
    runs.compared.push(child(validate(compared)))
    runs.drifted.push(child(validate(drifted)))
  }
  const [py, floor, mgCsv, mgParquet, mgCompared, mgDrifted] = ['python', 'floor', 'csv', 'parquet', 'compared', 'drifted'].map(
    (k) => runs[k].length && median(runs[k]),
  )

  console.log(
    `\n${fmt(rows)} rows × ${features.length} features (CSV ${(statSync(csv).size / 1e6).toFixed(0)} MB, Parquet ${(statSync(parquet).size / 1e6).toFixed(0)} MB):`,
  )
  console.log('| run | seconds | rows/s | peak RSS (MB) | vs Python route | vs floor |')
  console.log('|---|---:|---:|---:|---:|---:|')
  const line = (name, r) =>
    console.log(
      `| ${name} | ${r.seconds.toFixed(2)} | ${fmt(rows / r.seconds)} | ${mb(r)} | ${py ? `${(py.seconds / r.seconds).toFixed(2)}× faster` : 'n/a'} | ${(r.seconds / floor.seconds).toFixed(2)}× |`,
    )
  if (py)
    line(
      `Python route: pandas read_csv + numpy + scikit-learn (imports ${py.importSeconds.toFixed(1)} s, read ${py.readSeconds.toFixed(1)} s)`,
      py,
    )
  line(`floor: bare parse (${floor.parseSeconds.toFixed(2)} s) + bare inference (${floor.inferSeconds.toFixed(2)} s), one thread`, floor)
  line('modelgate validate, CSV', mgCsv)
  line('modelgate validate, Parquet', mgParquet)
  line('modelgate validate, CSV, with the baseline comparison (1,000 resamples)', mgCompared)
  line('modelgate validate, CSV, with drift (a reference of as many rows) and integrity', mgDrifted)
  console.log(
    `targets: CSV ≥ 5× faster than Python: ${py ? (py.seconds / mgCsv.seconds).toFixed(2) + '×' : 'n/a'}; CSV ≤ 1.5× the floor: ${(mgCsv.seconds / floor.seconds).toFixed(2)}×; ` +
      `Parquet ≤ CSV: ${(mgParquet.seconds / mgCsv.seconds).toFixed(2)}×; comparison ≤ 3× the clean run: ${(mgCompared.seconds / mgCsv.seconds).toFixed(2)}×; drift and integrity: ${(mgDrifted.seconds / mgCsv.seconds).toFixed(2)}× the clean run; ` +
      `peak RSS ≤ 300 MB: ${mb(mgCsv)} / ${mb(mgParquet)} / ${mb(mgCompared)} MB`,
  )
  if (py) console.log(`same numbers: accuracy ${py.metrics.accuracy.toFixed(6)} (scikit-learn); roc_auc ${py.metrics.roc_auc.toFixed(6)}`)

  // Robustness and sharding once, on the first size.
  if (rows !== SIZES[0]) continue

  // Sharding (issue 16): n shards of the clean validate run side by side on this machine, then the merge.
  // Every shard reads the whole file and scores its blocks; the merge reads the shards' states only.
  console.log(`\nmodelgate validate sharded, n shards run concurrently on this machine, then merged (median of ${REPEAT}):`)
  console.log(
    '| shards | one shard alone (s: a job of the matrix on its own runner) | shards side by side here (s) | slowest shard peak RSS (MB) | merge (s) | merge peak RSS (MB) | state files (MB) | (alone + merge) vs one run | (side by side + merge) vs one run |',
  )
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const n of [2, 3]) {
    const results = []
    for (let i = 0; i < REPEAT; i++) {
      const states = mkdtempSync(path.join(os.tmpdir(), 'mg-bench-shards-'))
      const alone = child([...validate(clean), '--shard', `1/${n}`, '--shard-state', path.join(states, 'alone.json')])
      rmSync(path.join(states, 'alone.json'))
      const t = performance.now()
      const shards = await Promise.all(
        Array.from({ length: n }, (_, k) =>
          childAsync([...validate(clean), '--shard', `${k + 1}/${n}`, '--shard-state', path.join(states, `s${k + 1}.json`)]),
        ),
      )
      const wall = (performance.now() - t) / 1000
      const merged = child([CHILD, 'cli', 'merge', '--config', clean, '--quiet', '--allow-outside-workspace', states])
      const bytes = Array.from({ length: n }, (_, k) => statSync(path.join(states, `s${k + 1}.json`)).size).reduce((a, b) => a + b, 0)
      rmSync(states, { recursive: true, force: true })
      results.push({
        seconds: wall + merged.seconds,
        alone: alone.seconds,
        wall,
        merge: merged,
        shardRss: Math.max(...shards.map((r) => r.maxRssKb)),
        bytes,
      })
    }
    const r = median(results)
    console.log(
      `| ${n} | ${r.alone.toFixed(2)} | ${r.wall.toFixed(2)} | ${(r.shardRss / 1024).toFixed(0)} | ${r.merge.seconds.toFixed(2)} | ${mb(r.merge)} | ${(r.bytes / 1e6).toFixed(0)} | ${((r.alone + r.merge.seconds) / mgCsv.seconds).toFixed(2)}× | ${(r.seconds / mgCsv.seconds).toFixed(2)}× |`,
    )
  }

  // Robustness: K gaussian-noise invariance tests on a seeded row sample.
  const sample = Math.min(ROB_ROWS, rows)
  console.log(`\nmodelgate robustness, ${fmt(sample)} sampled rows, K gaussian-noise perturbations (median of ${REPEAT}):`)
  console.log('| K | seconds | peak RSS (MB) | vs K = 0 | target: ≤ 1.2 × (K + 1) |')
  console.log('|---:|---:|---:|---:|---:|')
  const rob = {}
  for (const k of [0, 5, 10]) {
    const perturbations =
      k === 0
        ? '[]'
        : `[{ kind: gaussian_noise, severity: [${Array.from({ length: k }, (_, i) => (0.05 * (i + 1)).toFixed(2)).join(', ')}] }]`
    const config = manifest(
      dir,
      `robustness-${k}`,
      csv,
      `robustness:\n  rows: ${sample}\n  perturbations: ${perturbations}\n  sensitivity: false\n  stress: false\n  determinism: false\n  time-budget: 100000\n`,
    )
    const rs = []
    for (let i = 0; i < REPEAT; i++)
      rs.push(child([CHILD, 'cli', 'robustness', '--config', config, '--quiet', '--allow-outside-workspace']))
    rob[k] = median(rs)
    console.log(
      `| ${k} | ${rob[k].seconds.toFixed(2)} | ${mb(rob[k])} | ${(rob[k].seconds / rob[0].seconds).toFixed(2)}× | ${(1.2 * (k + 1)).toFixed(1)}× |`,
    )
  }
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

// Debian's docker-registry: found, or installed when this user may (a CI runner), or said to be unavailable.
function registryInstalled() {
  const found = () => spawnSync('docker-registry', ['--version'], { stdio: 'ignore' }).status === 0
  if (found()) return true
  if (process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0) {
    console.log('installing docker-registry for the register-version part')
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' })
    spawnSync('apt-get', ['install', '-y', '-qq', 'docker-registry'], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    })
  }
  return found()
}

const registry = registryInstalled() ? await startRegistry() : undefined
if (!registry) console.log('\nregister-version: skipped, docker-registry is not installed here (apt-get install docker-registry)')
else
  try {
    console.log(`\nregister-version to an OCI registry (docker-registry on loopback), median of ${REPEAT}:`)
    console.log(`| model | read + hash once (s, baseline) | modelgate register (s) | vs baseline | peak RSS (MB) |`)
    console.log(`|---:|---:|---:|---:|---:|`)
    const peaks = []
    for (const mb of [64, 512]) {
      const file = path.join(os.tmpdir(), `modelgate-bench-weights-${mb}.bin`)
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
