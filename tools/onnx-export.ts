/**
 * modelgate's own small ONNX exporter for classical models, built on the ai.onnx.ml
 * operators (Scaler, LinearClassifier, LinearRegressor, TreeEnsembleClassifier, ZipMap),
 * the same operators sklearn-onnx emits. Output is deterministic: the same parameters
 * give the same bytes.
 */
import {
  DataType,
  encodeModel,
  makeGraph,
  makeModel,
  makeNode,
  makeTensorValueInfo,
  makeValueInfo,
  sequenceOfMapsType,
  type AttributeValue,
  type NodeProto,
  type ValueInfo,
} from '../src/core/onnx/proto.js'

export const ML_DOMAIN = 'ai.onnx.ml'
export const IR_VERSION = 8
export const OPSETS = { '': 17, [ML_DOMAIN]: 3 }
export const PRODUCER = 'modelgate'
export const PRODUCER_VERSION = '0.1.0'

/** The batch dimension's symbolic name. */
const N = 'N'

export interface ExportCommon {
  /** Feature names, in input column order; recorded in the model's doc string. */
  features: string[]
  /** Graph name. */
  name?: string
  docString?: string
}

export interface Standardisation {
  /** Per-feature mean subtracted before the model (sklearn StandardScaler.mean_). */
  mean?: number[]
  /** Per-feature scale divided by (StandardScaler.scale_). */
  scale?: number[]
}

export interface LogisticRegressionParams extends ExportCommon, Standardisation {
  /** Weights of the positive class, one per feature, on the standardised features. */
  coef: number[]
  intercept: number
  /** The two class labels: [negative, positive]. */
  classes: [number, number]
  /** Append a ZipMap like sklearn-onnx does by default (output `output_probability`). */
  zipmap?: boolean
}

export interface LinearRegressionParams extends ExportCommon, Standardisation {
  coef: number[]
  intercept: number
}

/** A decision tree: split nodes go left when `x[feature] <= threshold`. */
export type TreeNode =
  | { feature: number; threshold: number; left: TreeNode; right: TreeNode }
  /** One weight per class, in the order of `classes`. */
  | { leaf: number[] }

export interface TreeEnsembleClassifierParams extends ExportCommon {
  trees: TreeNode[]
  classes: number[]
  /** Added to every class score before the post transform. */
  baseValues?: number[]
  /** NONE (scores are summed leaf weights, e.g. averaged votes) or SOFTMAX / LOGISTIC for boosting. */
  postTransform?: 'NONE' | 'SOFTMAX' | 'LOGISTIC'
}

function checkLength(what: string, values: number[] | undefined, n: number): void {
  if (values !== undefined && values.length !== n) {
    throw new Error(`${what} has ${values.length} values but there are ${n} features`)
  }
}

/** The graph input and, when standardisation is given, a Scaler node in front of the model. */
function inputStage(p: ExportCommon & Standardisation): { input: ValueInfo; nodes: NodeProto[]; tensor: string } {
  const f = p.features.length
  checkLength('mean', p.mean, f)
  checkLength('scale', p.scale, f)
  const input = makeTensorValueInfo('input', DataType.FLOAT, [N, f])
  if (p.mean === undefined && p.scale === undefined) return { input, nodes: [], tensor: 'input' }
  const scaler = makeNode(
    'Scaler',
    ['input'],
    ['variable'],
    {
      offset: { floats: p.mean ?? new Array<number>(f).fill(0) },
      // Scaler multiplies, StandardScaler divides.
      scale: { floats: (p.scale ?? new Array<number>(f).fill(1)).map((s) => (s === 0 ? 1 : 1 / s)) },
    },
    { domain: ML_DOMAIN, name: 'Scaler' },
  )
  return { input, nodes: [scaler], tensor: 'variable' }
}

function finish(p: ExportCommon, nodes: NodeProto[], inputs: ValueInfo[], outputs: ValueInfo[]): Uint8Array {
  const graph = makeGraph({ name: p.name ?? 'modelgate', nodes, inputs, outputs })
  return encodeModel(
    makeModel({
      graph,
      opsets: OPSETS,
      irVersion: IR_VERSION,
      producerName: PRODUCER,
      producerVersion: PRODUCER_VERSION,
      docString: p.docString ?? `features: ${p.features.join(',')}`,
    }),
  )
}

/** Appends sklearn-onnx's default ZipMap: probabilities as a list of {class: probability} maps. */
function zipMapStage(probabilities: string, classes: number[]): { node: NodeProto; output: ValueInfo } {
  return {
    node: makeNode(
      'ZipMap',
      [probabilities],
      ['output_probability'],
      { classlabels_int64s: { ints: classes } },
      {
        domain: ML_DOMAIN,
        name: 'ZipMap',
      },
    ),
    output: makeValueInfo('output_probability', sequenceOfMapsType(DataType.INT64)),
  }
}

function classifierOutputs(classes: number[], zipmap: boolean, classifier: NodeProto): { nodes: NodeProto[]; outputs: ValueInfo[] } {
  const label = makeTensorValueInfo('label', DataType.INT64, [N])
  if (!zipmap) {
    return { nodes: [classifier], outputs: [label, makeTensorValueInfo('probabilities', DataType.FLOAT, [N, classes.length])] }
  }
  const z = zipMapStage('probabilities', classes)
  return { nodes: [classifier, z.node], outputs: [label, z.output] }
}

/**
 * Standardised binary logistic regression: Scaler → LinearClassifier (post_transform LOGISTIC).
 * Outputs `label` (int64 [N]) and `probabilities` (float [N,2], columns in `classes` order).
 */
