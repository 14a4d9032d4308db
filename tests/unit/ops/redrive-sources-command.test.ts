import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { BatchWriteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { LambdaClient } from '@aws-sdk/client-lambda';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { Command } from 'commander';
import {
  type RedriveTarget,
  registerRedriveSources,
  runRedriveArticles,
  runRedriveCollect,
  runRedriveVectors,
} from '../../../cli/commands/redrive-sources';
import { runRecord } from '../../../cli/commands/replay';
import type { Wiring } from '../../../local/wiring';

const s3Mock = mockClient(S3Client);
const firehoseMock = mockClient(FirehoseClient);
const kinesisMock = mockClient(KinesisClient);
const dynamoMock = mockClient(DynamoDBClient);
const sqsMock = mockClient(SQSClient);

const region = 'ap-northeast-1';
const wiring = {
  functions: [
    {
      key: 'collect',
      name: 'logbase-dev-collect',
      environment: {
        DATA_BUCKET: 'b',
        EVENTS_DELIVERY_STREAM: 'logbase-dev-events',
        CLICKS_STREAM: 'logbase-dev-clicks',
      },
    },
    {
      key: 'vectorizeArticle',
      name: 'logbase-dev-vectorizeArticle',
      environment: { ARTICLE_VECTORS_TABLE: 'AV' },
    },
  ],
  streamSubscriptions: [
    {
      functionKey: 'updateUserVectors',
      functionName: 'logbase-dev-updateUserVectors',
      onFailure: {
        type: 'sqs',
        arn: 'arn:aws:sqs:ap-northeast-1:123456789012:logbase-dev-user-vectors-failures',
      },
    },
  ],
} as unknown as Wiring;

const target = (): RedriveTarget => ({
  s3: new S3Client({ region }),
  kinesis: new KinesisClient({ region }),
  lambda: new LambdaClient({ region }),
  bucket: 'b',
  region,
  stage: 'dev',
  local: false,
  wiring,
});

const gz = (lines: object[]) => gzipSync(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
const body = (bytes: Buffer) => ({ Body: { transformToByteArray: async () => bytes } as never });

beforeEach(() => {
  for (const m of [s3Mock, firehoseMock, kinesisMock, dynamoMock, sqsMock]) m.reset();
  s3Mock.on(ListObjectsV2Command).resolves({});
  s3Mock.on(PutObjectCommand).resolves({});
  s3Mock.on(DeleteObjectCommand).resolves({});
});

describe('logbase redrive collect (the command on mocked clients)', () => {
  const Q = 'quarantine/collect/dt=2026-11-20/hour=09/r1.jsonl.gz';
  const event = {
    event_id: '7c1e4a52-9b3d-4f6a-8e21-00000000b001',
    event_type: 'impression',
    schema_version: 1,
    user_id: 'u1',
    occurred_at: '2026-11-20T09:29:00.000Z',
    article_id: 'a1',
    tab: 'top',
    position: 1,
    platform: 'ios',
    app_version: '5.12.0',
  };
  const line = (e: object, index: number, path: string, message: string) => ({
    request_id: 'r1',
    received_at: '2026-11-20T09:30:00.000Z',
    index,
    event_id: null,
    errors: [{ path, message }],
    raw: JSON.stringify(e),
    raw_encoding: 'utf8',
    source: { ip: null, user_agent: null },
  });
  const lines = [
    line(event, 0, '/schema_version', 'must be 2, got 1'),
    line({ ...event, position: 'x' }, 1, '/position', 'must be an integer, got "x"'),
  ];

  beforeEach(() => {
    s3Mock
      .on(ListObjectsV2Command, { Prefix: 'quarantine/collect/' })
      .resolves({ Contents: [{ Key: Q, Size: 9 }] });
    s3Mock.on(GetObjectCommand, { Key: Q }).resolves(body(gz(lines)));
    firehoseMock
      .on(PutRecordBatchCommand)
      .resolves({ FailedPutCount: 0, RequestResponses: [{ RecordId: 'x' }] });
  });

  it('counts what would pass now on --dry-run and sends nothing', async () => {
    // Prepare
    const out: string[] = [];
    // Act
    const code = await runRedriveCollect(
      target(),
      { dryRun: true },
      (l) => out.push(l),
      new FirehoseClient({ region }),
    );
    // Assess
    expect(code).toBe(0);
    expect(firehoseMock.calls()).toHaveLength(0);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(out.at(-1)).toBe('1 quarantine object(s), 2 record(s): 1 would be redriven, 1 stay');
  });

  it('sends the passing event to Firehose, rewrites the quarantine object with the rest and records the run', async () => {
    // Prepare
    const out: string[] = [];
    // Act
    const code = await runRedriveCollect(
      target(),
      { dryRun: false },
      (l) => out.push(l),
      new FirehoseClient({ region }),
    );
    // Assess
    expect(code).toBe(0);
    expect(kinesisMock.calls()).toHaveLength(0);
    const sent = firehoseMock.commandCalls(PutRecordBatchCommand)[0]?.args[0].input;
    expect(sent?.DeliveryStreamName).toBe('logbase-dev-events');
    const puts = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => p.Key)).toEqual([
      expect.stringMatching(
        /^ops\/redriven\/quarantine\/collect\/dt=2026-11-20\/hour=09\/r1\/.+\.jsonl\.gz$/,
      ),
      Q,
      expect.stringMatching(/^ops\/runs\/redrive-collect\//),
    ]);
    const kept = gunzipSync(puts[1]?.Body as Buffer)
      .toString('utf8')
      .trim()
      .split('\n');
    expect(kept.map((l) => JSON.parse(l).index)).toEqual([1]);
    expect(out).toContain(
      'put 1 event(s) on logbase-dev-events (Firehose), 0 click(s) on logbase-dev-clicks (Kinesis)',
    );
  });

  it('keeps the whole object when the stream refuses the event, and exits 1', async () => {
    // Prepare
    firehoseMock
      .on(PutRecordBatchCommand)
      .rejects(Object.assign(new Error('no such stream'), { name: 'ResourceNotFoundException' }));
    const out: string[] = [];
    // Act
    const code = await runRedriveCollect(
      target(),
      { dryRun: false },
      (l) => out.push(l),
      new FirehoseClient({ region }),
    );
    // Assess
    expect(code).toBe(1);
    expect(s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key)).toEqual([
      expect.stringMatching(/^ops\/runs\/redrive-collect\//),
    ]);
    expect(out).toContainEqual(
      expect.stringMatching(new RegExp(`^failed: ${Q}: 1 event\\(s\\) not stored \\(`)),
    );
  });

  it('refuses --from without --to', async () => {
    // Act / Assess
    await expect(
      runRedriveCollect(target(), { from: '2026-11-20T09', dryRun: true }, () => {}),
    ).rejects.toThrow('give both --from and --to, or neither (every hour)');
  });
});

describe('logbase redrive articles (the command on mocked clients)', () => {
  it('writes the article that passes now, deletes the emptied quarantine object and records the run', async () => {
    // Prepare
    const Q = 'quarantine/articles/dt=2026-11-20/hour=09/r1.jsonl.gz';
    const article = {
      article_id: 'art_1',
      title: 't',
      body: 'b',
      category: 'economy',
      published_at: '2026-11-13T21:33:49.000Z',
      tags: [],
    };
    s3Mock
      .on(ListObjectsV2Command, { Prefix: 'quarantine/articles/dt=2026-11-20/hour=09/' })
      .resolves({ Contents: [{ Key: Q, Size: 9 }] });
    s3Mock.on(GetObjectCommand, { Key: Q }).resolves(
      body(
        gz([
          {
            received_at: '2026-11-20T09:30:00.000Z',
            index: 0,
            article_id: 'art_1',
            errors: [{ path: '/category', message: 'must be one of news, got "economy"' }],
            raw: JSON.stringify(article),
            source: { kind: 's3', bucket: 'b', key: 'articles/a.jsonl' },
          },
        ]),
      ),
    );
    dynamoMock.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });
    const out: string[] = [];
    // Act
    const code = await runRedriveArticles(
      target(),
      { from: '2026-11-20T09', to: '2026-11-20T09', dryRun: false },
      (l) => out.push(l),
      new DynamoDBClient({ region }),
    );
    // Assess
    expect(code).toBe(0);
    expect(dynamoMock.commandCalls(BatchWriteItemCommand)[0]?.args[0].input.RequestItems?.AV).toHaveLength(1);
    expect(s3Mock).toHaveReceivedCommandWith(DeleteObjectCommand, { Key: Q });
    expect(out).toContain('wrote 1 article(s) to AV');
    expect(out.at(-1)).toMatch(/^recorded: s3:\/\/b\/ops\/runs\/redrive-articles\//);
  });
});

