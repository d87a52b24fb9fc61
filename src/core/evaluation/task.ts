import type { Task } from '../result/types.js'

/** What a model's outputs were, for deciding the task when the manifest does not say. */
export interface OutputKinds {
  values: boolean
  labels: boolean
  probabilities: boolean
  classes?: (number | string)[]
}

/**
 * The task the user set, else what the model's outputs say (values only: regression; class columns: binary
 * for two, multiclass for more), else what the labels look like (two distinct values: binary).
 * validate-model and test-robustness decide it the same way.
 */
export function decideTask(
  given: Task | undefined,
  declaredClasses: (number | string)[] | undefined,
  out: OutputKinds,
  seen: readonly unknown[],
): Task {
  if (given) return given
  if (out.values && !out.labels && !out.probabilities) return 'regression'
  const classes = declaredClasses ?? out.classes
  if (classes) return classes.length <= 2 ? 'binary' : 'multiclass'
  return new Set(seen.map(String)).size <= 2 ? 'binary' : 'multiclass'
}
