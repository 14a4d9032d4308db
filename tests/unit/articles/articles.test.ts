import {
  articleQuarantineKey,
  articleQuarantineLines,
  decideArticles,
  jsonDocuments,
  jsonLineDocuments,
} from '../../../lib/domain/articles';
import { MalformedBodyError, PayloadTooLargeError } from '../../../lib/domain/http-body';
import { defaultVectorizer } from '../../../lib/domain/vectorizer';
import { decodeVector, encodeVector } from '../../../lib/domain/vectors';

const NOW = new Date('2026-11-20T09:05:00.000Z');
const article = (id: string, extra: Record<string, unknown> = {}) => ({
  article_id: id,
  title: '日銀が金利を引き上げ',
  body: '日本銀行は政策金利の引き上げを決めた。',
  category: 'economy',
  published_at: '2026-11-20T17:30:00+09:00',
  ...extra,
});
const body = (articles: unknown[]) => {
  const text = JSON.stringify({ articles });
  return jsonDocuments(text, Buffer.from(text), 500);
};

describe('Deciding a batch of crawled articles', () => {
  it('stores each valid article with its vector, model, category, title and published_at in UTC', () => {
    // Act
    const decisions = decideArticles(body([article('art_1', { tags: ['日銀'] })]), defaultVectorizer, NOW);

    // Assess
    expect(decisions.rejected).toEqual([]);
    expect(decisions.items).toEqual([
      {
        article_id: 'art_1',
        vector: encodeVector(defaultVectorizer.vectorize(article('art_1', { tags: ['日銀'] }))),
        model: 'hash-v1',
        category: 'economy',
        published_at: '2026-11-20T08:30:00.000Z',
        title: '日銀が金利を引き上げ',
        updated_at: '2026-11-20T09:05:00.000Z',
      },
    ]);
    expect(decodeVector(decisions.items[0]?.vector as Uint8Array)).toHaveLength(128);
  });

  it('rejects each bad document with a specific error per field and keeps what was sent', () => {
    // Act
    const decisions = decideArticles(
      body([
        article('art_ok'),
        { ...article('bad id'), title: '', published_at: 'yesterday' },
        { ...article('art_3'), tags: 'sports' },
        'not an article',
      ]),
      defaultVectorizer,
      NOW,
    );

    // Assess
    expect(decisions.items.map((i) => i.article_id)).toEqual(['art_ok']);
    expect(
      decisions.rejected.map(({ index, article_id, errors }) => ({ index, article_id, errors })),
    ).toEqual([
      {
        index: 1,
        article_id: 'bad id',
        errors: [
          { path: '/article_id', message: 'must match ^[A-Za-z0-9._:-]+$, got "bad id"' },
          { path: '/title', message: 'must not be empty' },
          {
            path: '/published_at',
            message:
              'must be an RFC 3339 date-time with offset, like "2025-03-01T12:30:00.000Z", got "yesterday"',
          },
        ],
      },
      {
        index: 2,
        article_id: 'art_3',
        errors: [{ path: '/tags', message: 'must be an array, got "sports"' }],
      },
      {
        index: 3,
        article_id: undefined,
        errors: [{ path: '', message: 'an article must be an object, got "not an article"' }],
      },
    ]);
    expect(decisions.rejected[2]?.raw).toBe('"not an article"');
  });

  it('stores an article sent twice in one batch once, from its last document', () => {
    // Act
    const decisions = decideArticles(
      body([article('art_1', { title: '第一報' }), article('art_2'), article('art_1', { title: '続報' })]),
      defaultVectorizer,
      NOW,
    );

    // Assess
    expect(decisions.items.map((i) => [i.article_id, i.title])).toEqual([
      ['art_2', '日銀が金利を引き上げ'],
      ['art_1', '続報'],
    ]);
    expect(decisions.sources).toEqual([[1], [0, 2]]);
  });

  it('reads JSON lines, naming the line of a document that is not JSON', () => {
    // Act
    const documents = jsonLineDocuments(`${JSON.stringify(article('art_1'))}\n\n{"article_id": \r\n`);
    const decisions = decideArticles(documents, defaultVectorizer, NOW);

    // Assess
    expect(decisions.items).toHaveLength(1);
    expect(decisions.rejected).toEqual([
      {
        index: 1,
        line: 3,
        errors: [{ path: '', message: expect.stringMatching(/^not valid JSON: /) }],
        raw: '{"article_id": ',
      },
    ]);
  });

  it('refuses a body that is not {"articles": [...]} or holds more articles than the limit', () => {
    const bytes = Buffer.from('{"events":[]}');
    expect(() => jsonDocuments('{"events":[]}', bytes, 10)).toThrow(
      new MalformedBodyError('body must be a JSON object {"articles": [...]}', bytes),
    );
    expect(() => body(Array.from({ length: 501 }, (_, i) => article(`a${i}`)))).toThrow(PayloadTooLargeError);
    expect(() => jsonLineDocuments('{}\n{}\n{}\n', 2)).toThrow(
      'request holds 3 articles; the limit is 2 per request',
    );
  });

  it('keeps rejections under quarantine/articles/ by hour, one object per request or input object', () => {
    // Act
    const key = articleQuarantineKey('articles/2026/11/crawl 1.jsonl.gz', NOW);
    const lines = articleQuarantineLines(
      [{ index: 4, line: 5, errors: [{ path: '/title', message: 'is required' }], raw: '{}' }],
      { kind: 's3', bucket: 'b', key: 'articles/x.jsonl' },
      NOW,
    );

    // Assess
    expect(key).toBe('quarantine/articles/dt=2026-11-20/hour=09/articles_2026_11_crawl_1.jsonl.gz');
    expect(lines).toEqual([
      {
        received_at: '2026-11-20T09:05:00.000Z',
        index: 4,
        line: 5,
        article_id: null,
        errors: [{ path: '/title', message: 'is required' }],
        raw: '{}',
        source: { kind: 's3', bucket: 'b', key: 'articles/x.jsonl' },
      },
    ]);
  });
});
