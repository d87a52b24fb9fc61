import type { TrafficPlan } from '../../src/core/deploy/types.js'

/** A stable version and a 10% canary, as the deploy targets' tests apply them. */
export const STABLE = {
  name: 'bc',
  version: '1',
  digest: `sha256:${'a'.repeat(64)}`,
  uri: `oci://registry.example/models/bc@sha256:${'a'.repeat(64)}`,
  artifactPath: '/tmp/fetched/v1/model.onnx',
}
export const CANARY = {
  name: 'bc',
  version: '2',
  digest: `sha256:${'b'.repeat(64)}`,
  uri: `oci://registry.example/models/bc@sha256:${'b'.repeat(64)}`,
  artifactPath: '/tmp/fetched/v2/model.onnx',
  percent: 10,
}
export const PLAN: TrafficPlan = { stable: STABLE, canary: CANARY }
