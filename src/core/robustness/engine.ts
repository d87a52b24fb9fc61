import { performance } from 'node:perf_hooks'
import { UserError } from '../errors.js'
import type { Cell } from '../data/types.js'
import type { GateSpec } from '../gates/expression.js'
import { PERFORMANCE_METRIC_NAMES, metricNames } from '../metrics/index.js'
import type { Label } from '../metrics/labels.js'
import type { Task } from '../result/types.js'
import type { PredictionBatch } from '../runners/types.js'
import { plural } from '../report/common.js'
import { applies, defaultPerturbations } from './perturb.js'
import { groupsOf } from './profile.js'
import { DEFAULT_SENSITIVITY, FLIP_RATE, parseDegradationGate, type RobustnessConfig, type SensitivitySpec } from './schema.js'
import type { FeatureProfile, PerturbationSpec, RobustnessResult, RobustnessTest, SensitivityRow } from './types.js'
import {
  Judge,
  ModelSession,
  concatOutputs,
  fmt,
  rowCount,
  skippedTest,
  sliceColumns,
  typedColumns,
  type Columns,
  type TestContext,
} from './tests/common.js'
import { runDegradation } from './tests/degradation.js'
import { runDeterminism, SINGLE_ROWS } from './tests/determinism.js'
import { runDirectional } from './tests/directional.js'
import { invarianceCases, runInvariance, type InvarianceCase, type InvarianceOutcome } from './tests/invariance.js'
import { searchFeature, sortSensitivity } from './tests/sensitivity.js'
import { runStress, STRESS_ROWS } from './tests/stress.js'

export { Judge, ModelSession } from './tests/common.js'
export type { Columns } from './tests/common.js'

/*
 * The test-robustness engine: given a model, a sample of rows and the configuration, runs the
 * invariance, degradation, directional, determinism, sensitivity and stress tests in that order
 * (stress last: it may crash the model), within the time budget. A baseline model takes part in the
 * invariance tests only: they are the ones a flip rate compares, and the gates against it read them.
 */

export interface CleanPass {
  outputs: PredictionBatch
  /** Per model call. */
  latenciesMs: number[]
  seconds: number
}

/** Scores the sample unperturbed, in chunks of `batchSize`: the reference every test compares with. Throws what the runner throws. */
export async function scoreClean(session: ModelSession, columns: Columns, batchSize: number): Promise<CleanPass> {
  const n = rowCount(columns)
  const parts: PredictionBatch[] = []
  const latenciesMs: number[] = []
  const t0 = performance.now()
  for (let start = 0; start < n; start += batchSize) {
    const t = performance.now()
    parts.push(await session.predict(sliceColumns(columns, start, Math.min(n, start + batchSize)), start))
    latenciesMs.push(performance.now() - t)
  }
  return { outputs: concatOutputs(parts), latenciesMs, seconds: (performance.now() - t0) / 1000 }
}

export interface EngineInput {
  session: ModelSession
  /** The sample in the model's feature order (`columns[j][i]`), and its labels. */
  columns: Columns
  labels: Cell[]
  /** 1-based row of each sample row in the data file, for messages. */
  rowNumbers: number[]
  rowsAvailable: number
  profiles: FeatureProfile[]
  config: RobustnessConfig
  /** Reads the model's outputs (see buildJudge). */
  judge: Judge
  batchSize: number
  clean: CleanPass
  /** The clean metrics (computeMetrics on the clean pass). */
  cleanMetrics: Record<string, number>
  /** The manifest, for messages about the configuration. */
  manifestPath?: string
  /** Millisecond clock of the time budget (performance.now by default), and when the run started on it. */
  now?: () => number
  startedAt?: number
  /** A baseline model scored on the same sample and the same perturbed rows in the invariance tests. */
  baseline?: EngineBaseline
  /** Without a baseline model: why (flip-rate gates against the baseline are skipped with it). */
  noBaseline?: string
}

export interface EngineBaseline {
  session: ModelSession
  /** Its input columns out of the candidate's, in its own feature order. */
  pick: (columns: Columns) => Columns
  /** Its clean pass on the sample (through `pick`). */
  clean: CleanPass
  /** How messages call it: `production`, `the baseline`, … */
  against: string
}

export interface EngineOutput {
  robustness: RobustnessResult
  notes: string[]
}