describe('the redrive commands on their own clients', () => {
  it('makes its own clients for a local or a deployed target when none is given', async () => {
    // Prepare
    sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: 'https://q' });
    sqsMock.on(ReceiveMessageCommand).resolves({});
    // Act
    const codes = [
      await runRedriveCollect({ ...target(), local: true }, { dryRun: true }, () => {}),
      await runRedriveCollect(target(), { dryRun: true }, () => {}),
      await runRedriveArticles({ ...target(), local: true }, { dryRun: true }, () => {}),
      await runRedriveArticles(target(), { dryRun: true }, () => {}),
      await runRedriveVectors({ ...target(), local: true }, { dryRun: true }, () => {}),
      await runRedriveVectors(target(), { dryRun: true }, () => {}),
    ];
    // Assess
    expect(codes).toEqual([0, 0, 0, 0, 0, 0]);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('names what serverless.yml lacks', async () => {
    // Prepare
    const bare = { ...target(), wiring: { functions: [], streamSubscriptions: [] } as unknown as Wiring };
    // Act / Assess
    await expect(runRedriveCollect(bare, { dryRun: true }, () => {})).rejects.toThrow(
      'serverless.yml has no function collect',
    );
    await expect(runRedriveVectors(bare, { dryRun: true }, () => {})).rejects.toThrow(
      'serverless.yml gives updateUserVectors no SQS on-failure destination',
    );
  });

  it('keeps quarantined articles DynamoDB did not write, and exits 1', async () => {
    // Prepare
    const Q = 'quarantine/articles/dt=2026-11-20/hour=09/r2.jsonl.gz';
    const article = {
      article_id: 'art_2',
      title: 't',
      body: 'b',
      category: 'economy',
      published_at: '2026-11-13T21:33:49.000Z',
      tags: [],
    };
    s3Mock
      .on(ListObjectsV2Command, { Prefix: 'quarantine/articles/' })
      .resolves({ Contents: [{ Key: Q, Size: 9 }] });
    s3Mock.on(GetObjectCommand, { Key: Q }).resolves(
      body(
        gz([
          {
            received_at: '2026-11-20T09:30:00.000Z',
            index: null,
            article_id: null,
            errors: [{ path: '', message: 'body is not valid JSON' }],
            raw: JSON.stringify({ articles: [article] }),
            source: { kind: 'http', request_id: 'r2', ip: null, user_agent: null },
          },
        ]),
      ),
    );
    dynamoMock
      .on(BatchWriteItemCommand)
      .rejects(Object.assign(new Error('gone'), { name: 'ResourceNotFoundException' }));
    const out: string[] = [];
    // Act
    const code = await runRedriveArticles(
      target(),
      { dryRun: false },
      (l) => out.push(l),
      new DynamoDBClient({ region }),
    );
    // Assess
    expect(code).toBe(1);
    expect(out).toContain(`failed: ${Q}: 1 article(s) not stored (ResourceNotFoundException: gone)`);
    expect(s3Mock).not.toHaveReceivedCommand(DeleteObjectCommand);
  });
});

