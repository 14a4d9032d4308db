/**
 * Recommendations items and the run's summary. Pure (no AWS imports).
 */
import type { Skipped, UserRecommendation } from './rank';

/** A Recommendations item (table key user_id); written whole, so a rerun of a date replaces it. */
export interface RecommendationItem {
  user_id: string;
  source: 'personal' | 'popular';
  /** Article ids, best first. */
  articles: string[];
  /** Scores aligned with articles (empty for the popular list). */
  scores: number[];
  /** The run's date (YYYY-MM-DD) and id. */
  date: string;
  run_id: string;
  /** The run's as-of instant (the end of its date): the same for every rerun of the date. */
  generated_at: string;
  /** Epoch seconds; the table's TTL attribute. */
  expires_at: number;
}

/** Days a recommendation is kept (the table's TTL). */
export const RECOMMENDATION_TTL_DAYS = 14;

export function recommendationItem(
  r: UserRecommendation,
  run: { date: string; runId: string; asOf: Date },
): RecommendationItem {
  return {
    user_id: r.user_id,
    source: r.source,
    articles: r.articles.map((a) => a.article_id),
    scores: r.source === 'personal' ? r.articles.map((a) => Math.fround(a.score ?? 0)) : [],
    date: run.date,
    run_id: run.runId,
    generated_at: run.asOf.toISOString(),
    expires_at: Math.floor(run.asOf.getTime() / 1000) + RECOMMENDATION_TTL_DAYS * 86_400,
  };
}

/** What GET /v1/users/{id}/recommendations answers. */
export function recommendationsAnswer(item: RecommendationItem | undefined): {
  statusCode: number;
  body: unknown;
} {
  if (!item) return { statusCode: 404, body: { error: 'unknown user: no recommendations for this id' } };
  return {
    statusCode: 200,
    body: {
      user_id: item.user_id,
      popular: item.source === 'popular',
      articles: item.articles.map((article_id, i) => ({
        article_id,
        ...(item.source === 'personal' ? { score: item.scores[i] ?? null } : {}),
      })),
      generated_at: item.generated_at,
      run_id: item.run_id,
      date: item.date,
    },
  };
}

/** Names kept in a summary per kind; the count is always exact. */
export const SUMMARY_NAMED = 50;

export interface SkippedSummary {
  count: number;
  /** The first {@link SUMMARY_NAMED} skipped, with why. */
  named: Skipped[];
}

/** Merges the skipped lists of the run's tasks into one count and a bounded list of names. */
export function summarizeSkipped(lists: ReadonlyArray<readonly Skipped[]>): SkippedSummary {
  const all = lists.flat();
  return { count: all.length, named: all.slice(0, SUMMARY_NAMED) };
}

/** The SNS message of a failed run: which task failed and why (from the Catch's `{Error, Cause}`). */
export function failureMessage(input: {
  stateMachine: string;
  executionId: string;
  date: string;
  failedTask: string;
  error?: { Error?: string; Cause?: string };
}): { subject: string; message: string } {
  let name = input.error?.Error ?? 'Unknown';
  let task = input.failedTask;
  const cause0 = input.error?.Cause ?? '';
  // A Map state's failure names the inner task and its error: `<task>/<error>`.
  const inner = /^([A-Za-z0-9_-]+)\/(.+)$/.exec(name);
  if (inner) {
    task = inner[1] as string;
    name = inner[2] as string;
  }
  let cause = cause0;
  // A Lambda error's cause is {errorType, errorMessage, trace}.
  const lambda = parseJson(cause) as { errorMessage?: unknown } | undefined;
  if (typeof lambda?.errorMessage === 'string') cause = lambda.errorMessage;
  return {
    subject: `logbase batch ${input.date}: ${task} failed`.slice(0, 100),
    message: JSON.stringify({
      state_machine: input.stateMachine,
      execution: input.executionId,
      date: input.date,
      failed_task: task,
      error: name,
      cause,
    }),
  };
}

function parseJson(text: string): unknown {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}
