import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sendArticles } from '../../../cli/client/send-articles';
import { generateArticles } from '../../../cli/traffic/articles';
import { fakeArticlesApi } from './articles-server';

const API_KEY = 'lb_test_key';
const FAST_RETRY = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

describe('logbase articles load against an articles endpoint', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'logbase-articles-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('posts a JSONL.gz file to /v1/articles in batches of 100 with the API key, rejections counted by reason', async () => {
    // Prepare: 250 generated articles, two of them broken.
    const articles = generateArticles({ seed: 3, articles: 250 }).map(
      (a) => ({ ...a }) as Record<string, unknown>,
    );
    articles[10] = { ...articles[10], published_at: 'yesterday' };
    articles[200] = { ...articles[200], published_at: 'today' };
    const file = join(dir, 'articles.jsonl.gz');
    writeFileSync(file, gzipSync(articles.map((a) => JSON.stringify(a)).join('\n')));
    const api = await fakeArticlesApi();

    // Act
    const summary = await sendArticles({ endpoint: api.url, apiKey: API_KEY, input: { file } });
    await api.close();

    // Assess
    expect(api.received.map((r) => [r.path, r.headers['x-api-key'], r.articles.length])).toEqual([
      ['/v1/articles', API_KEY, 100],
      ['/v1/articles', API_KEY, 100],
      ['/v1/articles', API_KEY, 50],
    ]);
    expect(summary).toMatchObject({ sent: 250, accepted: 248, rejected: 2, failed: 0 });
    expect(summary.topRejections).toEqual([
      {
        example:
          '/published_at: must be an RFC 3339 date-time with offset, like "2025-03-01T12:30:00.000Z", got "yesterday"',
        count: 2,
      },
    ]);
  });

  it('sends again only the articles a 503 lists in "failed"', async () => {
    // Prepare
    const articles = generateArticles({ seed: 4, articles: 30 });
    const api = await fakeArticlesApi(new Set([articles[7]?.article_id as string]));

    // Act
    const summary = await sendArticles({
      endpoint: api.url,
      apiKey: API_KEY,
      input: { articles },
      retry: FAST_RETRY,
    });
    await api.close();

    // Assess
    expect(api.received.map((r) => r.articles.map((a) => a.article_id))).toEqual([
      articles.map((a) => a.article_id),
      [articles[7]?.article_id],
    ]);
    expect(summary).toMatchObject({ sent: 30, accepted: 30, failed: 0, resent: 1 });
  });
});
