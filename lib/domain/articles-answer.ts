import type { FieldError } from '../schemas/explain';
import type { ArticleDecisions } from './articles';

/**
 * The answer policy of POST /v1/articles, with no I/O: from what was decided and what the table
 * and quarantine did, the status and the body the client reads. As collect's:
 *
 * - 202 when every accepted article is stored and every rejected one is quarantined;
 * - 503 (with `retry-after`) listing in `failed` each article to send again: the ones DynamoDB
 *   still left unprocessed (or whose call failed) and, while quarantine cannot be written, the
 *   rejected ones too: a rejected document must be kept somewhere, so the client keeps it.
 */

/** An article the client should send again, as listed in a 503 answer. */
export interface FailedArticle {
  index: number;
  article_id?: string;
  reason: string;
}

export interface ArticlesAnswer {
  status: 202 | 503;
  headers: Record<string, string>;
  body: {
    accepted: number;
    rejected: { index: number; article_id?: string; line?: number; errors: FieldError[] }[];
    failed?: FailedArticle[];
    request_id: string;
    message?: string;
  };
}

/** What the writes did: the ids not stored with why, and the quarantine's problem if it failed. */
export interface ArticleOutcomes {
  failed: readonly { article_id: string; reason: string }[];
  quarantineProblem?: string;
}

/** The answer to a request whose documents were decided as `decisions` and stored with `outcomes`. */
export function articlesAnswer(
  decisions: ArticleDecisions,
  outcomes: ArticleOutcomes,
  requestId: string,
): ArticlesAnswer {
  const failedIds = new Map(outcomes.failed.map((f) => [f.article_id, f.reason]));
  const failed: FailedArticle[] = [];
  let accepted = 0;
  decisions.items.forEach((item, i) => {
    const reason = failedIds.get(item.article_id);
    const sources = decisions.sources[i] ?? [];
    if (reason === undefined) accepted += sources.length;
    else for (const index of sources) failed.push({ index, article_id: item.article_id, reason });
  });
  const rejected = decisions.rejected.map(({ index, line, article_id, errors }) => ({
    index,
    ...(article_id === undefined ? {} : { article_id }),
    ...(line === undefined ? {} : { line }),
    errors,
  }));
  if (outcomes.quarantineProblem !== undefined) {
    for (const r of decisions.rejected) {
      failed.push({
        index: r.index,
        ...(r.article_id === undefined ? {} : { article_id: r.article_id }),
        reason: `could not be quarantined (${outcomes.quarantineProblem})`,
      });
    }
  }
  if (failed.length === 0) {
    return { status: 202, headers: {}, body: { accepted, rejected, request_id: requestId } };
  }
  failed.sort((a, b) => a.index - b.index);
  const message = `${failed.length} of ${decisions.documents} articles could not be stored; send the articles listed in "failed" again`;
  return {
    status: 503,
    headers: { 'retry-after': '1' },
    body: { accepted, rejected, failed, request_id: requestId, message },
  };
}
