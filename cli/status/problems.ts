import type { RawBacklog, UserVectorLag } from '../../lib/domain/freshness';
import { type BatchRun, backlogText, duration } from './report';

/** When a lag needs someone (the user-vector limit is the iterator-age alarm's, params.alarmIteratorAgeSeconds). */
export interface LagLimits {
  /**
   * A raw object unformatted for longer has failed for good or was never delivered: Lambda's two
   * asynchronous retries of an S3 event are over within about 3 minutes.
   */
  rawAgeSeconds: number;
  vectorLagSeconds: number;
}

export const DEFAULT_LIMITS: LagLimits = { rawAgeSeconds: 600, vectorLagSeconds: 300 };

/** The lags over their limits, one line each. */
export function lagProblems(
  backlog: RawBacklog,
  lag: UserVectorLag,
  limits: LagLimits = DEFAULT_LIMITS,
): string[] {
  const problems: string[] = [];
  if (backlog.oldest && backlog.oldest.ageSeconds > limits.rawAgeSeconds)
    problems.push(`format is late: ${backlogText(backlog)}, over ${duration(limits.rawAgeSeconds)}`);
  if (lag.lagSeconds !== null && lag.lagSeconds > limits.vectorLagSeconds)
    problems.push(
      `user vectors are late: the oldest click not applied is ${duration(lag.lagSeconds)} old, over ${duration(limits.vectorLagSeconds)}`,
    );
  return problems;
}

/** A last batch run that did not succeed. */
export function batchProblem(run: BatchRun | null): string[] {
  if (run === null || run.status === 'SUCCEEDED' || run.status === 'RUNNING') return [];
  return [`the last batch run ${run.name} is ${run.status}${run.detail ? `: ${run.detail}` : ''}`];
}

/** S3 events the formatter gave up on, waiting on its on-failure queue. */
export function failuresProblem(queued: number | null, queue: string): string[] {
  if (!queued) return [];
  return [
    `${queued} S3 event(s) on ${queue}: the formatter gave up on them after its retries (fix the cause, then redrive)`,
  ];
}
