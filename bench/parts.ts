/*
 * What `npm run bench` measures besides the shipped CLI: the data layer, the comparison statistics and
 * the robustness engine, built from the same sources into a bundle of their own (scripts/bench.mjs), so
 * that no benchmark code ships in dist/.
 */
export { openTable } from '../src/core/data/open.js'
export { benchmarkCompare, benchmarkNaiveBootstrap } from './compare.js'
export { benchmarkRobustness } from './robustness.js'
export { csvToParquet } from './parquet.js'
