/**
 * The progress lines of `logbase run batch-scoring`, the same on the local stack (printed by the in-process
 * handlers) and on a stage (read from the execution's history): one as each Task invocation starts, one as
 * it ends, and the line of a run that did not succeed.
 */

/** A Task state, and the Map item (shard) it works on. */
export interface TaskLabel {
  state: string;
  shard?: number;
}

export type TaskProgress =
  | { kind: 'started' }
  | { kind: 'done'; seconds: number }
  | { kind: 'failed'; error: string; message: string };

/** `  ScoreShard [shard 2] ...`, `  Summarize done in 0.4 s`, `  WriteRecommendations failed: E: why`. */
export function progressLine(label: TaskLabel, progress: TaskProgress): string {
  const name = label.shard === undefined ? label.state : `${label.state} [shard ${label.shard}]`;
  switch (progress.kind) {
    case 'started':
      return `  ${name} ...`;
    case 'done':
      return `  ${name} done in ${progress.seconds.toFixed(1)} s`;
    case 'failed':
      return `  ${name} failed: ${progress.error}: ${progress.message}`;
  }
}

/** The line of a run that ended otherwise than SUCCEEDED (its error and cause, as DescribeExecution gives them). */
export function endedLine(run: {
  executionId: string;
  status: string;
  error?: string;
  cause?: string;
}): string {
  return `run ${run.executionId} ${run.status}: ${[run.error, run.cause].filter(Boolean).join(' ')}`.trim();
}
