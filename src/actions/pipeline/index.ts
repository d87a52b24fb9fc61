import { runOnGitHub } from '../github.js'
import { runPipelineAction } from './main.js'

/** The root action's entry: the lifecycle pipeline. */
export function runPipeline(): Promise<void> {
  return runOnGitHub(runPipelineAction)
}

/** `run()`: the entry convention GitHub's @github/local-action calls. */
export const run = runPipeline
