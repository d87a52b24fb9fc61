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
  seen: readonly (readonly unknown[])[],
): Task {
  if (given) return given
  if (out.values && !out.labels && !out.probabilities) return 'regression'
  const classes = declaredClasses ?? out.classes
  if (classes) return classes.length <= 2 ? 'binary' : 'multiclass'
  // The labels and the model's labels, read in place (at 10M rows a joined copy costs hundreds of MB); a third value settles it.
  const distinct = new Set<string>()
  for (const values of seen) for (const v of values) if (distinct.add(String(v)).size > 2) return 'multiclass'
  return 'binary'
}
