import path from 'node:path'
import { validateArtifactName } from '../adapters/github/artifact.js'
import { UserError, errorText } from '../core/errors.js'
import { checkOutputPath } from '../core/files.js'
import { runWithProgress } from '../core/progress.js'
import { escapeMarkdownCell } from '../core/report/escape.js'
import { shardFileName, shardStateText, type ShardState } from '../core/shard/state.js'
import { checkOutputsAgainstInputs } from '../core/validate/outputs.js'
import { predictionsPathFor } from '../core/validate/run.js'
import type { ActionSpec } from './frame.js'
import { actionProgress, actionSettings, type ValidationAction, type ValidationInputs } from './validation.js'

/*
 * One job of a sharded run (input shard): the shard's state file, uploaded as the artifact the merge job
 * downloads. A shard has no verdict, so none of a verdict's sinks (report, JUnit, comment) are written;
 * its summary says what it scored and where the verdict will be.
 */

interface Sharded {
  state: ShardState
  statePath: string
  artifact: string
}

export function shardSpec<I extends ValidationInputs>(action: ValidationAction<I>): ActionSpec<I, Sharded> {
  const name = action.name
  return {
    name,
    readInputs: action.readInputs,
    async run(inputs, step) {
      const { deps, io } = step
      if (!action.shard) throw new UserError(`input shard: ${name} cannot be sharded yet; validate-model can`, { field: 'input shard' })
      if (inputs.merge)
        throw new UserError('input shard and input merge: a step is either one shard or the merge of them all; give one', {
          field: 'input merge',
        })
      const settings = actionSettings(action, inputs, step)
      const shard = settings.shard!
      const artifact = `${inputs.shardArtifact}-${shard.index}-of-${shard.count}`
      validateArtifactName(artifact)
      const statePath = path.resolve(deps.workspace, inputs.shardState ?? shardFileName(shard, inputs.shardArtifact))
      const predictionsPath =
        action.writesPredictions && inputs.predictionsPath ? path.resolve(deps.workspace, inputs.predictionsPath) : undefined
      const predictionFiles = predictionsPath
        ? settings.data.map((d) => predictionsPathFor(predictionsPath, d.name, settings.data.length))
        : []
      checkOutputsAgainstInputs(
        [{ path: statePath, label: 'input shard-state' }, ...predictionFiles.map((p) => ({ path: p, label: 'input predictions-path' }))],
        settings,
      )
      checkOutputPath(statePath, 'input shard-state')
      const progress = actionProgress(io, deps)
      let state: ShardState
      try {
        state = await runWithProgress(progress, () =>
          action.shard!(settings, {
            context: deps.context,
            runnerEnv: { ...deps.runnerEnv, mask: (s) => io.setSecret(s) },
            log: (line) => {
              progress.clear()
              step.log(line)
            },
            predictionsPath,
            staged: step.staged,
          }),
        )
      } finally {
        progress.close()
      }
      step.staged.write(statePath, shardStateText(state))
      return { state, statePath, artifact }
    },
    summary: ({ state, artifact }) => {
      const s = `${state.shard.index}/${state.shard.count}`
      const rows = state.data
        .map((d) => `| ${escapeMarkdownCell(d.name)} | ${d.scored.toLocaleString('en-US')} | ${d.rows.toLocaleString('en-US')} |`)
        .join('\n')
      return `### modelgate ${name}: shard ${s}\n\nThis job scored its shard of the rows and uploaded their state as the artifact \`${artifact}\`. It gives no verdict: the merge job (input \`merge: true\`) gives the one an unsharded run would.\n\n| data set | rows scored here | rows in the file |\n|---|---:|---:|\n${rows}\n`
    },
    outputs: ({ statePath }) => ({ status: 'shard', passed: 'true', 'shard-state': statePath }),
    async publish({ statePath, artifact }, _inputs, { io, deps }) {
      // Without its artifact the merge cannot give a verdict: unlike a report's, a failed upload fails the step.
      if (!deps.artifacts)
        throw new UserError(
          `input shard: this run has no Actions artifact service (ACTIONS_RUNTIME_TOKEN), so the shard's state cannot reach the merge job; it stays at ${statePath}`,
          { field: 'input shard' },
        )
      try {
        const uploaded = await deps.artifacts.upload(artifact, [statePath], path.dirname(statePath))
        io.info(`shard state uploaded as artifact "${artifact}" (${uploaded.location})`)
      } catch (e) {
        throw new UserError(`Could not upload the shard's state as the artifact "${artifact}": ${errorText(e)}`, { field: 'input shard' })
      }
    },
    failure: () => undefined,
  }
}