/**
 * The engine's units of work, in the order it runs them: each invariance case, the directional
 * expectations, determinism, each feature's sensitivity search, stress. Each unit draws from its own
 * seeded stream (tests/common.ts rngFor) and reads only the sample and the clean pass, so a unit gives
 * the same result whichever process runs it: a sharded run deals them out (unit k to shard (k mod n) + 1)
 * and the merge assembles them as one run would.
 */
export type UnitName = `invariance:${string}` | 'directional' | 'determinism' | `sensitivity:${string}` | 'stress'

/** One unit's result; `budget`: the time budget cut it short (some of it skipped). */
export type UnitResult =
  | { unit: 'invariance'; id: string; outcome?: InvarianceOutcome; skipped?: RobustnessTest }
  | { unit: 'directional'; tests: RobustnessTest[]; budget?: boolean }
  | { unit: 'determinism'; tests: RobustnessTest[]; budget?: boolean }
  | { unit: 'sensitivity'; feature: string; row?: SensitivityRow; error?: string; unsearched?: boolean }
  | { unit: 'stress'; tests: RobustnessTest[]; budget?: boolean; dead?: string }

/** What the engine ran: one result per unit it owned (undefined for the others), and what it cost. */
export interface EngineUnits {
  results: (UnitResult | undefined)[]
  /** The invariance cases the budget left out. */
  invarianceBudget: boolean
  cost: { modelCalls: number; rowsScored: number; seconds: number }
}

/** The facts the assembly reads besides the units: the same in every shard of a run. */
export interface AssemblyFacts {
  task: Task
  /** Regression: the flip tolerance. */
  tolerance: number
  rows: number
  rowsAvailable: number
  profiles: FeatureProfile[]
  cleanMetrics: Record<string, number>
  /** How messages call the baseline model, when there is one. */
  against?: string
  noBaseline?: string
}

export function unitNames(config: RobustnessConfig, profiles: FeatureProfile[], manifestPath?: string): UnitName[] {
  const cases = invarianceCases(resolvePerturbations(config, profiles, manifestPath))
  const sensitivity = resolveSensitivity(config, profiles, manifestPath)
  return [
    ...cases.map((c) => `invariance:${c.id}` as const),
    ...(config.directional.length > 0 ? (['directional'] as const) : []),
    ...(config.determinism ? (['determinism'] as const) : []),
    ...(sensitivity?.features ?? []).map((f) => `sensitivity:${f}` as const),
    ...(config.stress ? (['stress'] as const) : []),
  ]
}

export async function runEngine(input: EngineInput): Promise<EngineOutput> {
  const units = await runUnits(input)
  return assembleEngine(input.config, input.manifestPath, factsOf(input), [units])
}

/** The assembly's facts of a run, as the engine's input holds them. */
export function factsOf(input: EngineInput): AssemblyFacts {
  return {
    task: input.judge.task,
    tolerance: input.judge.tolerance,
    rows: rowCount(input.columns),
    rowsAvailable: input.rowsAvailable,
    profiles: input.profiles,
    cleanMetrics: input.cleanMetrics,
    ...(input.baseline
      ? { against: input.baseline.against }
      : { noBaseline: input.noBaseline ?? 'no baseline model to compare flip rates with' }),
  }
}

