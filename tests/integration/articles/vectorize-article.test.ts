import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BatchGetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { articlesUrl, sendArticles } from '../../../cli/client/send-articles';
import { generateArticles } from '../../../cli/traffic/articles';
import { defaultVectorizer } from '../../../lib/domain/vectorizer';
import { encodeVector } from '../../../lib/domain/vectors';
import { httpEvent } from '../../helpers/events';
import { API_KEY, BUCKET, usePlatform } from '../collect/platform';

/**
 * vectorize-article on the whole local platform: POST /v1/articles through serverless-offline,
 * objects dropped under articles/ through the stack's S3 notifications, items read back from
 * dynalite, quarantine from s3rver.
 */
const platform = usePlatform();
const TABLE = 'logbase-local-ArticleVectors';
const SAMPLE = readFileSync(join(__dirname, '../../../events/articles/crawl-sample.jsonl'), 'utf8');

async function items(ids: string[]): Promise<Map<string, Record<string, any>>> {
  const out = new Map<string, Record<string, any>>();
  for (let i = 0; i < ids.length; i += 100) {
    const answer = await platform.clients.dynamodb.send(
      new BatchGetItemCommand({
        RequestItems: { [TABLE]: { Keys: ids.slice(i, i + 100).map((id) => ({ article_id: { S: id } })) } },
      }),
    );
    for (const item of answer.Responses?.[TABLE] ?? []) out.set(item.article_id?.S as string, item);
  }
  return out;
}

async function countItems(): Promise<number> {
  let count = 0;
  let start: Record<string, any> | undefined;
  do {
    const page = await platform.clients.dynamodb.send(
      new ScanCommand({ TableName: TABLE, Select: 'COUNT', ExclusiveStartKey: start }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return count;
}

const expectedBytes = (article: Parameters<typeof defaultVectorizer.vectorize>[0]) =>
  Buffer.from(encodeVector(defaultVectorizer.vectorize(article)));

async function post(body: string, headers: Record<string, string> = {}) {
  const response = await fetch(articlesUrl(platform.stack.endpoints.http ?? ''), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, ...headers },
    body,
  });
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

describe('When a crawler posts articles to /v1/articles on the local stack', () => {
  it('stores each one in ArticleVectors with exactly the vectorizer’s bytes and its attributes', async () => {
    // Prepare
    const articles = generateArticles({ seed: 11, articles: 120, now: Date.parse('2026-11-20T09:00:00Z') });

    // Act
    const summary = await sendArticles({
      endpoint: platform.stack.endpoints.http ?? '',
      apiKey: API_KEY,
      input: { articles },
    });

    // Assess
    expect(summary).toMatchObject({ sent: 120, accepted: 120, rejected: 0, failed: 0 });
    const stored = await items(articles.map((a) => a.article_id));
    expect(stored.size).toBe(120);
    for (const article of articles) {
      const item = stored.get(article.article_id) as Record<string, any>;
      expect(Buffer.from(item.vector.B)).toEqual(expectedBytes(article));
      expect(item.model.S).toBe('hash-v1');
      expect(item.category.S).toBe(article.category);
      expect(item.published_at.S).toBe(article.published_at);
      expect(item.title.S).toBe(article.title);
    }
  });

  it('replaces an article sent again, never adding a second item', async () => {
    // Prepare
    const [first] = generateArticles({ seed: 12, articles: 1, now: Date.parse('2026-11-20T09:00:00Z') });
    const article = first as NonNullable<typeof first>;
    const corrected = {
      ...article,
      title: `${article.title}（訂正）`,
      body: `${article.body}記事を訂正しました。`,
    };
    await post(JSON.stringify({ articles: [article] }));
    const before = await countItems();

    // Act
    const { status } = await post(JSON.stringify({ articles: [corrected] }));

    // Assess
    expect(status).toBe(202);
    expect(await countItems()).toBe(before);
    const item = (await items([article.article_id])).get(article.article_id) as Record<string, any>;
    expect(item.title.S).toBe(corrected.title);
    expect(Buffer.from(item.vector.B)).toEqual(expectedBytes(corrected));
    expect(Buffer.from(item.vector.B)).not.toEqual(expectedBytes(article));
  });

  it('rejects bad documents with their reasons and keeps them under quarantine/articles/', async () => {
    // Prepare: the fixture's body (one good document, four bad ones).
    const fixture = httpEvent('articles-bad-docs');

    // Act
    const { status, json } = await post(fixture.body ?? '');

    // Assess
    expect(status).toBe(202);
    expect(json.accepted).toBe(1);
    expect(json.rejected.map((r: any) => r.article_id)).toEqual([
      'art 0001',
      'art_0002',
      'art_0003',
      'art_0004',
    ]);
    const lines = await platform.jsonLines('quarantine/articles/');
    const mine = lines.filter((l) => l.source.request_id === json.request_id);
    expect(mine.map((l) => [l.index, l.article_id, l.errors.map((e: any) => e.path)])).toEqual([
      [1, 'art 0001', ['/article_id', '/title']],
      [2, 'art_0002', ['/published_at']],
      [3, 'art_0003', ['/body']],
      [4, 'art_0004', ['/tags', '/url']],
    ]);
    expect((await items(['art_0002', 'art_0003'])).size).toBe(0);
  });

  it('answers 401 to a request without the API key and stores nothing', async () => {
    // Prepare
    const fixture = httpEvent('articles-no-key');
    const before = await countItems();

    // Act
    const response = await fetch(articlesUrl(platform.stack.endpoints.http ?? ''), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: fixture.body ?? '',
    });

    // Assess
    expect(response.status).toBe(401);
    expect(await countItems()).toBe(before);
  });
});

describe('When a crawler drops a JSONL.gz object under articles/', () => {
  it('vectorizes its articles and quarantines its broken line, within seconds', async () => {
    // Prepare
    const key = 'articles/crawl/dt=2026-11-20/integration.jsonl.gz';
    const expected = SAMPLE.split('\n')
      .filter((line) => line.trim() !== '')
      .flatMap((line) => {
        try {
          return [JSON.parse(line)];
        } catch {
          return [];
        }
      });

    // Act
    await platform.clients.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: gzipSync(SAMPLE) }),
    );

    // Assess
    let stored = new Map<string, Record<string, any>>();
    const until = Date.now() + 20_000;
    while (Date.now() < until && stored.size < expected.length) {
      await new Promise((r) => setTimeout(r, 250));
      stored = await items(expected.map((a) => a.article_id));
    }
    expect(stored.size).toBe(expected.length);
    for (const article of expected) {
      expect(Buffer.from((stored.get(article.article_id) as any).vector.B)).toEqual(expectedBytes(article));
    }
    let quarantined: any[] = [];
    while (Date.now() < until && quarantined.length === 0) {
      quarantined = (await platform.jsonLines('quarantine/articles/')).filter((l) => l.source.key === key);
      if (quarantined.length === 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect(quarantined.map((l) => [l.line, l.errors[0].message.slice(0, 15)])).toEqual([
      [6, 'not valid JSON:'],
    ]);
  });
});
