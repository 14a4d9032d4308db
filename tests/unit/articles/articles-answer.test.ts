import type { ArticleDecisions, ArticleVectorItem } from '../../../lib/domain/articles';
import { articlesAnswer } from '../../../lib/domain/articles-answer';

const item = (article_id: string) => ({ article_id }) as ArticleVectorItem;
/** Five documents: art_a at 0 and 3 (sent twice), art_b at 1, art_c at 4; the one at 2 rejected. */
const DECISIONS: ArticleDecisions = {
  items: [item('art_b'), item('art_a'), item('art_c')],
  sources: [[1], [0, 3], [4]],
  rejected: [
    { index: 2, article_id: 'bad', errors: [{ path: '/title', message: 'is required' }], raw: '{}' },
  ],
  documents: 5,
};
const REJECTED = [{ index: 2, article_id: 'bad', errors: [{ path: '/title', message: 'is required' }] }];

describe('The answer to POST /v1/articles', () => {
  it('is 202 counting every stored document, an id sent twice counted twice', () => {
    expect(articlesAnswer(DECISIONS, { failed: [] }, 'req-1')).toEqual({
      status: 202,
      headers: {},
      body: { accepted: 4, rejected: REJECTED, request_id: 'req-1' },
    });
  });

  it('is 503 listing every document of an article that was not stored, in request order', () => {
    // Act
    const answer = articlesAnswer(
      DECISIONS,
      { failed: [{ article_id: 'art_a', reason: 'UnprocessedItems' }] },
      'r',
    );

    // Assess
    expect(answer.status).toBe(503);
    expect(answer.headers).toEqual({ 'retry-after': '1' });
    expect(answer.body).toMatchObject({
      accepted: 2,
      rejected: REJECTED,
      failed: [
        { index: 0, article_id: 'art_a', reason: 'UnprocessedItems' },
        { index: 3, article_id: 'art_a', reason: 'UnprocessedItems' },
      ],
      message: '2 of 5 articles could not be stored; send the articles listed in "failed" again',
    });
  });

  it('is 503 listing the rejected documents too while quarantine cannot be written', () => {
    const answer = articlesAnswer(DECISIONS, { failed: [], quarantineProblem: 'S3: down' }, 'r');
    expect(answer.status).toBe(503);
    expect(answer.body.failed).toEqual([
      { index: 2, article_id: 'bad', reason: 'could not be quarantined (S3: down)' },
    ]);
    expect(answer.body.accepted).toBe(4);
  });
});