export function exportLogisticRegression(p: LogisticRegressionParams): Uint8Array {
  checkLength('coef', p.coef, p.features.length)
  const stage = inputStage(p)
  // Two rows (−w, +w) as sklearn-onnx writes binary models, so that LOGISTIC gives
  // σ(−z), σ(z) directly instead of relying on the runtime's implicit second class.
  const attrs: Record<string, AttributeValue> = {
    coefficients: { floats: [...p.coef.map((c) => -c), ...p.coef] },
    intercepts: { floats: [-p.intercept, p.intercept] },
    classlabels_ints: { ints: [...p.classes] },
    multi_class: { int: 0 },
    post_transform: { string: 'LOGISTIC' },
  }
  const classifier = makeNode('LinearClassifier', [stage.tensor], ['label', 'probabilities'], attrs, {
    domain: ML_DOMAIN,
    name: 'LinearClassifier',
  })
  const out = classifierOutputs([...p.classes], p.zipmap === true, classifier)
  return finish(p, [...stage.nodes, ...out.nodes], [stage.input], out.outputs)
}

/** Standardised linear regression: Scaler → LinearRegressor, output `prediction` (float [N,1]). */
export function exportLinearRegression(p: LinearRegressionParams): Uint8Array {
  checkLength('coef', p.coef, p.features.length)
  const stage = inputStage(p)
  const regressor = makeNode(
    'LinearRegressor',
    [stage.tensor],
    ['prediction'],
    { coefficients: { floats: p.coef }, intercepts: { floats: [p.intercept] }, targets: { int: 1 } },
    { domain: ML_DOMAIN, name: 'LinearRegressor' },
  )
  return finish(p, [...stage.nodes, regressor], [stage.input], [makeTensorValueInfo('prediction', DataType.FLOAT, [N, 1])])
}

interface FlatTrees {
  nodes: {
    treeids: number[]
    nodeids: number[]
    featureids: number[]
    values: number[]
    modes: string[]
    truenodeids: number[]
    falsenodeids: number[]
  }
  leaves: { treeids: number[]; nodeids: number[]; ids: number[]; weights: number[] }
}

/** Numbers each tree's nodes depth-first (root 0) into TreeEnsemble's parallel attribute arrays. */
function flattenTrees(trees: TreeNode[], classCount: number, featureCount: number): FlatTrees {
  const flat: FlatTrees = {
    nodes: { treeids: [], nodeids: [], featureids: [], values: [], modes: [], truenodeids: [], falsenodeids: [] },
    leaves: { treeids: [], nodeids: [], ids: [], weights: [] },
  }
  trees.forEach((tree, treeId) => {
    let next = 0
    const visit = (node: TreeNode): number => {
      const id = next++
      const n = flat.nodes
      const at = n.nodeids.length
      n.treeids.push(treeId)
      n.nodeids.push(id)
      if ('leaf' in node) {
        if (node.leaf.length !== classCount)
          throw new Error(`tree ${treeId}: a leaf has ${node.leaf.length} weights for ${classCount} classes`)
        n.featureids.push(0)
        n.values.push(0)
        n.modes.push('LEAF')
        n.truenodeids.push(0)
        n.falsenodeids.push(0)
        node.leaf.forEach((w, c) => {
          flat.leaves.treeids.push(treeId)
          flat.leaves.nodeids.push(id)
          flat.leaves.ids.push(c)
          flat.leaves.weights.push(w)
        })
        return id
      }
      if (node.feature < 0 || node.feature >= featureCount) throw new Error(`tree ${treeId}: feature index ${node.feature} is out of range`)
      n.featureids.push(node.feature)
      n.values.push(node.threshold)
      n.modes.push('BRANCH_LEQ')
      n.truenodeids.push(0)
      n.falsenodeids.push(0)
      n.truenodeids[at] = visit(node.left)
      n.falsenodeids[at] = visit(node.right)
      return id
    }
    visit(tree)
  })
  return flat
}

/**
 * A tree ensemble classifier (random forest with averaged leaf weights, or boosted trees with a
 * SOFTMAX/LOGISTIC post transform). Outputs `label` (int64 [N]) and `probabilities` (float [N,C]).
 */
export function exportTreeEnsembleClassifier(p: TreeEnsembleClassifierParams & { zipmap?: boolean }): Uint8Array {
  const input = makeTensorValueInfo('input', DataType.FLOAT, [N, p.features.length])
  const flat = flattenTrees(p.trees, p.classes.length, p.features.length)
  const attrs: Record<string, AttributeValue> = {
    nodes_treeids: { ints: flat.nodes.treeids },
    nodes_nodeids: { ints: flat.nodes.nodeids },
    nodes_featureids: { ints: flat.nodes.featureids },
    nodes_values: { floats: flat.nodes.values },
    nodes_modes: { strings: flat.nodes.modes },
    nodes_truenodeids: { ints: flat.nodes.truenodeids },
    nodes_falsenodeids: { ints: flat.nodes.falsenodeids },
    class_treeids: { ints: flat.leaves.treeids },
    class_nodeids: { ints: flat.leaves.nodeids },
    class_ids: { ints: flat.leaves.ids },
    class_weights: { floats: flat.leaves.weights },
    classlabels_int64s: { ints: p.classes },
    post_transform: { string: p.postTransform ?? 'NONE' },
  }
  if (p.baseValues !== undefined) {
    if (p.baseValues.length !== p.classes.length)
      throw new Error(`baseValues has ${p.baseValues.length} values for ${p.classes.length} classes`)
    attrs.base_values = { floats: p.baseValues }
  }
  const classifier = makeNode('TreeEnsembleClassifier', ['input'], ['label', 'probabilities'], attrs, {
    domain: ML_DOMAIN,
    name: 'TreeEnsembleClassifier',
  })
  const out = classifierOutputs(p.classes, p.zipmap === true, classifier)
  return finish(p, out.nodes, [input], out.outputs)
}
