import { gunzipSync, gzipSync } from 'node:zlib';
import { BatchWriteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyStructuredResultV2, S3Event } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as HandlerModule from '../../../functions/vectorize-article/handler';
import { defaultVectorizer } from '../../../lib/domain/vectorizer';
import { encodeVector } from '../../../lib/domain/vectors';
import { httpEvent, lambdaContext, loadEvent } from '../../helpers/events';

const LOCAL_KEY = 'lb_local_0123456789abcdef';
const TABLE = 'logbase-test-ArticleVectors';
const ENV = {
  AWS_REGION: 'ap-northeast-1',
  DATA_BUCKET: 'logbase-test-data',
  ARTICLE_VECTORS_TABLE: TABLE,
  API_KEYS_PARAMETER: '',
  API_KEYS: LOCAL_KEY,
  POWERTOOLS_SERVICE_NAME: 'logbase',
  POWERTOOLS_METRICS_NAMESPACE: 'logbase',
};
const SAMPLE = readFileSync(join(__dirname, '../../../events/articles/crawl-sample.jsonl'));

const dynamoMock = mockClient(DynamoDBClient);
const s3Mock = mockClient(S3Client);
let handler: ReturnType<typeof HandlerModule.createHandler>;

beforeAll(() => {
  Object.assign(process.env, ENV);
  const module = require('../../../functions/vectorize-article/handler') as typeof HandlerModule;
  const { loadVectorizeConfig } = require('../../../functions/vectorize-article/config');
  // The real wiring, with retries that never sleep.
  const deps = module.vectorizeDeps(loadVectorizeConfig());
  handler = module.createHandler({ ...deps, retry: { sleep: async () => undefined, random: () => 0 } });
});

beforeEach(() => {
  dynamoMock.reset();
  s3Mock.reset();
  dynamoMock.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });
  s3Mock.on(PutObjectCommand).resolves({});
  jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
});

afterEach(() => jest.restoreAllMocks());

async function post(variant: string) {
  const response = (await handler(httpEvent(variant), lambdaContext())) as APIGatewayProxyStructuredResultV2;
  return { status: response.statusCode, json: JSON.parse(response.body ?? '{}') };
}

const written = () =>
  dynamoMock
    .commandCalls(BatchWriteItemCommand)
    .flatMap((c) => c.args[0].input.RequestItems?.[TABLE] ?? [])
    .map((r) => r.PutRequest?.Item ?? {});

function quarantined(): { key: string; lines: Record<string, any>[] } {
  const calls = s3Mock.commandCalls(PutObjectCommand);
  expect(calls).toHaveLength(1);
  const input = calls[0]?.args[0].input;
  const text = gunzipSync(input?.Body as Buffer).toString('utf8');
  return {
    key: input?.Key ?? '',
    lines: text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l)),
  };
}

