import {
  clickedArticles,
  freshArticles,
  popularList,
  type RankArticle,
  rankShard,
  shardUsers,
} from '../../../lib/domain/batch/rank';
import { writeHistory } from '../../../lib/domain/user-history';
import { encodeVector, normalize } from '../../../lib/domain/vectors';

const D = 128;
const ASOF = new Date('2026-12-01T00:00:00Z');
const hoursAgo = (h: number) => new Date(ASOF.getTime() - h * 3_600_000).toISOString();

/** A unit vector along dimension `axis`, a bit of `other` mixed in. */
function vec(axis: number, other = 0, weight = 0): Float32Array {
  const v = new Float32Array(D);
  v[axis] = 1;
  v[other] = (v[other] as number) + weight;
  return normalize(v);
}

function history(articleIds: string[]): Uint8Array {
  return writeHistory(
    { anchorMs: 0, norm: 1, watermarks: [] },
    undefined,
    0,
    undefined,
    articleIds.map((id, i) => ({
      hashHi: 0,
      hashLo: i,
      occurredMs: i,
      counted: true,
      articleId: Buffer.from(id),
    })),
  );
}

const article = (id: string, v: Float32Array, ageHours: number): RankArticle => ({
  article_id: id,
  vector: encodeVector(v),
  published_at: hoursAgo(ageHours),
});

const PARAMS = { asOf: ASOF, freshHours: 48, freshnessTauHours: 24 };

describe('batch ranking', () => {
  it('keeps the articles published in the fresh window, by id, and skips the unreadable ones by name', () => {
    // Prepare
    const articles = [
      article('c', vec(2), 1),
      article('a', vec(0), 10),
      article('old', vec(1), 49),
      article('future', vec(1), -1),
      { article_id: 'short', vector: new Uint8Array(12), published_at: hoursAgo(1) },
      { article_id: 'undated', vector: encodeVector(vec(3)), published_at: 'soon' },
    ];

    // Act
    const fresh = freshArticles(articles, new Map([['a', 0.3]]), 0.1, PARAMS);

    // Assess
    expect(fresh.ids).toEqual(['a', 'c']);
    expect(Array.from(fresh.prior)).toEqual([Math.fround(0.3), Math.fround(0.1)]);
    expect(fresh.freshness[0]).toBeCloseTo(Math.exp(-10 / 24), 6);
    expect(fresh.vectors[0]).toBe(1);
    expect(fresh.vectors[D + 2]).toBe(1);
    expect(fresh.skipped).toEqual([
      { kind: 'article', id: 'short', reason: 'vector is 12 bytes, not 512' },
      { kind: 'article', id: 'undated', reason: 'published_at "soon" is not a date' },
    ]);
  });

  it('orders the popular list by smoothed CTR, then id, and keeps k', () => {
    // Act
    const list = popularList(
      new Map([
        ['b', 0.2],
        ['a', 0.2],
        ['c', 0.5],
        ['d', 0.1],
      ]),
      3,
    );

    // Assess
    expect(list).toEqual(['c', 'a', 'b']);
  });

  it('ranks by similarity, excludes what the user clicked, and gives the popular list to users without a vector', async () => {
    // Prepare
    const fresh = freshArticles(
      [
        article('x0', vec(0), 1),
        article('x1', vec(1), 1),
        article('x2', vec(2), 1),
        article('mix', vec(0, 1, 1), 1),
      ],
      new Map(),
      0.1,
      PARAMS,
    );
    const users = [
      { user_id: 'u-zero-axis', vector: encodeVector(vec(0)), history: history(['x0', 'gone']) },
      { user_id: 'u-new' },
      { user_id: 'u-blank', vector: new Uint8Array(512), history: history([]) },
      { user_id: 'u-two', vector: encodeVector(vec(2)) },
    ];

    // Act
    const ranked = await rankShard(users, fresh, ['p1', 'p2'], {
      weights: { similarity: 1, prior: 0, freshness: 0 },
      k: 2,
    });

    // Assess
    expect(ranked.skipped).toEqual([]);
    expect(
      ranked.recommendations.map((r) => [r.user_id, r.source, r.articles.map((a) => a.article_id)]),
    ).toEqual([
      ['u-zero-axis', 'personal', ['mix', 'x1']],
      ['u-new', 'popular', ['p1', 'p2']],
      ['u-blank', 'popular', ['p1', 'p2']],
      ['u-two', 'personal', ['x2', 'mix']],
    ]);
    expect(ranked.recommendations[0]?.articles[0]?.score).toBeCloseTo(Math.SQRT1_2, 5);
    expect(ranked.recommendations[1]?.articles[0]?.score).toBeNull();
  });

  it('skips and names a user whose vector or history cannot be read, and ranks nobody with no fresh article', async () => {
    // Prepare
    const none = freshArticles([], new Map(), 0.1, PARAMS);
    const users = [
      { user_id: 'bad-vector', vector: new Uint8Array(7) },
      { user_id: 'bad-history', vector: encodeVector(vec(1)), history: new Uint8Array([9, 9]) },
      { user_id: 'ok', vector: encodeVector(vec(1)) },
    ];

    // Act
    const ranked = await rankShard(users, none, ['p'], {
      weights: { similarity: 1, prior: 0, freshness: 0 },
      k: 20,
    });

    // Assess
    expect(ranked.kernel).toBe('none');
    expect(ranked.recommendations).toEqual([
      { user_id: 'ok', source: 'popular', articles: [{ article_id: 'p', score: null }] },
    ]);
    expect(ranked.skipped).toEqual([
      { kind: 'user', id: 'bad-vector', reason: 'vector is 7 bytes, not 512' },
      { kind: 'user', id: 'bad-history', reason: 'history unreadable: history is 2 bytes' },
    ]);
  });

  it('reads the clicked article ids of a packed history, oldest first', () => {
    // Act / Assess
    expect(clickedArticles(history(['a', '記事', 'a']))).toEqual(['a', '記事', 'a']);
  });

  it('shards user ids sorted and deduplicated, and rejects a shard size that is not a positive integer', () => {
    // Act / Assess
    expect(shardUsers(['c', 'a', 'b', 'a', 'd'], 2)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    expect(shardUsers([], 2)).toEqual([]);
    expect(() => shardUsers(['a'], 0)).toThrow('shard size is a positive integer, not 0');
  });
});
