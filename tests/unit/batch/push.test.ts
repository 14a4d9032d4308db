import { cooldownDates, pushCandidates } from '../../../lib/domain/batch/push';
import type { RecommendationItem } from '../../../lib/domain/batch/recommendations';

const AS_OF = new Date('2026-12-01T00:00:00Z');
const PARAMS = { threshold: 0.5, cooldownHours: 24, asOf: AS_OF };

function rec(
  user_id: string,
  scores: number[],
  source: 'personal' | 'popular' = 'personal',
): RecommendationItem {
  return {
    user_id,
    source,
    articles: scores.map((_, i) => `a${i}`),
    scores: source === 'personal' ? scores : [],
    date: '2026-11-30',
    run_id: 'run-1',
    generated_at: AS_OF.toISOString(),
    expires_at: 0,
  };
}

describe('push candidates', () => {
  it('keeps the users whose best article reaches the threshold, by user id, with that article and its score', () => {
    // Prepare
    const recs = [rec('u2', [0.9, 0.2]), rec('u1', [0.5]), rec('u3', [0.49, 0.1])];

    // Act
    const { candidates, counts } = pushCandidates(recs, [], PARAMS);

    // Assess
    expect(candidates).toEqual([
      {
        user_id: 'u1',
        article_id: 'a0',
        score: 0.5,
        run_id: 'run-1',
        generated_at: '2026-12-01T00:00:00.000Z',
        date: '2026-11-30',
      },
      expect.objectContaining({ user_id: 'u2', article_id: 'a0', score: 0.9 }),
    ]);
    expect(counts).toEqual({
      users: 3,
      candidates: 2,
      belowThreshold: 1,
      inCooldown: 0,
      popular: 0,
      noArticle: 0,
    });
  });

  it('never pushes a user on the popular list or one with no article left, and counts why', () => {
    // Act
    const { candidates, counts } = pushCandidates(
      [rec('p', [0.9, 0.9], 'popular'), rec('empty', []), rec('ok', [0.7])],
      [],
      PARAMS,
    );

    // Assess
    expect(candidates.map((c) => c.user_id)).toEqual(['ok']);
    expect(counts).toMatchObject({ users: 3, candidates: 1, popular: 1, noArticle: 1 });
  });

  it('holds back a user pushed within the cooldown, 24 h before included, but not one pushed earlier or by the date itself', () => {
    // Prepare
    const recs = ['edge', 'recent', 'old', 'same', 'later'].map((u) => rec(u, [0.8]));
    const history = [
      { user_id: 'edge', generated_at: '2026-11-30T00:00:00.000Z' },
      { user_id: 'recent', generated_at: '2026-11-30T18:00:00.000Z' },
      { user_id: 'old', generated_at: '2026-11-29T23:59:59.000Z' },
      { user_id: 'same', generated_at: '2026-12-01T00:00:00.000Z' },
      { user_id: 'later', generated_at: '2026-12-02T00:00:00.000Z' },
    ];

    // Act
    const { candidates, counts } = pushCandidates(recs, history, PARAMS);

    // Assess
    expect(candidates.map((c) => c.user_id)).toEqual(['later', 'old', 'same']);
    expect(counts).toMatchObject({ candidates: 3, inCooldown: 2 });
  });

  it('counts a user below the threshold as such even when they are also in the cooldown', () => {
    // Act
    const { counts } = pushCandidates(
      [rec('u', [0.1])],
      [{ user_id: 'u', generated_at: '2026-11-30T12:00:00Z' }],
      PARAMS,
    );

    // Assess
    expect(counts).toMatchObject({ belowThreshold: 1, inCooldown: 0, candidates: 0 });
  });

  it('reads the marts of the whole days the cooldown covers before the date', () => {
    // Act
    const dates = {
      day: cooldownDates('2026-12-01', 24),
      dayAndHalf: cooldownDates('2026-12-01', 36),
      twoDays: cooldownDates('2026-12-01', 48),
      none: cooldownDates('2026-12-01', 12),
      negative: cooldownDates('2026-12-01', -5),
      monthStart: cooldownDates('2026-03-01', 48),
    };

    // Assess
    expect(dates).toEqual({
      day: ['2026-11-30'],
      dayAndHalf: ['2026-11-30'],
      twoDays: ['2026-11-30', '2026-11-29'],
      none: [],
      negative: [],
      monthStart: ['2026-02-28', '2026-02-27'],
    });
  });
});
