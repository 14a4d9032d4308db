/**
 * Push candidates of the batch chain: the users whose best new article clears a score threshold and who
 * were not pushed within the cooldown. Pure (no AWS imports).
 *
 * "Pushed" is what the push sender reads: it sends `marts/push_candidates/dt=<date>/`, so the earlier
 * dates' candidates marts are the push history. A user's push time is the `generated_at` of the row
 * (the as-of instant of that run's date, the end of the UTC day).
 */
import type { RecommendationItem } from './recommendations';

/** One row of `marts/push_candidates/dt=<date>/push_candidates.parquet`. */
export interface PushCandidate {
  user_id: string;
  article_id: string;
  score: number;
  run_id: string;
  /** The run's as-of instant (ISO 8601), the same for every rerun of the date. */
  generated_at: string;
  date: string;
}

/** What the history needs of an earlier candidates row. */
export interface PushHistoryRow {
  user_id: string;
  generated_at: string;
}

export interface PushParams {
  /** A user's best new article must score at least this. */
  threshold: number;
  /** A user pushed less than or exactly this many hours before asOf is not pushed again. */
  cooldownHours: number;
  asOf: Date;
}

/** How the users of a run were decided (every user of the recommendations is counted once). */
export interface PushCounts {
  users: number;
  candidates: number;
  belowThreshold: number;
  inCooldown: number;
  /** Users without a vector (the popular list): no personal article to push. */
  popular: number;
  /** Personal users with no fresh article left after their clicks. */
  noArticle: number;
}

/**
 * The dates whose candidates marts can hold a push within the cooldown before `date`'s as-of instant:
 * each date's rows carry the end of that day, so it is the `floor(cooldownHours / 24)` days before.
 */
export function cooldownDates(date: string, cooldownHours: number): string[] {
  const start = Date.parse(`${date}T00:00:00Z`);
  const days = Math.floor(Math.max(0, cooldownHours) / 24);
  return Array.from({ length: days }, (_, k) =>
    new Date(start - (k + 1) * 86_400_000).toISOString().slice(0, 10),
  );
}

/**
 * The push candidates of a run, by user id. A user's best new article is the top of their personal
 * list: the ranking only holds articles published within the fresh window and not clicked by the user.
 * The history's rows at or after asOf (the date's own earlier run, a later date) do not count.
 */
export function pushCandidates(
  recs: readonly RecommendationItem[],
  history: readonly PushHistoryRow[],
  params: PushParams,
): { candidates: PushCandidate[]; counts: PushCounts } {
  const asOf = params.asOf.getTime();
  const since = asOf - params.cooldownHours * 3_600_000;
  const pushed = new Set<string>();
  for (const row of history) {
    const at = Date.parse(row.generated_at);
    if (at >= since && at < asOf) pushed.add(row.user_id);
  }
  const counts: PushCounts = {
    users: 0,
    candidates: 0,
    belowThreshold: 0,
    inCooldown: 0,
    popular: 0,
    noArticle: 0,
  };
  const candidates: PushCandidate[] = [];
  for (const r of [...recs].sort((x, y) => (x.user_id < y.user_id ? -1 : x.user_id > y.user_id ? 1 : 0))) {
    counts.users += 1;
    if (r.source !== 'personal') {
      counts.popular += 1;
      continue;
    }
    const article_id = r.articles[0];
    const score = r.scores[0];
    if (article_id === undefined || score === undefined) {
      counts.noArticle += 1;
      continue;
    }
    if (!(score >= params.threshold)) {
      counts.belowThreshold += 1;
      continue;
    }
    if (pushed.has(r.user_id)) {
      counts.inCooldown += 1;
      continue;
    }
    counts.candidates += 1;
    candidates.push({
      user_id: r.user_id,
      article_id,
      score,
      run_id: r.run_id,
      generated_at: r.generated_at,
      date: r.date,
    });
  }
  return { candidates, counts };
}