/** Runs the units `owns` says are this process's (all by default), within the time budget. */
export async function runUnits(input: EngineInput, owns: (unit: number) => boolean = () => true): Promise<EngineUnits> {
  const { config, profiles } = input
  const now = input.now ?? (() => performance.now())
  const startedAt = input.startedAt ?? now()
  // Numeric features typed (a no-op for a sample from readSample): perturbed copies are written into typed arrays.
  const columns = typedColumns(input.columns)
  const n = rowCount(columns)
  const specs = resolvePerturbations(config, profiles, input.manifestPath)
  checkDirectional(config, profiles, input.manifestPath)
  const sensitivity = resolveSensitivity(config, profiles, input.manifestPath)
  const names = unitNames(config, profiles, input.manifestPath)
  const results: (UnitResult | undefined)[] = names.map(() => undefined)
  const judge = input.judge
  // Checked here too, so that a misspelt gate stops the run before any model call.
  resolveDegradation(config, judge.task, input.manifestPath)
  const ctx: TestContext = {
    session: input.session,
    judge,
    columns,
    profiles,
    rowNumbers: input.rowNumbers,
    clean: input.clean.outputs,
    cleanDecisions: judge.decisions(input.clean.outputs),
    cleanMetrics: input.cleanMetrics,
    batchSize: input.batchSize,
    seed: config.seed,
    probe: sliceColumns(columns, 0, Math.min(STRESS_ROWS, n)),
    ...(input.baseline
      ? {
          baseline: {
            session: input.baseline.session,
            pick: input.baseline.pick,
            cleanDecisions: judge.decisions(input.baseline.clean.outputs),
            against: input.baseline.against,
          },
        }
      : {}),
  }

  // The clean pass tells what a row and a call cost; tests whose estimate does not fit are skipped.
  const perRow = input.clean.seconds / Math.max(1, n)
  const perCall = Math.min(...input.clean.latenciesMs) / 1000
  const deadline = startedAt + config['time-budget'] * 1000
  const left = () => (deadline - now()) / 1000
  // The baseline model scores every invariance copy too: those cost what both models' clean passes cost.
  const base = input.baseline?.clean
  const pairedRow = perRow + (base ? base.seconds / Math.max(1, n) : 0)
  const pairedCall = perCall + (base ? Math.min(...base.latenciesMs) / 1000 : 0)
  const cost = (rows: number, calls: number, paired = false) =>
    paired ? rows * pairedRow + calls * pairedCall : rows * perRow + calls * perCall
  const fits = (rows: number, calls: number, paired = false) => cost(rows, calls, paired) <= left()
  const overBudget = (rows: number, calls: number, paired = false) =>
    `the time budget (${config['time-budget']} s) would be exceeded: about ${fmt(cost(rows, calls, paired))} s needed, ${fmt(Math.max(0, left()))} s left`
  const chunks = Math.ceil(n / input.batchSize)
  let mark = now()
  // Each stage's wall time, shared among the tests it produced: they ran in the same model calls.
  const stamp = (fresh: RobustnessTest[]) => {
    const each = (now() - mark) / 1000 / Math.max(1, fresh.length)
    for (const t of fresh) t.seconds ??= each
    mark = now()
  }
  const unit = (name: UnitName) => names.indexOf(name)

  // Invariance: as many of this process's cases as fit, all in the same model calls.
  const cases = invarianceCases(specs)
    .map((c) => ({ c, k: unit(`invariance:${c.id}`) }))
    .filter(({ k }) => owns(k))
  let fitting = cases.length
  while (fitting > 0 && !fits(fitting * n, chunks, true)) fitting--
  const outcomes =
    fitting > 0
      ? await runInvariance(
          ctx,
          cases.slice(0, fitting).map(({ c }) => c),
          flipThresholds(config),
        )
      : []
  outcomes.forEach((outcome, i) => (results[cases[i].k] = { unit: 'invariance', id: cases[i].c.id, outcome }))
  const invarianceBudget = fitting < cases.length
  const skipped: RobustnessTest[] = []
  if (invarianceBudget) {
    const why = overBudget((cases.length - fitting) * n, chunks, true)
    for (const { c, k } of cases.slice(fitting)) {
      const test = skippedInvariance(c, why)
      skipped.push(test)
      results[k] = { unit: 'invariance', id: c.id, skipped: test }
    }
  }
  stamp([...outcomes.map((o) => o.test), ...skipped])

  const directional = config.directional
  if (directional.length > 0 && owns(unit('directional'))) {
    if (fits(directional.length * n, chunks)) {
      const tests = await runDirectional(ctx, directional)
      stamp(tests)
      results[unit('directional')] = { unit: 'directional', tests }
    } else {
      const why = overBudget(directional.length * n, chunks)
      const tests = directional.map((e) =>
        skippedTest(
          {
            id: `directional/${e.feature}/${e.direction}`,
            kind: 'directional',
            parameters: { feature: e.feature, direction: e.direction, step: e.step },
          },
          why,
        ),
      )
      stamp(tests)
      results[unit('directional')] = { unit: 'directional', tests, budget: true }
    }
  }

  mark = now()
  if (config.determinism && owns(unit('determinism'))) {
    const single = Math.min(SINGLE_ROWS, n)
    const rows = Math.min(input.batchSize, n) + single
    if (fits(rows, 1 + single)) {
      const tests = await runDeterminism(ctx)
      stamp(tests)
      results[unit('determinism')] = { unit: 'determinism', tests }
    } else {
      const why = overBudget(rows, 1 + single)
      const tests = [
        skippedTest({ id: 'determinism', kind: 'determinism', parameters: {} }, why),
        skippedTest({ id: 'batch-consistency', kind: 'batch-consistency', parameters: {} }, why),
      ]
      stamp(tests)
      results[unit('determinism')] = { unit: 'determinism', tests, budget: true }
    }
  }

  mark = now()
  for (const feature of sensitivity?.features ?? []) {
    const k = unit(`sensitivity:${feature}`)
    if (!owns(k)) continue
    const spec = sensitivity!.spec
    const searched = Math.min(spec.rows, n)
    if (!fits(searched * spec.budget, spec.budget)) {
      results[k] = { unit: 'sensitivity', feature, unsearched: true }
      continue
    }
    const outcome = await searchFeature(ctx, feature, spec)
    results[k] = { unit: 'sensitivity', feature, row: outcome.row, ...(outcome.error ? { error: outcome.error } : {}) }
  }

  mark = now()
  if (config.stress && owns(unit('stress'))) {
    const stress = await runStress(ctx, () => fits(STRESS_ROWS * 12, 12))
    const dead = ctx.session.dead
    const tests =
      stress.tests.length === 0
        ? [skippedTest({ id: 'stress', kind: 'stress', parameters: {} }, dead ?? overBudget(STRESS_ROWS * 12, 12)), ...stress.tests]
        : stress.tests
    stamp(tests)
    results[unit('stress')] = {
      unit: 'stress',
      tests,
      ...(stress.untested.length > 0 && dead === undefined ? { budget: true } : {}),
      ...(stress.tests.length === 0 && dead === undefined ? { budget: true } : {}),
      ...(dead !== undefined ? { dead } : {}),
    }
  }

  return {
    results,
    invarianceBudget,
    cost: { modelCalls: input.session.modelCalls, rowsScored: input.session.rowsScored, seconds: (now() - startedAt) / 1000 },
  }
}

