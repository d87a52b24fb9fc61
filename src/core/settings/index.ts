/*
 * The settings layer: every input, flag and manifest key a run reads, parsed (options.ts) and resolved
 * (one file a part) into the typed settings the core runs on. The faces pass the environment in;
 * nothing here reads process.env.
 *   manifest.ts  the one manifest finder       model.ts     the model and its runner
 *   data.ts      data sets, reference preds    gates.ts     thresholds
 *   baseline.ts  baseline and comparison       resolve.ts   a validate/robustness run's Settings
 *   registry.ts  the registry commands'        deploy.ts    deploy-model's
 */
export type * from './types.js'
export { findManifest, type FoundManifest } from './manifest.js'
export { inferRunner, modelSpecFromString, resolveModel, type Where } from './model.js'
export { resolveSettings } from './resolve.js'
export * from './options.js'
export * from './registry.js'
export * from './deploy.js'
