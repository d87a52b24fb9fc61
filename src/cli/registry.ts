import path from 'node:path'
import { answeredHelp, cliWorkspace, flagSource, parseCommand, type OptionSpec, type Values } from './args.js'
import { ALLOW_OUTSIDE_WORKSPACE, confine } from '../core/workspace.js'
import { resolveVersion } from '../core/registry/resolve.js'
import { UserError } from '../core/errors.js'
import { writeFileAtomic } from '../core/files.js'
import { parseVersion } from '../core/registry/bump.js'
import { registryToken } from '../core/registry/token.js'
import { openRegistry } from '../core/registry/open.js'
import { promoteVersion, registerModel } from '../core/registry/register.js'
import {
  checkRegisterOutput,
  readRegisterOptions,
  registerRequest,
  resolveRegistrySettings,
  type RegistrySettings,
} from '../core/settings/index.js'
import { MODEL_NAME } from '../core/registry/names.js'
import type { RegistryBackend, StageState } from '../core/registry/types.js'
import { renderRegisterText, renderVersionList } from '../core/report/register.js'
import { renderModelCard } from '../core/registry/card.js'
import type { CliIO } from './main.js'

const REGISTRY_FLAGS = `  --config <file>                 manifest (default: modelgate.yml if present); its registry key sets the defaults
  --name <name>                   model name in the registry (default: registry.name, else the manifest name)
  --registry <uri>                local:<folder> | git | git:<repo folder> | oci://<host>/<repository>
                                  (default: registry.uri, else local:.modelgate/registry)
  --token <token>                 registry token (default: $MODELGATE_REGISTRY_TOKEN, else $GITHUB_TOKEN for oci://ghcr.io)
  --username <name>               registry user name, for registries that want one with the token
  --allow-outside-workspace       allow paths outside the working directory and the manifest's folder`

export const REGISTER_USAGE = `Usage: modelgate register [options]

Records a new version of a model with its evidence. The version is the digest's: registering the same
model again returns the existing version. Options override the manifest's registry key.

  --model <file|folder>           the model artifact (default: the manifest's model)
  --version <x.y.z>               explicit version; or
  --bump <auto|major|minor|patch> step from the newest version (default auto: read from the signature)
  --stage <stage>                 also assign this stage (checked against the promotion order and required evidence)
  --evidence <report.json>        repeatable: validate / robustness reports (--report) to attach
  --label key=value               repeatable: labels
  --description <text>
${REGISTRY_FLAGS}
  --report <file.json>            write the result JSON
  --json                          print the result JSON
  --quiet, --debug, -h, --help

Exit codes: 0 registered (or already registered), 2 invalid input (nothing written).`

export const REGISTRY_USAGE = `Usage: modelgate registry <list|show|promote|deprecate|pull> [args] [options]

  list                            versions, their digests, stages and evidence
  show <version|stage>            one version's record (--json) or model card
  promote <version> <stage>       assign a stage (promotion order and required evidence are enforced)
  deprecate <version>             deregister a version: kept in history, never resolved or promoted again
  pull <version|stage> --out <dir>
                                  fetch a version's files into <dir>, each checked against the registered digest

${REGISTRY_FLAGS}
  --json                          machine-readable output
  --debug, -h, --help

Exit codes: 0 done, 2 invalid input or refused by the policy (nothing changed).`

const SHARED = {
  config: { type: 'string' },
  name: { type: 'string' },
  registry: { type: 'string' },
  token: { type: 'string' },
  username: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  [ALLOW_OUTSIDE_WORKSPACE]: { type: 'boolean' },
} as const

function parse(args: string[], options: OptionSpec, command: string) {
  return parseCommand(command, args, options, { positionals: true })
}

/** The token: the flag, else $MODELGATE_REGISTRY_TOKEN (kept out of shell history); $GITHUB_TOKEN only for ghcr.io. */
function tokenFrom(settings: RegistrySettings): string | undefined {
  return registryToken(settings.registry, settings.token ?? process.env.MODELGATE_REGISTRY_TOKEN, process.env.GITHUB_TOKEN)
}

async function open(values: Values, settings: RegistrySettings): Promise<RegistryBackend> {
  return openRegistry(settings.registry, { token: tokenFrom(settings), username: values.username as string | undefined })
}

/**
 * The version a `show` or `pull` argument names: the version a stage holds now, else a SemVer
 * version. A stage that no version holds is refused as that, with the stages that are held, rather
 * than as "not a SemVer version".
 */
function versionOfRef(ref: string, stages: StageState, backend: RegistryBackend, name: string, settings: RegistrySettings): string {
  const held = stages.current[ref]
  if (held) return held
  const text = ref.trim()
  // `v1`, `1.4`: a version written wrong, not a stage.
  if (/^v?\d/.test(text) || !MODEL_NAME.test(text)) return parseVersion(ref, 'version')
  const holding = Object.entries(stages.current).map(([stage, version]) => `${stage} (${version})`)
  const declared = settings.policy.stages.length > 0 ? settings.policy.stages : settings.policy.order
  throw new UserError(
    `${backend.location}: no version of ${name} holds stage ${text}; ${holding.length > 0 ? `held: ${holding.join(', ')}` : 'no stage is held yet'}${
      declared.length > 0 && !declared.includes(text) ? `; the manifest declares ${declared.join(', ')}` : ''
    }`,
    { field: 'stage' },
  )
}

