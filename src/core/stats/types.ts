/** A confidence interval and how it was made, as the report states it. */
export interface Interval {
  low: number
  high: number
  /** e.g. 0.95 */
  confidence: number
  method: 'bca' | 'percentile' | 'delong' | 'wilson' | 'exact'
  /** Bootstrap resamples, when a bootstrap made it. */
  resamples?: number
}

export interface BootstrapOptions {
  resamples: number
  confidence: number
  method: 'bca' | 'percentile'
  seed: number
}

export const DEFAULT_BOOTSTRAP: BootstrapOptions = { resamples: 1000, confidence: 0.95, method: 'bca', seed: 20261126 }
