/*
 * The one shared bundle behind every action and the CLI (github/codeql-action's layout):
 * ncc builds this file into dist/lib/index.js with the ONNX runtime's .wasm beside it, and each
 * dist/<action>/index.js is a two-line stub that imports it. Shared code and the 14 MB runtime ship once.
 */
export { runValidateModel } from './actions/validate-model/index.js'
export { runTestRobustness } from './actions/test-robustness/index.js'
export { runRegisterVersion } from './actions/register-version/index.js'
export { runDeployModel } from './actions/deploy-model/index.js'
export { runPipeline } from './actions/pipeline/index.js'
export { runModelgateCli } from './cli/index.js'