/** `modelgate register`. */
export async function runRegister(args: string[], io: CliIO, setDebug: (d: boolean) => void): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      ...SHARED,
      model: { type: 'string' },
      version: { type: 'string' },
      bump: { type: 'string' },
      stage: { type: 'string' },
      evidence: { type: 'string', multiple: true },
      label: { type: 'string', multiple: true },
      description: { type: 'string' },
      report: { type: 'string' },
    },
    'register',
  )
  if (answeredHelp(values, REGISTER_USAGE, io, setDebug)) return 0
  if (positionals.length > 0) throw new UserError(`unexpected argument '${positionals[0]}'; see modelgate register --help`)
  const src = flagSource(values, { labels: 'label' })
  const settings = resolveRegistrySettings(src, io.cwd, cliWorkspace(io.cwd, values[ALLOW_OUTSIDE_WORKSPACE] === true))
  const opts = readRegisterOptions(src, settings)
  const report = values.report ? path.resolve(io.cwd, values.report as string) : undefined
  checkRegisterOutput(report, '--report', settings, opts)
  const backend = await open(values, settings)
  const result = await registerModel(
    registerRequest(settings, opts, io.context ?? {}, io.runnerEnv),
    backend,
    values.quiet || values.json ? undefined : (line) => io.stderr(line),
  )
  if (report) writeFileAtomic(report, `${JSON.stringify(result, null, 2)}\n`)
  if (values.json) io.stdout(JSON.stringify(result, null, 2))
  else if (!values.quiet) io.stdout(renderRegisterText(result))
  return 0
}

/** `modelgate registry list|show|promote|deprecate`. */
export async function runRegistry(args: string[], io: CliIO, setDebug: (d: boolean) => void): Promise<number> {
  const { values, positionals } = parse(args, { ...SHARED, out: { type: 'string' } }, 'registry')
  setDebug(Boolean(values.debug))
  const [verb, ...rest] = positionals
  if (values.help || verb === undefined) {
    io.stdout(REGISTRY_USAGE)
    return verb === undefined && !values.help ? 2 : 0
  }
  const settings = resolveRegistrySettings(flagSource(values), io.cwd, cliWorkspace(io.cwd, values[ALLOW_OUTSIDE_WORKSPACE] === true))
  const arity: Record<string, number> = { list: 0, show: 1, promote: 2, deprecate: 1, pull: 1 }
  if (!Object.hasOwn(arity, verb)) throw new UserError(`unknown registry command '${verb}'; use list, show, promote, deprecate or pull`)
  if (rest.length !== arity[verb])
    throw new UserError(
      `modelgate registry ${verb} takes ${arity[verb]} argument${arity[verb] === 1 ? '' : 's'}; see modelgate registry --help`,
    )
  const backend = await open(values, settings)
  const name = settings.name
  switch (verb) {
    case 'list': {
      const [records, stages] = await Promise.all([backend.list(name), backend.stages(name)])
      io.stdout(values.json ? JSON.stringify({ name, versions: records, stages }, null, 2) : renderVersionList(name, records, stages))
      return 0
    }
    case 'show': {
      const ref = rest[0]!
      const version = versionOfRef(ref, await backend.stages(name), backend, name, settings)
      const found = await backend.get(name, version)
      if (!found) throw new UserError(`${backend.location}: ${name} has no version ${ref}`, { field: 'version' })
      io.stdout(values.json ? JSON.stringify(found, null, 2) : `${renderModelCard(found.record)}\nuri: ${found.uri}\ntag: ${found.tag}`)
      return 0
    }
    case 'pull': {
      const out = values.out as string | undefined
      if (!out) throw new UserError('modelgate registry pull needs --out <dir>, the folder to write the files into', { field: 'out' })
      const dir = path.resolve(io.cwd, out)
      confine(dir, settings.confinement, { field: '--out' })
      const ref = rest[0]!
      const version = versionOfRef(ref, await backend.stages(name), backend, name, settings)
      const record = await resolveVersion(backend, name, version, undefined, 'pulled')
      const file = await backend.fetch(name, record.version, dir)
      io.stdout(
        values.json
          ? JSON.stringify({ name, version: record.version, digest: record.digest, path: file }, null, 2)
          : `${name} ${record.version} (${record.digest}) → ${path.relative(io.cwd, file) || file}`,
      )
      return 0
    }
    case 'promote': {
      const version = parseVersion(rest[0]!, 'version')
      const event = await promoteVersion(backend, name, version, rest[1]!, settings.policy)
      io.stdout(values.json ? JSON.stringify(event, null, 2) : `${name}: ${event.stage} → ${version}`)
      return 0
    }
    default: {
      const version = parseVersion(rest[0]!, 'version')
      if (!(await backend.get(name, version)))
        throw new UserError(`${backend.location}: ${name} has no version ${version}`, { field: 'version' })
      await backend.deprecate(name, version)
      io.stdout(values.json ? JSON.stringify({ name, version, deprecated: true }) : `${name} ${version} deprecated`)
      return 0
    }
  }
}
