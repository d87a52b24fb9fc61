import { existsSync, readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { parse } from 'yaml'

/*
 * Static checks of workflow files against this repository's own actions and workflows: the wiring
 * that the workflow schema cannot see (an input name misspelt, an output that does not exist, a step
 * read before it ran) and that GitHub only reports as an empty string at run time.
 */

/** How users refer to this repository's actions (`modelgate/modelgate/actions/<x>@v1`). */
export const REPOSITORY = 'modelgate/modelgate'

interface InputSpec {
  required?: boolean
  default?: unknown
}

export interface ActionMeta {
  inputs?: Record<string, InputSpec | null>
  outputs?: Record<string, unknown>
}

export interface Step {
  id?: string
  uses?: string
  run?: string
  with?: Record<string, unknown>
  [key: string]: unknown
}

export interface Job {
  uses?: string
  with?: Record<string, unknown>
  needs?: string | string[]
  outputs?: Record<string, unknown>
  steps?: Step[]
  [key: string]: unknown
}

export interface Workflow {
  on?: unknown
  jobs?: Record<string, Job>
  [key: string]: unknown
}

/** Every workflow file of the repository and of its examples, found when called (examples come and go). */
export function workflowFiles(root: string): string[] {
  const dirs = ['.github/workflows']
  const examples = path.join(root, 'examples')
  if (existsSync(examples)) {
    for (const e of readdirSync(examples, { withFileTypes: true }))
      if (e.isDirectory() && existsSync(path.join(examples, e.name, '.github/workflows'))) dirs.push(`examples/${e.name}/.github/workflows`)
  }
  return dirs.flatMap((d) =>
    readdirSync(path.join(root, d))
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
      .map((f) => `${d}/${f}`),
  )
}

/** The folder (relative to the root, '' for the root action) of an action of this repository, else undefined. */
export function localActionDir(uses: string): string | undefined {
  if (uses === '.' || uses === './') return ''
  if (uses.startsWith('./')) return path.posix.normalize(uses.slice(2)).replace(/\/$/, '')
  const m = new RegExp(`^${REPOSITORY}(?:/([^@]+))?@.+$`).exec(uses)
  if (m) return m[1] ?? ''
  return undefined
}

function readYaml(file: string): unknown {
  return parse(readFileSync(file, 'utf8'))
}

function loadAction(root: string, dir: string): ActionMeta | undefined {
  for (const name of ['action.yml', 'action.yaml']) {
    const file = path.join(root, dir, name)
    if (existsSync(file)) return readYaml(file) as ActionMeta
  }
  return undefined
}

function workflowCall(wf: Workflow): { inputs: Record<string, InputSpec | null>; outputs: Record<string, unknown> } | undefined {
  if (!wf.on || typeof wf.on !== 'object' || !('workflow_call' in wf.on)) return undefined
  const call = ((wf.on as Record<string, unknown>).workflow_call ?? {}) as {
    inputs?: Record<string, InputSpec>
    outputs?: Record<string, unknown>
  }
  return { inputs: call.inputs ?? {}, outputs: call.outputs ?? {} }
}

/** Inputs the workflow declares (workflow_call, workflow_dispatch): what `inputs.<name>` may read. */
function declaredInputs(wf: Workflow): Set<string> | undefined {
  if (!wf.on || typeof wf.on !== 'object') return undefined
  const on = wf.on as Record<string, { inputs?: Record<string, unknown> } | null>
  const names = ['workflow_call', 'workflow_dispatch'].filter((e) => e in on).flatMap((e) => Object.keys(on[e]?.inputs ?? {}))
  return ['workflow_call', 'workflow_dispatch'].some((e) => e in on) ? new Set(names) : undefined
}

/** The text of every expression in a value: `${{ … }}` parts, and whole `if:` conditions (implicit expressions). */
function expressions(value: unknown, key = ''): string[] {
  if (typeof value === 'string') {
    const inner = [...value.matchAll(/\$\{\{([\s\S]*?)\}\}/g)].map((m) => m[1])
    return key === 'if' && inner.length === 0 ? [value] : inner
  }
  if (Array.isArray(value)) return value.flatMap((v) => expressions(v))
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => expressions(v, k))
  return []
}

/** `<context>.<a>.outputs.<b>` and `<context>.<a>.outputs['<b>']` in an expression. */
function outputRefs(expr: string, context: string): [string, string][] {
  const re = new RegExp(`\\b${context}\\.([A-Za-z_][\\w-]*)\\.outputs(?:\\.([A-Za-z_][\\w-]*)|\\[['"]([^'"]+)['"]\\])`, 'g')
  return [...expr.matchAll(re)].map((m) => [m[1], m[2] ?? m[3]])
}

