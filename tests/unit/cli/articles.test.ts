import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sendArticles } from '../../../cli/client/send-articles';
import { generateArticles } from '../../../cli/traffic/articles';
import { decideArticles, jsonDocuments } from '../../../lib/domain/articles';
import { defaultVectorizer } from '../../../lib/domain/vectorizer';

const API_KEY = 'lb_test_key';
const FAST_RETRY = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

interface Received {
  path: string | undefined;
  headers: IncomingHttpHeaders;
  articles: { article_id: string }[];
}

/** A loopback server that answers POST /v1/articles as vectorize-article does, with the real decision; `fail` lists ids to answer 503 for once. */
async function fakeArticlesApi(fail = new Set<string>()) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const documents = jsonDocuments(body.toString('utf8'), body, 500);
      received.push({
        path: req.url,
        headers: req.headers,
        articles: documents.map((d) => d.value as never),
      });
      const decisions = decideArticles(documents, defaultVectorizer, new Date());
      const failed = documents
        .filter((d) => fail.delete((d.value as { article_id: string }).article_id))
        .map((d) => ({ index: d.index, reason: 'UnprocessedItems: DynamoDB did not write it' }));
      const rejected = decisions.rejected.map(({ index, errors }) => ({ index, errors }));
      const accepted = documents.length - rejected.length - failed.length;
      res.writeHead(failed.length > 0 ? 503 : 202, {
        'content-type': 'application/json',
        'retry-after': '0',
      });
      res.end(JSON.stringify({ accepted, rejected, failed, request_id: 'r' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

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
