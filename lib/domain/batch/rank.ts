/**
 * Per-shard ranking of the batch chain: turns users, fresh articles and article stats into
 * {@link scoreShard}'s input, and its output into Recommendations items. Pure (no AWS imports).
 */
import { type ScoredShard, type ScoringWeights, scoreShard, topOf } from '../scoring';
import { entryArticleId, readHistory } from '../user-history';
import { decodeVector, VECTOR_BYTES, VECTOR_DIMENSIONS } from '../vectors';

/** An article as the ranking needs it (from ArticleVectors). */
export interface RankArticle {
  article_id: string;
  vector: Uint8Array;
  published_at: string;
}

/** A user as read from UserVectors (raw attributes; decoding errors are the ranking's to count). */
export interface RankUser {
  user_id: string;
  vector?: Uint8Array;
  history?: Uint8Array;
}

export interface RankParams {
  asOf: Date;
  /** Articles published in the last `freshHours` hours before asOf (and not after it) are ranked. */
  freshHours: number;
  /** Freshness decay exp(-age / tau), tau in hours. */
  freshnessTauHours: number;
  weights: ScoringWeights;
  k: number;
}

/** Something skipped, with why; counted and named in the run's summary. */
export interface Skipped {
  kind: 'article' | 'user';
  id: string;
  reason: string;
}

export interface FreshArticles {
  ids: string[];
  vectors: Float32Array;
  prior: Float32Array;
  freshness: Float32Array;
  skipped: Skipped[];
}

/**
 * The articles to rank, by article id: published within `freshHours` before asOf. An article whose
 * vector is not 128 float32 or whose published_at is not a date is skipped with its reason; one
 * without stats gets the prior's mean (`defaultCtr`).
 */
export function freshArticles(
  articles: readonly RankArticle[],
  ctrOf: ReadonlyMap<string, number>,
  defaultCtr: number,
  params: Pick<RankParams, 'asOf' | 'freshHours' | 'freshnessTauHours'>,
): FreshArticles {
  const asOf = params.asOf.getTime();
  const since = asOf - params.freshHours * 3_600_000;
  const skipped: Skipped[] = [];
  const kept: { id: string; vector: Float32Array; ageHours: number }[] = [];
  for (const a of [...articles].sort((x, y) => (x.article_id < y.article_id ? -1 : 1))) {
    const published = Date.parse(a.published_at);
    if (Number.isNaN(published)) {
      skipped.push({
        kind: 'article',
        id: a.article_id,
        reason: `published_at "${a.published_at}" is not a date`,
      });
      continue;
    }
    if (published < since || published >= asOf) continue;
    if (!a.vector || a.vector.byteLength !== VECTOR_BYTES) {
      skipped.push({
        kind: 'article',
        id: a.article_id,
        reason: `vector is ${a.vector?.byteLength ?? 0} bytes, not ${VECTOR_BYTES}`,
      });
      continue;
    }
    kept.push({ id: a.article_id, vector: decodeVector(a.vector), ageHours: (asOf - published) / 3_600_000 });
  }
  const vectors = new Float32Array(kept.length * VECTOR_DIMENSIONS);
  const prior = new Float32Array(kept.length);
  const freshness = new Float32Array(kept.length);
  kept.forEach((a, j) => {
    vectors.set(a.vector, j * VECTOR_DIMENSIONS);
    prior[j] = ctrOf.get(a.id) ?? defaultCtr;
    freshness[j] = Math.exp(-a.ageHours / params.freshnessTauHours);
  });
  return { ids: kept.map((a) => a.id), vectors, prior, freshness, skipped };
}

/** The popular list: article ids by smoothed CTR descending, then id; at most k. */
export function popularList(ctrOf: ReadonlyMap<string, number>, k: number): string[] {
  return [...ctrOf.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, k)
    .map(([id]) => id);
}

/** What a user gets: ranked (their vector) or popular (no vector, or an all-zero one). */
export interface UserRecommendation {
  user_id: string;
  source: 'personal' | 'popular';
  articles: { article_id: string; score: number | null }[];
}

