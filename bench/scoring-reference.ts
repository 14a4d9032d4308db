/**
 * The straightforward scorer the kernels are checked against (tests) and measured against
 * (bench/scoring.ts): for each user, every article's score by a nested loop in float64, the
 * excluded ones dropped, a full sort (score desc, then index asc), the first k kept. The meaning
 * of the score is `lib/domain/scoring/index.ts`'s. It lives in bench/ because nothing ships it to a Lambda.
 */
import type { ScoredShard, ScoreShardInput } from '../lib/domain/scoring';

const D = 128;

export function scoreShardReference(
  input: ScoreShardInput,
): Omit<ScoredShard, 'kernel' | 'threads' | 'memoryBytes'> {
  const { users, articles, prior, freshness, weights } = input;
  const k = input.k ?? 20;
  const n = users.length / D;
  const m = articles.length / D;
  const indexes = new Int32Array(n * k).fill(-1);
  const scores = new Float32Array(n * k).fill(Number.NaN);
  const counts = new Int32Array(n);
  for (let u = 0; u < n; u++) {
    const excluded = new Set(input.exclusions[u]);
    const ranked: { index: number; score: number }[] = [];
    for (let j = 0; j < m; j++) {
      if (excluded.has(j)) continue;
      let dot = 0;
      for (let d = 0; d < D; d++) dot += (users[u * D + d] as number) * (articles[j * D + d] as number);
      const score =
        weights.similarity * dot +
        weights.prior * (prior[j] as number) +
        weights.freshness * (freshness[j] as number);
      ranked.push({ index: j, score });
    }
    ranked.sort((a, b) => b.score - a.score || a.index - b.index);
    const kept = ranked.slice(0, k);
    kept.forEach((entry, i) => {
      indexes[u * k + i] = entry.index;
      scores[u * k + i] = entry.score;
    });
    counts[u] = kept.length;
  }
  return { k, indexes, scores, counts };
}
