import { UserError } from '../errors.js'
import { openTable } from '../data/open.js'
import { onnxSignature } from '../registry/signature.js'
import type { SignatureTensor } from '../registry/types.js'
import { type ResolvedModel, type Settings } from '../settings/index.js'
import { displayPath } from '../workspace.js'

/**
 * Features the user did not list, read off the model and the data, only where that cannot be wrong:
 * - one input per column (sklearn-onnx's layout for a DataFrame): the input names are the features, in the
 *   model's order, matched by name in the data;
 * - one 2-D input of width W and exactly W columns besides the label (and the id column): those columns in
 *   file order, with a warning, since nothing proves the file's order is the training order.
 * Anything else is refused with the line to write. Models that do not declare their inputs (command, http)
 * need the list; a predictions file needs none.
 */
export interface FeatureInference {
  settings: Settings
  /** Set when the order came from the data file: shown as a warning in the summary and the CLI. */
  warning?: string
}

export async function completeFeatures(settings: Settings): Promise<FeatureInference> {
  if (settings.features.length > 0 && settings.model.features.length > 0 && !baselineNeedsFeatures(settings)) return { settings }
  const data = settings.data[0]
  const columns = await openTable(data.path, data.format).columns()
  const shownData = displayPath(data.path, settings.workspace)
  const excluded = new Set([settings.label, ...(settings.idColumn ? [settings.idColumn] : [])])
  let warning: string | undefined
  const infer = (model: ResolvedModel, role: string): ResolvedModel => {
    if (model.features.length > 0 || model.runner === 'predictions') return model
    const found = inferFor(model, role, columns, excluded, shownData, settings)
    if (found.warning) warning ??= found.warning
    return { ...model, features: found.features }
  }
  const model = infer(settings.model, 'model')
  const baseline =
    settings.baseline?.kind === 'model' ? { ...settings.baseline, model: infer(settings.baseline.model, 'baseline') } : settings.baseline
  const features = settings.features.length > 0 ? settings.features : model.features
  return { settings: { ...settings, features, model, baseline }, warning }
}

function baselineNeedsFeatures(settings: Settings): boolean {
  const b = settings.baseline
  return b?.kind === 'model' && b.model.runner !== 'predictions' && b.model.features.length === 0
}

function inferFor(
  model: ResolvedModel,
  role: string,
  columns: string[],
  excluded: Set<string>,
  shownData: string,
  settings: Settings,
): { features: string[]; warning?: string } {
  const candidates = columns.filter((c) => !excluded.has(c))
  const besides = [...excluded].map((c) => `"${c}"`).join(' and ')
  const howTo = (names: string[]) =>
    `Name them in the model's input order: --features ${names.join(',')} (the features input), or in the manifest: features: [${names.join(', ')}]`
  if (model.runner !== 'onnx') {
    throw new UserError(
      `features: not given, and a ${model.runner} model does not declare its inputs, so they cannot be inferred (${role}). ${howTo(candidates)}`,
      { field: 'features' },
    )
  }
  const shownModel = displayPath(model.path!, settings.workspace)
  const inputs = onnxSignature(model.path!).inputs.filter((i) => !i.optional)
  const width = matrixWidth(inputs)
  const byName = inputs.every((i) => columns.includes(i.name))
  // A single 2-D input wider than one column is a feature matrix even if a column happens to share its name.
  if (byName && !(width !== undefined && width > 1)) return { features: inputs.map((i) => i.name) }
  if (width !== undefined && candidates.length === width) {
    return {
      features: candidates,
      warning: `features were not given: ${shownModel}'s input "${inputs[0].name}" takes ${width} columns, and ${shownData} has exactly ${width} besides ${besides}, so they were used in the file's order (${abbreviate(candidates)}). Nothing checks that this is the order the model was trained on: pin it with features: in the manifest (or --features).`,
    }
  }
  const layout =
    inputs.length === 1
      ? `one input "${inputs[0].name}" of shape [${inputs[0].shape.join(', ')}]${width !== undefined ? ` (width ${width})` : ''}`
      : `${inputs.length} inputs (${abbreviate(inputs.map(describeInput))}), of which ${inputs.filter((i) => !columns.includes(i.name)).length} are not columns of the data (${abbreviate(inputs.filter((i) => !columns.includes(i.name)).map((i) => i.name))})`
  throw new UserError(
    `features: not given, and they cannot be inferred: ${shownModel} has ${layout}, and ${shownData} has ${candidates.length} column${candidates.length === 1 ? '' : 's'} besides ${besides} (${abbreviate(candidates)}). ${howTo(width !== undefined && candidates.length > width ? candidates.slice(0, width) : candidates)}${width !== undefined && candidates.length > width ? ` (the first ${width} columns shown; choose the ones the model was trained on)` : ''}`,
    { file: shownModel, field: 'features' },
  )
}

/** The width of a model's single 2-D input, when it is one and the width is a number. */
function matrixWidth(inputs: SignatureTensor[]): number | undefined {
  if (inputs.length !== 1 || inputs[0].shape.length !== 2) return undefined
  const w = inputs[0].shape[1]
  return typeof w === 'number' && w > 0 ? w : undefined
}

function describeInput(i: SignatureTensor): string {
  return `${i.name}: ${i.dtype}`
}

function abbreviate(names: string[], max = 8): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')}, … ${names.length - max} more`
}