/** A shard's ranking: one recommendation per readable user, and what was skipped. */
export interface RankedShard {
  recommendations: UserRecommendation[];
  skipped: Skipped[];
  kernel: ScoredShard['kernel'] | 'none';
}

/** The ids of the clicked articles in a packed history (throws HistoryFormatError when unreadable). */
export function clickedArticles(history: Uint8Array): string[] {
  const h = readHistory(history);
  return h.offsets.map((offset) => entryArticleId(h, offset));
}

/**
 * Ranks a shard: each user with a non-zero vector gets the top k fresh articles they have not
 * clicked, by {@link scoreShard}; a user without one (or with an all-zero vector) gets `popular`.
 * A user whose vector or history cannot be read is skipped and named.
 */
export async function rankShard(
  users: readonly RankUser[],
  fresh: FreshArticles,
  popular: readonly string[],
  params: Pick<RankParams, 'weights' | 'k'>,
): Promise<RankedShard> {
  const skipped: Skipped[] = [];
  const index = new Map(fresh.ids.map((id, j) => [id, j]));
  const personal: { user_id: string; vector: Float32Array; exclusions: number[] }[] = [];
  const recommendations = new Map<string, UserRecommendation>();
  const popularItem = (user_id: string): UserRecommendation => ({
    user_id,
    source: 'popular',
    articles: popular.map((article_id) => ({ article_id, score: null })),
  });
  for (const user of users) {
    if (!user.vector) {
      recommendations.set(user.user_id, popularItem(user.user_id));
      continue;
    }
    if (user.vector.byteLength !== VECTOR_BYTES) {
      skipped.push({
        kind: 'user',
        id: user.user_id,
        reason: `vector is ${user.vector.byteLength} bytes, not ${VECTOR_BYTES}`,
      });
      continue;
    }
    let clicked: string[] = [];
    try {
      clicked = user.history ? clickedArticles(user.history) : [];
    } catch (error) {
      skipped.push({
        kind: 'user',
        id: user.user_id,
        reason: `history unreadable: ${(error as Error).message}`,
      });
      continue;
    }
    const vector = decodeVector(user.vector);
    if (vector.every((x) => x === 0) || fresh.ids.length === 0) {
      recommendations.set(user.user_id, popularItem(user.user_id));
      continue;
    }
    const exclusions = [...new Set(clicked)].flatMap((id) => {
      const j = index.get(id);
      return j === undefined ? [] : [j];
    });
    personal.push({ user_id: user.user_id, vector, exclusions });
  }
  let kernel: RankedShard['kernel'] = 'none';
  if (personal.length > 0) {
    const vectors = new Float32Array(personal.length * VECTOR_DIMENSIONS);
    personal.forEach((p, u) => {
      vectors.set(p.vector, u * VECTOR_DIMENSIONS);
    });
    const scored = await scoreShard({
      users: vectors,
      exclusions: personal.map((p) => p.exclusions),
      articles: fresh.vectors,
      prior: fresh.prior,
      freshness: fresh.freshness,
      weights: params.weights,
      k: params.k,
    });
    kernel = scored.kernel;
    personal.forEach((p, u) => {
      const top = topOf(scored, u);
      recommendations.set(p.user_id, {
        user_id: p.user_id,
        source: 'personal',
        articles: top.indexes.map((j, i) => ({
          article_id: fresh.ids[j] as string,
          score: top.scores[i] as number,
        })),
      });
    });
  }
  const ordered = users.flatMap((u) => {
    const r = recommendations.get(u.user_id);
    return r ? [r] : [];
  });
  return { recommendations: ordered, skipped, kernel };
}

/** Splits user ids (sorted, deduplicated) into shards of at most `size`. */
export function shardUsers(userIds: readonly string[], size: number): string[][] {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`shard size is a positive integer, not ${size}`);
  const sorted = [...new Set(userIds)].sort();
  const shards: string[][] = [];
  for (let i = 0; i < sorted.length; i += size) shards.push(sorted.slice(i, i + size));
  return shards;
}
