import {
  failureMessage,
  RECOMMENDATION_TTL_DAYS,
  recommendationItem,
  recommendationsAnswer,
  SUMMARY_NAMED,
  summarizeSkipped,
} from '../../../lib/domain/batch/recommendations';

const RUN = { date: '2026-11-30', runId: 'run-1', asOf: new Date('2026-12-01T00:00:00Z') };

describe('recommendations', () => {
  it('makes an item with the run id, the as-of time as generated_at, and a TTL', () => {
    // Act
    const item = recommendationItem(
      {
        user_id: 'u',
        source: 'personal',
        articles: [
          { article_id: 'a', score: 0.5 },
          { article_id: 'b', score: 0.1 },
        ],
      },
      RUN,
    );
    const popular = recommendationItem(
      { user_id: 'p', source: 'popular', articles: [{ article_id: 'a', score: null }] },
      RUN,
    );

    // Assess
    expect(item).toEqual({
      user_id: 'u',
      source: 'personal',
      articles: ['a', 'b'],
      scores: [0.5, Math.fround(0.1)],
      date: '2026-11-30',
      run_id: 'run-1',
      generated_at: '2026-12-01T00:00:00.000Z',
      expires_at: Date.parse('2026-12-01T00:00:00Z') / 1000 + RECOMMENDATION_TTL_DAYS * 86_400,
    });
    expect(popular.scores).toEqual([]);
  });

  it('answers 404 for an unknown user and marks the popular list as such', () => {
    // Prepare
    const popular = recommendationItem(
      { user_id: 'p', source: 'popular', articles: [{ article_id: 'a', score: null }] },
      RUN,
    );
    const personal = recommendationItem(
      { user_id: 'u', source: 'personal', articles: [{ article_id: 'a', score: 0.5 }] },
      RUN,
    );

    // Act / Assess
    expect(recommendationsAnswer(undefined)).toEqual({
      statusCode: 404,
      body: { error: 'unknown user: no recommendations for this id' },
    });
    expect(recommendationsAnswer(popular).body).toMatchObject({
      popular: true,
      articles: [{ article_id: 'a' }],
    });
    expect(recommendationsAnswer({ ...personal, scores: [] }).body).toMatchObject({
      articles: [{ article_id: 'a', score: null }],
    });
    expect(recommendationsAnswer(personal)).toEqual({
      statusCode: 200,
      body: {
        user_id: 'u',
        popular: false,
        articles: [{ article_id: 'a', score: 0.5 }],
        generated_at: '2026-12-01T00:00:00.000Z',
        run_id: 'run-1',
        date: '2026-11-30',
      },
    });
  });

  it('counts every skipped item and names the first ones', () => {
    // Prepare
    const many = Array.from({ length: SUMMARY_NAMED + 5 }, (_, i) => ({
      kind: 'user' as const,
      id: `u${i}`,
      reason: 'x',
    }));

    // Act
    const summary = summarizeSkipped([many, [{ kind: 'article', id: 'a', reason: 'y' }]]);

    // Assess
    expect(summary.count).toBe(SUMMARY_NAMED + 6);
    expect(summary.named).toHaveLength(SUMMARY_NAMED);
  });

  it('says in the failure message which task failed and why, from a Lambda error cause or a plain one', () => {
    // Act
    const lambda = failureMessage({
      stateMachine: 'm',
      executionId: 'e',
      date: '2026-11-30',
      failedTask: 'ArticleStats',
      error: {
        Error: 'BatchInputError',
        Cause: JSON.stringify({ errorMessage: 'no window', errorType: 'BatchInputError' }),
      },
    });
    const plain = failureMessage({
      stateMachine: 'm',
      executionId: 'e',
      date: 'd',
      failedTask: 'T',
      error: { Cause: 'timed out' },
    });
    const bare = failureMessage({ stateMachine: 'm', executionId: 'e', date: 'd', failedTask: 'T' });
    const inMap = failureMessage({
      stateMachine: 'm',
      executionId: 'e',
      date: 'd',
      failedTask: 'ScoreShards',
      error: {
        Error: 'WriteRecommendations/RecommendationsWriteError',
        Cause: JSON.stringify({ errorMessage: '2 of 2 not written' }),
      },
    });

    // Assess
    expect(lambda.subject).toBe('logbase batch 2026-11-30: ArticleStats failed');
    expect(JSON.parse(lambda.message)).toEqual({
      state_machine: 'm',
      execution: 'e',
      date: '2026-11-30',
      failed_task: 'ArticleStats',
      error: 'BatchInputError',
      cause: 'no window',
    });
    expect(JSON.parse(plain.message)).toMatchObject({ error: 'Unknown', cause: 'timed out' });
    expect(JSON.parse(bare.message)).toMatchObject({ cause: '' });
    expect(inMap.subject).toBe('logbase batch d: WriteRecommendations failed');
    expect(JSON.parse(inMap.message)).toMatchObject({
      failed_task: 'WriteRecommendations',
      error: 'RecommendationsWriteError',
      cause: '2 of 2 not written',
    });
  });
});
