/*
 * The one manifest finder: the file named by `config`, else modelgate.yml in the workspace when it
 * exists (the manifest is optional). Confinement is decided here too, since the manifest's own folder
 * is one of the roots a CLI run may read from (core/workspace.ts).
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { DEFAULT_MANIFEST, loadManifest } from '../manifest/load.js'
import type { Manifest } from '../manifest/schema.js'
import { confine, confinementFor, displayPath, type Confinement, type WorkspacePolicy } from '../workspace.js'

export interface FoundManifest {
  /** The parsed manifest; undefined when none was named and modelgate.yml is not there. */
  manifest?: Manifest
  /** The manifest file as messages name it, when one was read. */
  file?: string
  /** Its absolute path (read or not). */
  path: string
  /** Where the manifest's relative paths resolve: its folder, else the workspace. */
  baseDir: string
  /** Where the run's paths must resolve; undefined: anywhere. */
  rule?: Confinement
}

export interface FindManifest {
  /** The `config` input or `--config` flag; empty or undefined: modelgate.yml, if present. */
  config?: string
  /** The workspace: where a relative config is resolved. */
  cwd: string
  policy?: WorkspacePolicy
  /** How a refusal names the option that gave the path (`--config`, `input config`). */
  field: string
  /** Passed to loadManifest, which words "not found" after it (relative to the working directory or the workspace). */
  givenBy?: string
  /** Read no manifest even if modelgate.yml exists (modelgate init). */
  ignore?: boolean
}

export function findManifest(o: FindManifest): FoundManifest {
  const explicit = o.config !== undefined && o.config !== ''
  const file = path.resolve(o.cwd, explicit ? o.config! : DEFAULT_MANIFEST)
  const shown = displayPath(file, o.cwd)
  const rule = o.policy && confinementFor(o.policy, explicit ? file : undefined)
  if (explicit) confine(file, rule, { field: o.field })
  const manifest = !o.ignore && (explicit || existsSync(file)) ? loadManifest(file, shown, explicit ? o.givenBy : undefined) : undefined
  return {
    ...(manifest ? { manifest, file: shown } : {}),
    path: file,
    baseDir: manifest ? path.dirname(file) : o.cwd,
    rule,
  }
}