/**
 * The engine's output from its units' results: one process's, or the shards' of a sharded run (each unit
 * run by exactly one of them). The tests come in the engine's order, the degradation gates judge every
 * invariance outcome, and the cost is summed over the processes (`cost` of each: the part spent on units).
 */
export function assembleEngine(
  config: RobustnessConfig,
  manifestPath: string | undefined,
  facts: AssemblyFacts,
  parts: EngineUnits[],
  extraCost: { modelCalls: number; rowsScored: number } = { modelCalls: 0, rowsScored: 0 },
): EngineOutput {
  const t0 = performance.now()
  const names = unitNames(config, facts.profiles, manifestPath)
  const results = names.map((name, k) => {
    // A unit another process ran is undefined here, null once through JSON.
    const found = parts.map((p) => p.results[k]).filter((r): r is UnitResult => r != null)
    if (found.length !== 1) throw new Error(`unit ${name}: ${found.length} results, not 1`)
    return found[0]
  })
  const of = <U extends UnitResult['unit']>(u: U) => results.filter((r): r is Extract<UnitResult, { unit: U }> => r.unit === u)
  const gates = resolveDegradation(config, facts.task, manifestPath)
  const notes: string[] = []
  if (facts.task === 'regression') {
    notes.push(
      `Regression: an output counts as flipped when it moves by more than ${fmt(facts.tolerance)} (${config['regression-tolerance']} × the label's sd in the sample).`,
    )
  }
  const tests: RobustnessTest[] = []
  let budgetExhausted = parts.some((p) => p.invarianceBudget)
  const invariance = of('invariance')
  const outcomes = invariance.flatMap((r) => (r.outcome ? [r.outcome] : []))
  tests.push(...outcomes.map((o) => o.test))
  tests.push(...invariance.flatMap((r) => (r.skipped ? [r.skipped] : [])))
  const baselineFailed = outcomes.filter((o) => o.baselineFailure !== undefined)
  if (baselineFailed.length > 0) {
    notes.push(
      `The baseline model failed on the perturbed rows of ${baselineFailed.map((o) => `${o.test.id} (${o.baselineFailure})`).join(', ')}: ${baselineFailed.length === 1 ? 'that test has' : 'those tests have'} no comparison with it.`,
    )
  }
  const degradation = runDegradation({ cleanMetrics: facts.cleanMetrics, against: facts.against }, gates, outcomes, facts.noBaseline)
  const each = (performance.now() - t0) / 1000 / Math.max(1, degradation.length)
  for (const t of degradation) t.seconds ??= each
  tests.push(...degradation)
  const againstBaseline = gates.filter((g) => g.metric === FLIP_RATE && g.bound.kind === 'change').map((g) => g.expression)
  if (facts.noBaseline !== undefined && againstBaseline.length > 0) {
    notes.push(
      facts.noBaseline === 'no baseline model to compare flip rates with'
        ? `No baseline yet (first run): ${againstBaseline.join(', ')} ${againstBaseline.length === 1 ? 'was' : 'were'} skipped. Set \`baseline\` to a model to compare flip rates with it.`
        : `${againstBaseline.join(', ')} ${againstBaseline.length === 1 ? 'was' : 'were'} skipped: ${facts.noBaseline}.`,
    )
  }
  for (const r of [...of('directional'), ...of('determinism')]) {
    tests.push(...r.tests)
    if (r.budget) budgetExhausted = true
  }
  const searched = of('sensitivity')
  let sensitivityRows: SensitivityRow[] | undefined
  if (searched.length > 0) {
    const rows = searched.flatMap((r) => (r.row ? [r.row] : []))
    for (const r of searched) if (r.error) notes.push(`Sensitivity of ${r.feature} stopped early: the model failed: ${r.error}`)
    const unsearched = searched.filter((r) => r.unsearched).map((r) => r.feature)
    if (unsearched.length > 0) {
      budgetExhausted = true
      const why = `the time budget (${config['time-budget']} s) ran out before ${unsearched.length} of ${plural(searched.length, 'feature')} (${unsearched.join(', ')})`
      if (rows.length === 0) tests.push(skippedTest({ id: 'sensitivity', kind: 'sensitivity', parameters: { features: unsearched } }, why))
      else notes.push(`Sensitivity: ${why}; they are not in the table.`)
    }
    if (rows.length > 0) sensitivityRows = sortSensitivity(rows)
  }
  for (const r of of('stress')) {
    tests.push(...r.tests)
    if (r.budget) budgetExhausted = true
  }
  if (facts.task === 'multiclass' && config.directional.length > 0) {
    notes.push("Directional tests on a multiclass model compare the probability of each row's clean predicted class.")
  }
  return {
    robustness: {
      seed: config.seed,
      rows: facts.rows,
      rowsAvailable: facts.rowsAvailable,
      profiles: facts.profiles,
      clean: facts.cleanMetrics,
      tests,
      sensitivity: sensitivityRows,
      cost: {
        modelCalls: extraCost.modelCalls + parts.reduce((n, p) => n + p.cost.modelCalls, 0),
        rowsScored: extraCost.rowsScored + parts.reduce((n, p) => n + p.cost.rowsScored, 0),
        cleanPassRows: facts.rows,
        // The processes ran side by side: the slowest one's.
        seconds: Math.max(...parts.map((p) => p.cost.seconds)),
        budgetExhausted,
      },
    },
    notes,
  }
}