describe('POST /v1/articles', () => {
  it('answers 401 and stores nothing without an API key', async () => {
    // Act
    const { status, json } = await post('articles-no-key');

    // Assess
    expect(status).toBe(401);
    expect(json.message).toBe('missing x-api-key header');
    expect(dynamoMock).not.toHaveReceivedAnyCommand();
    expect(s3Mock).not.toHaveReceivedAnyCommand();
  });

  it('answers 202 and puts every article with the vectorizer’s vector bytes', async () => {
    // Prepare
    const sent = JSON.parse(httpEvent('articles-valid-batch').body ?? '').articles;

    // Act
    const { status, json } = await post('articles-valid-batch');

    // Assess
    expect(status).toBe(202);
    expect(json).toMatchObject({ accepted: 3, rejected: [] });
    expect(written().map((item) => [item.article_id?.S, Buffer.from(item.vector?.B ?? [])])).toEqual(
      sent.map((a: any) => [a.article_id, Buffer.from(encodeVector(defaultVectorizer.vectorize(a)))]),
    );
    expect(s3Mock).not.toHaveReceivedAnyCommand();
  });

  it('answers 202 naming each bad document’s problems and keeps them under quarantine/articles/', async () => {
    // Act
    const { status, json } = await post('articles-bad-docs');

    // Assess
    expect(status).toBe(202);
    expect(json.accepted).toBe(1);
    expect(json.rejected.map((r: any) => [r.index, r.article_id, r.errors.map((e: any) => e.path)])).toEqual([
      [1, 'art 0001', ['/article_id', '/title']],
      [2, 'art_0002', ['/published_at']],
      [3, 'art_0003', ['/body']],
      [4, 'art_0004', ['/tags', '/url']],
    ]);
    expect(json.rejected[2].errors[0].message).toBe('is required');
    const { key, lines } = quarantined();
    expect(key).toMatch(
      /^quarantine\/articles\/dt=\d{4}-\d\d-\d\d\/hour=\d\d\/c6af9ac6-7b61-11e6-9a41-93e8deadbeef\.jsonl\.gz$/,
    );
    expect(lines.map((l) => [l.index, l.article_id, l.source.kind])).toEqual([
      [1, 'art 0001', 'http'],
      [2, 'art_0002', 'http'],
      [3, 'art_0003', 'http'],
      [4, 'art_0004', 'http'],
    ]);
    expect(JSON.parse(lines[3]?.raw).url).toBe('https://news.example.jp/a/4');
  });

  it('answers 503 listing the rejected documents as failed while quarantine cannot be written', async () => {
    // Prepare
    s3Mock
      .on(PutObjectCommand)
      .rejects(Object.assign(new Error('S3 is down'), { name: 'ServiceUnavailable' }));

    // Act
    const { status, json } = await post('articles-bad-docs');

    // Assess
    expect(status).toBe(503);
    expect(json.accepted).toBe(1);
    expect(json.failed.map((f: any) => [f.index, f.reason])).toEqual(
      [1, 2, 3, 4].map((index) => [index, 'could not be quarantined (ServiceUnavailable: S3 is down)']),
    );
  });

  it('answers 503 listing the articles DynamoDB left unprocessed after its retries', async () => {
    // Prepare: DynamoDB never takes the second article.
    const second = JSON.parse(httpEvent('articles-valid-batch').body ?? '').articles[1].article_id;
    dynamoMock.on(BatchWriteItemCommand).callsFake((input) => ({
      UnprocessedItems: {
        [TABLE]: input.RequestItems[TABLE].filter((r: any) => r.PutRequest.Item.article_id.S === second),
      },
    }));

    // Act
    const { status, json } = await post('articles-valid-batch');

    // Assess
    expect(status).toBe(503);
    expect(json.accepted).toBe(2);
    expect(json.failed).toEqual([
      {
        index: 1,
        article_id: second,
        reason: 'UnprocessedItems: DynamoDB did not write it (after 6 attempts)',
      },
    ]);
    expect(dynamoMock).toHaveReceivedCommandTimes(BatchWriteItemCommand, 6);
  });
});

describe('POST /v1/articles bodies', () => {
  it('reads gzip JSON lines (application/x-ndjson) as the JSON body is read', async () => {
    // Prepare
    const event = httpEvent('articles-valid-batch');
    const articles = JSON.parse(event.body ?? '').articles as unknown[];
    event.headers['content-type'] = 'application/x-ndjson';
    event.headers['content-encoding'] = 'gzip';
    event.body = gzipSync(articles.map((a) => JSON.stringify(a)).join('\n')).toString('base64');
    event.isBase64Encoded = true;

    // Act
    const response = (await handler(event, lambdaContext())) as APIGatewayProxyStructuredResultV2;

    // Assess
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body ?? '')).toMatchObject({ accepted: 3, rejected: [] });
    expect(written()).toHaveLength(3);
  });

  it('answers 400 to a body that is not JSON and keeps it under quarantine/articles/ with the reason', async () => {
    // Prepare
    const event = httpEvent('articles-valid-batch');
    event.body = '{"articles": [{"article_id": "art_1",';

    // Act
    const response = (await handler(event, lambdaContext())) as APIGatewayProxyStructuredResultV2;

    // Assess
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body ?? '').message).toMatch(/^body is not valid JSON: /);
    const { lines } = quarantined();
    expect(lines).toEqual([
      expect.objectContaining({
        index: null,
        raw: '{"articles": [{"article_id": "art_1",',
        errors: [expect.objectContaining({ path: '' })],
      }),
    ]);
    expect(dynamoMock).not.toHaveReceivedAnyCommand();
  });

  it('answers 413 to more than 500 articles and 415 to another content type, storing nothing', async () => {
    // Prepare
    const tooMany = httpEvent('articles-valid-batch');
    const one = JSON.parse(tooMany.body ?? '').articles[0];
    tooMany.body = JSON.stringify({ articles: Array.from({ length: 501 }, () => one) });
    const text = httpEvent('articles-valid-batch');
    text.headers['content-type'] = 'text/plain';

    // Act
    const answers = await Promise.all(
      [tooMany, text].map(
        async (e) => (await handler(e, lambdaContext())) as APIGatewayProxyStructuredResultV2,
      ),
    );

    // Assess
    expect(answers.map((a) => [a.statusCode, JSON.parse(a.body ?? '').message])).toEqual([
      [413, 'request holds 501 articles; the limit is 500 per request'],
      [415, 'Content-Type text/plain is not supported; send application/json or application/x-ndjson'],
    ]);
    expect(dynamoMock).not.toHaveReceivedAnyCommand();
    expect(s3Mock).not.toHaveReceivedAnyCommand();
  });
});