/** Outputs a `run:` step writes to $GITHUB_OUTPUT (`name=value` or `name<<DELIMITER`). */
function runOutputs(script: string): string[] {
  return script
    .split('\n')
    .filter((line) => line.includes('GITHUB_OUTPUT'))
    .flatMap((line) => [...line.matchAll(/(?:^|[\s"'])([A-Za-z_][\w-]*)(?:=|<<)/g)].map((m) => m[1]))
}

function checkWith(
  given: Record<string, unknown> | undefined,
  inputs: Record<string, InputSpec | null>,
  where: string,
  what: string,
): string[] {
  const problems: string[] = []
  for (const key of Object.keys(given ?? {})) if (!(key in inputs)) problems.push(`${where}: with.${key} is not an input of ${what}`)
  for (const [name, spec] of Object.entries(inputs)) {
    if (spec?.required === true && spec.default === undefined && !(name in (given ?? {})))
      problems.push(`${where}: ${what} requires input ${name}`)
  }
  return problems
}

interface StepInfo {
  /** undefined: outputs unknown (an action from elsewhere). */
  outputs?: Set<string>
}

function checkSteps(root: string, job: Job, where: string): string[] {
  const problems: string[] = []
  const known = new Map<string, StepInfo>()
  const steps = job.steps ?? []
  const ids = new Set(steps.map((s) => s.id).filter((id): id is string => !!id))
  const checkRefs = (value: unknown, at: string) => {
    for (const expr of expressions(value)) {
      for (const [id, output] of outputRefs(expr, 'steps')) {
        const step = known.get(id)
        if (!step)
          problems.push(`${at}: steps.${id}.outputs.${output}: ${ids.has(id) ? `step ${id} has not run yet` : `no step has id ${id}`}`)
        else if (step.outputs && !step.outputs.has(output))
          problems.push(`${at}: steps.${id}.outputs.${output}: step ${id} has no output ${output}`)
      }
    }
  }
  for (const [i, step] of steps.entries()) {
    const at = `${where}.steps[${step.id ?? i}]`
    checkRefs(step, at)
    let outputs: Set<string> | undefined
    const dir = step.uses ? localActionDir(step.uses) : undefined
    if (dir !== undefined) {
      const meta = loadAction(root, dir)
      if (!meta) problems.push(`${at}: uses ${step.uses}: there is no action.yml in ${dir || 'the repository root'}`)
      else {
        problems.push(...checkWith(step.with, meta.inputs ?? {}, at, step.uses!))
        outputs = new Set(Object.keys(meta.outputs ?? {}))
      }
    } else if (step.run !== undefined) outputs = new Set(runOutputs(step.run))
    if (step.id) known.set(step.id, { outputs })
  }
  const { steps: _steps, ...rest } = job
  checkRefs(rest, where)
  return problems
}

function jobOutputs(root: string, job: Job): Set<string> | undefined {
  if (!job.uses) return new Set(Object.keys(job.outputs ?? {}))
  if (!job.uses.startsWith('./')) return undefined
  const file = path.join(root, job.uses)
  const called = existsSync(file) ? workflowCall(readYaml(file) as Workflow) : undefined
  return called ? new Set(Object.keys(called.outputs)) : undefined
}

function checkCall(root: string, job: Job, where: string): string[] {
  if (!job.uses?.startsWith('./')) return []
  const file = path.join(root, job.uses)
  if (!existsSync(file)) return [`${where}: uses ${job.uses}: no such workflow`]
  const called = workflowCall(readYaml(file) as Workflow)
  if (!called) return [`${where}: uses ${job.uses}: it has no on.workflow_call`]
  return checkWith(job.with, called.inputs, where, job.uses)
}

/** Problems in one workflow's references to this repository's actions, workflows, steps, jobs and inputs. */
export function checkWorkflow(root: string, wf: Workflow, name: string): string[] {
  const problems: string[] = []
  const jobs = wf.jobs ?? {}
  const inputs = declaredInputs(wf)
  for (const expr of expressions(wf)) {
    for (const m of expr.matchAll(/\binputs\.([A-Za-z_][\w-]*)/g)) {
      if (!inputs?.has(m[1])) problems.push(`${name}: inputs.${m[1]} is not an input of this workflow`)
    }
  }
  const call = workflowCall(wf)
  for (const expr of expressions(call?.outputs ?? {})) {
    for (const [id, output] of outputRefs(expr, 'jobs')) {
      if (!jobs[id]) problems.push(`${name}: on.workflow_call.outputs: jobs.${id}.outputs.${output}: no job ${id}`)
      else if (jobOutputs(root, jobs[id])?.has(output) === false)
        problems.push(`${name}: on.workflow_call.outputs: jobs.${id}.outputs.${output}: job ${id} has no output ${output}`)
    }
  }
  for (const [id, job] of Object.entries(jobs)) {
    const where = `${name}: jobs.${id}`
    problems.push(...checkSteps(root, job, where), ...checkCall(root, job, where))
    const needs = new Set(typeof job.needs === 'string' ? [job.needs] : (job.needs ?? []))
    for (const n of needs) if (!jobs[n]) problems.push(`${where}: needs ${n}, which is not a job`)
    const { steps: _steps, ...rest } = job
    for (const expr of expressions(rest).concat(expressions(job.steps ?? []))) {
      for (const [dep, output] of outputRefs(expr, 'needs')) {
        if (!needs.has(dep)) problems.push(`${where}: needs.${dep}.outputs.${output}: ${id} does not need ${dep}`)
        else if (jobs[dep] && jobOutputs(root, jobs[dep])?.has(output) === false)
          problems.push(`${where}: needs.${dep}.outputs.${output}: job ${dep} has no output ${output}`)
      }
    }
  }
  return problems
}