export interface JudgeInput {
  task: Task
  /** The sample's labels, as read. */
  labels: Cell[]
  /** Classes in probability-column order. */
  classes?: Label[]
  /** Binary: the positive class (default: the last class) and the decision threshold on its probability. */
  positiveClass?: Label
  threshold: number
  eceBins?: number
  config: RobustnessConfig
}

/** How every test reads outputs; for regression a flip is a move beyond regression-tolerance × the label's sd. */
export function buildJudge(o: JudgeInput): Judge {
  return new Judge({
    task: o.task,
    yTrue: o.labels,
    classes: o.classes,
    positiveClass: o.positiveClass,
    threshold: o.threshold,
    tolerance: o.task === 'regression' ? o.config['regression-tolerance'] * labelSd(o.labels) : 0,
    eceBins: o.eceBins,
  })
}

function flipThresholds(config: RobustnessConfig): { fail: number; major: number } {
  return { fail: config['flip-fail'], major: config['flip-major'] }
}

function skippedInvariance(c: InvarianceCase, why: string): RobustnessTest {
  return skippedTest(
    { id: c.id, kind: 'invariance', perturbation: c.spec.kind, parameters: { severity: c.spec.severity, features: c.spec.features } },
    why,
  )
}

/** Population sd of numeric labels (1 when it is 0 or undefined, so the tolerance stays meaningful). */
function labelSd(labels: Cell[]): number {
  const ys = labels.map(Number).filter((y) => Number.isFinite(y))
  if (ys.length === 0) return 1
  const mean = ys.reduce((s, y) => s + y, 0) / ys.length
  const sd = Math.sqrt(ys.reduce((s, y) => s + (y - mean) ** 2, 0) / ys.length)
  return sd > 0 ? sd : 1
}