describe('An object created under articles/', () => {
  function objectEvent(bytes: Buffer): S3Event {
    s3Mock
      .on(GetObjectCommand)
      .resolves({ Body: { transformToByteArray: async () => new Uint8Array(bytes) } } as never);
    return loadEvent<S3Event>('s3', 'articles-jsonl-gz');
  }

  it('vectorizes every valid line of a JSONL.gz object and quarantines its broken line', async () => {
    // Prepare
    const event = objectEvent(gzipSync(SAMPLE));

    // Act
    const summaries = await handler(event, lambdaContext());

    // Assess
    expect(s3Mock).toHaveReceivedCommandWith(GetObjectCommand, {
      Bucket: 'logbase-local-data',
      Key: 'articles/crawl/dt=2026-11-20/crawl-sample.jsonl.gz',
    });
    expect(summaries).toEqual([
      {
        key: 'articles/crawl/dt=2026-11-20/crawl-sample.jsonl.gz',
        documents: 25,
        written: 24,
        rejected: 1,
        quarantineKey:
          'quarantine/articles/dt=2026-11-20/hour=09/articles_crawl_dt=2026-11-20_crawl-sample.jsonl.gz',
      },
    ]);
    expect(written()).toHaveLength(24);
    const { lines } = quarantined();
    expect(lines).toEqual([
      expect.objectContaining({
        index: 5,
        line: 6,
        errors: [{ path: '', message: expect.stringMatching(/^not valid JSON: /) }],
        source: {
          kind: 's3',
          bucket: 'logbase-local-data',
          key: 'articles/crawl/dt=2026-11-20/crawl-sample.jsonl.gz',
        },
      }),
    ]);
  });

  it('keeps an object that is not valid gzip under quarantine/articles/ whole, with the reason', async () => {
    // Prepare: gzip's magic bytes, then garbage.
    const bytes = Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('not really gzip')]);
    const event = objectEvent(bytes);

    // Act
    const summaries = await handler(event, lambdaContext());

    // Assess
    expect(summaries).toEqual([expect.objectContaining({ documents: 0, written: 0, rejected: 1 })]);
    const { lines } = quarantined();
    expect(lines).toEqual([
      expect.objectContaining({
        index: null,
        raw: bytes.toString('base64'),
        raw_encoding: 'base64',
        errors: [{ path: '', message: expect.stringMatching(/^object is not valid gzip: /) }],
      }),
    ]);
    expect(dynamoMock).not.toHaveReceivedAnyCommand();
  });

  it('fails the invocation when articles could not be stored, so Lambda retries the object', async () => {
    // Prepare
    const event = objectEvent(SAMPLE);
    dynamoMock
      .on(BatchWriteItemCommand)
      .rejects(Object.assign(new Error('down'), { name: 'InternalServerError' }));

    // Act / Assess
    await expect(handler(event, lambdaContext())).rejects.toThrow(/24 articles not stored/);
  });
});
