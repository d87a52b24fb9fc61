/** A confidence interval and how it was made, as the report states it. */
export interface Interval {
  low: number
  high: number
  /** e.g. 0.95 */
  confidence: number
  method: 'bca' | 'percentile' | 'delong' | 'wilson' | 'exact'
  /** Bootstrap resamples, when a bootstrap made it. */
  resamples?: number
  /** Bootstrap resamples on which the statistic was undefined (NaN), left out of the interval. */
  undefinedResamples?: number
  /** Where the interval departs from its method's textbook form, in words (a grouped jackknife, a fallback). */
  note?: string
}

export interface BootstrapOptions {
  resamples: number
  confidence: number
  method: 'bca' | 'percentile'
  seed: number
  /**
   * Threads the resamples may be split across (default: the machine's, `os.availableParallelism()`; 1: this
   * thread only). The replicates are the same for any number.
   */
  threads?: number
}

export const DEFAULT_BOOTSTRAP: BootstrapOptions = { resamples: 1000, confidence: 0.95, method: 'bca', seed: 20261126 }