function configError(manifestPath: string | undefined, field: string, message: string): UserError {
  return new UserError(`${manifestPath ? `${manifestPath}: ` : ''}${field}: ${message}`, { file: manifestPath, field })
}

/**
 * The invariance suite: the manifest's perturbations (one spec per severity), each on the features it
 * names or else on every feature it applies to; or the defaults chosen from the profiles.
 */
export function resolvePerturbations(config: RobustnessConfig, profiles: FeatureProfile[], manifestPath?: string): PerturbationSpec[] {
  if (config.perturbations === undefined) return defaultPerturbations(profiles)
  const names = new Set(profiles.map((p) => p.name))
  const groups = groupsOf(profiles)
  return config.perturbations.flatMap((entry, i) => {
    const field = `robustness.perturbations[${i}]`
    const unknown = (entry.features ?? []).filter((f) => !names.has(f))
    if (unknown.length > 0)
      throw configError(manifestPath, `${field}.features`, `${unknown.map((f) => `"${f}"`).join(', ')} not among the model's features`)
    const tensor = entry.kind === 'tensor_noise' || entry.kind === 'brightness' || entry.kind === 'contrast'
    if (tensor && (entry.group === undefined || !groups.has(entry.group))) {
      const known = [...groups.keys()]
      throw configError(
        manifestPath,
        `${field}.group`,
        `${entry.kind} needs a tensor group${entry.group ? `; "${entry.group}" is not one` : ''} (${known.length ? `groups: ${known.join(', ')}` : 'declare one with robustness.features.<name>.group'})`,
      )
    }
    const eligible = profiles
      .filter((p) => !p.immutable && applies(entry.kind, p) && (!tensor || p.group === entry.group))
      .map((p) => p.name)
    const features = entry.features ?? eligible
    const severities = Array.isArray(entry.severity) ? entry.severity : [entry.severity]
    return severities.map((severity) =>
      tensor ? { kind: entry.kind, severity, features, group: entry.group } : { kind: entry.kind, severity, features },
    )
  })
}

function resolveDegradation(config: RobustnessConfig, task: Task, manifestPath?: string): GateSpec[] {
  const known = [...metricNames(task).filter((m) => !PERFORMANCE_METRIC_NAMES.includes(m)), FLIP_RATE]
  return config.degradation.map((line, i) => {
    const gate = parseDegradationGate(line)
    if (typeof gate === 'string') throw configError(manifestPath, `robustness.degradation[${i}]`, gate)
    if (!known.includes(gate.metric)) {
      throw configError(
        manifestPath,
        `robustness.degradation[${i}]`,
        `"${line}": unknown metric "${gate.metric}" for a ${task} model; known: ${known.join(', ')}`,
      )
    }
    return gate
  })
}

function numericFeature(profiles: FeatureProfile[], name: string, manifestPath: string | undefined, field: string): FeatureProfile {
  const p = profiles.find((q) => q.name === name)
  if (p === undefined) throw configError(manifestPath, field, `"${name}" is not among the model's features`)
  if (p.kind !== 'numeric') throw configError(manifestPath, field, `"${name}" is ${p.kind}, not numeric`)
  return p
}

function checkDirectional(config: RobustnessConfig, profiles: FeatureProfile[], manifestPath?: string): void {
  config.directional.forEach((e, i) => numericFeature(profiles, e.feature, manifestPath, `robustness.directional[${i}].feature`))
}

function resolveSensitivity(
  config: RobustnessConfig,
  profiles: FeatureProfile[],
  manifestPath?: string,
): { spec: SensitivitySpec; features: string[] } | undefined {
  if (config.sensitivity === false) return undefined
  const spec = config.sensitivity === true ? DEFAULT_SENSITIVITY : config.sensitivity
  const features =
    spec.features?.map((f, i) => numericFeature(profiles, f, manifestPath, `robustness.sensitivity.features[${i}]`).name) ??
    profiles.filter((p) => p.kind === 'numeric' && !p.immutable).map((p) => p.name)
  return features.length > 0 ? { spec, features } : undefined
}
