/**
 * What an action needs from its runner, as a port: the GitHub adapter implements it with @actions/core,
 * tests with a small in-memory object. The action's logic never imports @actions/core itself.
 */
export interface ActionIO {
  /** The raw input, '' when unset (the runner applies action.yml defaults, plain `node` does not). */
  getInput(name: string): string
  setOutput(name: string, value: string): void
  /** Appends Markdown to the job summary. */
  appendSummary(markdown: string): Promise<void>
  annotate(level: 'error' | 'warning' | 'notice', message: string, title?: string): void
  setSecret(secret: string): void
  info(message: string): void
  warning(message: string): void
  /** Opens a collapsible group of log lines (the runner's `::group::`); optional: without it, lines stay ungrouped. */
  startGroup?(title: string): void
  /** Closes the group startGroup opened. */
  endGroup?(): void
  /** Marks the step failed with one message; the adapter sets the exit code. */
  setFailed(message: string, exitCode: number): void
}
