import { UserError } from '../errors.js'

/** GTO's artifact name grammar (iterative/gto `gto/constants.py`), so names mean the same in every backend. */
export const MODEL_NAME = /^[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?$/

export function checkModelName(name: string, where = 'name'): string {
  if (!MODEL_NAME.test(name) || name.includes('//')) {
    throw new UserError(
      `${where}: '${name}' is not a valid model name (letters, digits, -, _ and /; starting and ending with a letter or digit)`,
      { field: where },
    )
  }
  return name
}

/** The GTO registration tag of a version, which local and git registries share: `churn@v1.2.3`. */
export function versionTag(name: string, version: string): string {
  return `${name}@v${version}`
}
