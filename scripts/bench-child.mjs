// One measured run for scripts/bench.mjs, in its own process so that peak RSS is its own.
// Prints one JSON line: { seconds, maxRssKb, ... }.
import { readFileSync, mkdtempSync, openSync, readSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'

const [mode, ...args] = process.argv.slice(2)
const root = path.resolve(import.meta.dirname, '..')
// The measured parts that are not the CLI: their own bundle (bench/parts.ts), built by scripts/bench.mjs.
const PARTS = path.join(root, 'node_modules/.cache/modelgate-bench/index.js')
const WASM_DIR = path.join(root, 'dist/lib')
const done = (extra) => console.log(JSON.stringify({ ...extra, maxRssKb: process.resourceUsage().maxRSS }))

if (mode === 'floor') {
  // The hardware floor on one thread: the CSV's bytes parsed straight into a Float32Array (a bare decimal
  // parser: digits, one point, an exponent; no quotes, no checks) and fed to onnxruntime-web in batches
  // of 4096 rows, as the onnx runner feeds it. No metric, no report: the least any tool must do.
  const [csv, model, nFeatures] = args
  const ort = await import('onnxruntime-web')
  ort.env.wasm.numThreads = 1
  const F = Number(nFeatures)
  const session = await ort.InferenceSession.create(readFileSync(model))
  const t0 = performance.now()
  // Read in chunks of whole lines (Node reads at most 2 GiB at once; the 10M-row file is 2.8 GB).
  const CHUNK = 256 << 20
  const fd = openSync(csv, 'r')
  let bytes = Buffer.alloc(CHUNK + (1 << 20))
  let filled = 0
  let end = 0
  let pos = 0
  let eof = false
  const refill = () => {
    const tail = filled - pos
    bytes.copy(bytes, 0, pos, filled)
    filled = tail
    pos = 0
    if (bytes.length - filled < CHUNK) {
      const grown = Buffer.alloc(filled + CHUNK)
      bytes.copy(grown, 0, 0, filled)
      bytes = grown
    }
    const n = readSync(fd, bytes, filled, bytes.length - filled, null)
    if (n === 0) eof = true
    filled += n
    end = eof ? filled : bytes.lastIndexOf(10, filled - 1) + 1
  }
  refill()
  pos = bytes.indexOf(10) + 1
  const batch = 4096
  const x = new Float32Array(batch * F)
  let parseMs = 0
  let inferMs = 0
  let rows = 0
  for (;;) {
    if (pos >= end && !eof) refill()
    if (pos >= end) break
    const tp = performance.now()
    let m = 0
    while (m < batch) {
      if (pos >= end) {
        if (eof) break
        refill()
        if (pos >= end) break
      }
      for (let j = 0; j <= F; j++) {
        let neg = false
        let c = bytes[pos]
        if (c === 45) {
          neg = true
          pos++
        }
        let mant = 0
        let scale = 0
        let seenPoint = false
        for (;;) {
          c = bytes[pos]
          if (c >= 48 && c <= 57) {
            mant = mant * 10 + (c - 48)
            if (seenPoint) scale--
          } else if (c === 46) seenPoint = true
          else break
          pos++
        }
        if (c === 101 || c === 69) {
          pos++
          let eneg = false
          if (bytes[pos] === 45) {
            eneg = true
            pos++
          } else if (bytes[pos] === 43) pos++
          let e = 0
          for (c = bytes[pos]; c >= 48 && c <= 57; c = bytes[++pos]) e = e * 10 + (c - 48)
          scale += eneg ? -e : e
        }
        const v = scale < 0 ? mant / 10 ** -scale : mant * 10 ** scale
        if (j < F) x[m * F + j] = neg ? -v : v
        pos++ // the comma, or the newline after the label
      }
      m++
    }
    const ti = performance.now()
    parseMs += ti - tp
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x.subarray(0, m * F), [m, F]) })
    for (const v of Object.values(out)) v.dispose?.()
    inferMs += performance.now() - ti
    rows += m
  }
  done({ seconds: (performance.now() - t0) / 1000, parseSeconds: parseMs / 1000, inferSeconds: inferMs / 1000, rows })
} else if (mode === 'hash') {
  // The baseline of the OCI push: reading the file once, hashing it (what any upload must at least do).
  const [file] = args
  const { createHash } = await import('node:crypto')
  const { createReadStream } = await import('node:fs')
  const t = performance.now()
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk)
  hash.digest('hex')
  done({ seconds: (performance.now() - t) / 1000 })
} else if (mode === 'push') {
  // modelgate register to an OCI registry: hash, chunked upload from disk, manifest, tag, lock.
  const [file, registry, name] = args
  const t = performance.now()
  const { runModelgateCli } = await import('../dist/lib/index.js')
  await runModelgateCli(['register', '--model', file, '--name', name, '--registry', registry, '--quiet', '--allow-outside-workspace'])
  if (process.exitCode) throw new Error(`register exited ${process.exitCode}`)
  done({ seconds: (performance.now() - t) / 1000 })
} else if (mode === 'cli') {
  // Any modelgate command through the bundled CLI, in this process (its peak RSS is the command's).
  const t = performance.now()
  const { runModelgateCli } = await import('../dist/lib/index.js')
  await runModelgateCli(args)
  const seconds = (performance.now() - t) / 1000
  done({ seconds, exitCode: process.exitCode ?? 0 })
  process.exitCode = 0
} else if (mode === 'parquet') {
  // The benchmark's Parquet file, from its CSV.
  const [csv, out] = args
  const { csvToParquet } = await import(PARTS)
  const t = performance.now()
  done({ rows: await csvToParquet(csv, out), seconds: (performance.now() - t) / 1000 })
} else if (mode === 'e2e') {
  // What a user runs: the bundled CLI, process start to exit, reading the CSV and computing every metric.
  // With a second argument (csv or parquet), also --predictions: a row per data row written as it streams.
  const [config, predictions] = args
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mg-bench-'))
  const report = path.join(tmp, 'report.json')
  const extra = predictions ? ['--predictions', path.join(tmp, `predictions.${predictions}`)] : []
  const t = performance.now()
  const { runModelgateCli } = await import('../dist/lib/index.js')
  await runModelgateCli(['validate', '--config', config, '--quiet', '--report', report, ...extra])
  const seconds = (performance.now() - t) / 1000
  const result = JSON.parse(readFileSync(report, 'utf8'))
  done({ seconds, metrics: result.metrics })
} else if (mode === 'read') {
  // The data layer alone: stream the CSV, materialising the feature columns.
  const [csv, features] = args
  const { openTable } = await import(PARTS)
  const t = performance.now()
  let rows = 0
  for await (const b of openTable(csv).batches({ batchSize: 4096, columns: features.split(',') })) rows += b.length
  done({ seconds: (performance.now() - t) / 1000, rows })
} else if (mode === 'compare' || mode === 'naive') {
  // Champion vs challenger statistics on 10,000 synthetic rows and 1,000 resamples (issue 3's budget).
  const [n, resamples] = args.map(Number)
  const lib = await import(PARTS)
  const seconds = mode === 'compare' ? lib.benchmarkCompare(n, resamples) : lib.benchmarkNaiveBootstrap(n, resamples)
  done({ seconds })
} else if (mode === 'robustness') {
  // K seeded noise perturbations of the same rows, batched: the cost of K perturbations against one clean pass.
  const [model, csv, features, label, k, rows] = args
  const { benchmarkRobustness } = await import(PARTS)
  done(await benchmarkRobustness(model, csv, features.split(','), label, Number(k), Number(rows), WASM_DIR))
} else {
  throw new Error(`unknown mode ${mode}`)
}