describe('logbase redrive vectors (the command on mocked clients)', () => {
  it('says an empty queue holds nothing and records the run', async () => {
    // Prepare
    sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: 'https://q' });
    sqsMock.on(ReceiveMessageCommand).resolves({});
    const out: string[] = [];
    // Act
    const code = await runRedriveVectors(
      target(),
      { dryRun: false },
      (l) => out.push(l),
      new SQSClient({ region }),
    );
    // Assess
    expect(code).toBe(0);
    expect(sqsMock).toHaveReceivedCommandWith(GetQueueUrlCommand, {
      QueueName: 'logbase-dev-user-vectors-failures',
    });
    expect(out.slice(0, 2)).toEqual([
      'logbase-dev-user-vectors-failures: 0 on-failure record(s)',
      '0 failed batch(es): 0 applied, 0 past retention, 0 still failing, 0 unreadable',
    ]);
    expect(out.at(-1)).toMatch(/^recorded: s3:\/\/b\/ops\/runs\/redrive-vectors\//);
  });

  it('registers collect, articles and vectors under redrive', () => {
    // Prepare
    const program = new Command();
    program.command('redrive');
    // Act
    registerRedriveSources(program);
    // Assess
    const redrive = program.commands.find((c) => c.name() === 'redrive');
    expect(redrive?.commands.map((c) => c.name())).toEqual(['collect', 'articles', 'vectors']);
    expect(redrive?.commands[0]?.options.map((o) => o.long)).toEqual(
      expect.arrayContaining(['--from', '--to', '--dry-run', '--stage']),
    );
  });
});

describe('logbase replay --record (against a stand-in stack)', () => {
  let server: Server;
  afterEach(() => new Promise<void>((r) => server.close(() => r())));

  it('writes each streamed fixture under its source folder, an S3 one with its object, and sums them up', async () => {
    // Prepare: a stack that records one request and one S3 notification, then ends the stream.
    server = createServer((req, res) => {
      expect(req.url).toBe('/_logbase/record');
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('{"recording":true}\n');
      res.write(
        `${JSON.stringify({ source: 'http', name: 'post-v1-events', event: { rawPath: '/v1/events' } })}\n`,
      );
      res.end(
        `${JSON.stringify({ source: 's3', name: 'raw-events', event: { Records: [] }, objects: [Buffer.from('bytes').toString('base64')] })}\n`,
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dir = await mkdtemp(join(tmpdir(), 'logbase-record-unit-'));
    const out: string[] = [];
    // Act
    const code = await runRecord({ dir, endpoint }, (l) => out.push(l));
    // Assess
    expect(code).toBe(0);
    expect(out[0]).toBe(`recording what ${endpoint} receives into ${dir}/ (Ctrl-C stops)`);
    expect(out.at(-1)).toBe('2 fixture(s) recorded: 1 http, 0 kinesis, 1 s3');
    const s3File = out
      .find((l) => l.includes('/s3/'))
      ?.trim()
      .split(/\s+/)[1] as string;
    expect(JSON.parse(await readFile(s3File, 'utf8'))).toEqual({ Records: [] });
    expect((await readFile(s3File.replace(/\.json$/, '.object'))).toString()).toBe('bytes');
    await rm(dir, { recursive: true, force: true });
  });
});
