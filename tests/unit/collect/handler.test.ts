import { gunzipSync } from 'node:zlib';
import { clearCaches } from '@aws-lambda-powertools/parameters';
import {
  FirehoseClient,
  PutRecordBatchCommand,
  type PutRecordBatchCommandInput,
} from '@aws-sdk/client-firehose';
import { KinesisClient, PutRecordsCommand, type PutRecordsCommandInput } from '@aws-sdk/client-kinesis';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { loadCollectConfig } from '../../../functions/collect/config';
import type * as HandlerModule from '../../../functions/collect/handler';
import { bodyEvents, httpEvent, lambdaContext } from '../../helpers/events';

/** The request id collect reports: the Lambda invocation's (tests/helpers/events.ts lambdaContext). */
const CONTEXT_REQUEST_ID = lambdaContext().awsRequestId;

const LOCAL_KEY = 'lb_local_0123456789abcdef';
const ENV = {
  AWS_REGION: 'ap-northeast-1',
  DATA_BUCKET: 'logbase-test-data',
  EVENTS_DELIVERY_STREAM: 'logbase-test-events',
  CLICKS_STREAM: 'logbase-test-clicks',
  COLLECT_MAX_EVENTS: '500',
  COLLECT_MAX_BYTES: '1048576',
  COLLECT_FUTURE_SKEW_SECONDS: '300',
  API_KEYS_PARAMETER: '',
  API_KEYS: LOCAL_KEY,
  POWERTOOLS_SERVICE_NAME: 'logbase',
  POWERTOOLS_METRICS_NAMESPACE: 'logbase',
};

const firehoseMock = mockClient(FirehoseClient);
const kinesisMock = mockClient(KinesisClient);
const s3Mock = mockClient(S3Client);
const ssmMock = mockClient(SSMClient);

type Handler = typeof HandlerModule.handler;
let handler: Handler;
let stdout: string[];

/** Loads the handler module with these settings (it reads them at start-up, as on Lambda). */
function loadHandler(env: Record<string, string>): typeof HandlerModule {
  Object.assign(process.env, env);
  return require('../../../functions/collect/handler') as typeof HandlerModule;
}

async function invoke(event: APIGatewayProxyEventV2, run: Handler = handler) {
  const response = (await run(event, lambdaContext())) as APIGatewayProxyStructuredResultV2;
  return { ...response, json: JSON.parse(response.body ?? '{}') };
}

/** The lines of one Firehose record (collect packs events into records, one line each). */
function recordLines(data: Uint8Array | undefined): Record<string, unknown>[] {
  const text = Buffer.from(data as Uint8Array).toString('utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line));
}

/** Events Firehose would store, decoded from every record of every PutRecordBatch call. */
function firehoseRecords(): Record<string, unknown>[] {
  return firehoseMock
    .commandCalls(PutRecordBatchCommand)
    .flatMap((c) => c.args[0].input.Records ?? [])
    .flatMap((r) => recordLines(r.Data));
}

/** The lines of the one quarantine object written. */
function quarantined(): { key: string; lines: Record<string, unknown>[] } {
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

/** Metric values printed as CloudWatch EMF, by event_type dimension. */
function metric(name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const chunk of stdout) {
    for (const line of chunk.split('\n')) {
      if (!line.includes('"_aws"')) continue;
      const emf = JSON.parse(line) as Record<string, unknown>;
      if (typeof emf[name] === 'number') out[String(emf.event_type ?? '')] = emf[name] as number;
    }
  }
  return out;
}

function expectNothingWritten(): void {
  expect(firehoseMock).not.toHaveReceivedAnyCommand();
  expect(kinesisMock).not.toHaveReceivedAnyCommand();
  expect(s3Mock).not.toHaveReceivedAnyCommand();
}

function acceptAll(): void {
  firehoseMock.on(PutRecordBatchCommand).callsFake((input: PutRecordBatchCommandInput) => ({
    FailedPutCount: 0,
    RequestResponses: input.Records?.map((_, i) => ({ RecordId: `rec-${i}` })),
  }));
  kinesisMock.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => ({
    FailedRecordCount: 0,
    Records: input.Records?.map((_, i) => ({ SequenceNumber: `4960${i}`, ShardId: 'shardId-000000000000' })),
  }));
  s3Mock.on(PutObjectCommand).resolves({});
}

let handlerModule: typeof HandlerModule;
beforeAll(() => {
  handlerModule = loadHandler(ENV);
  handler = handlerModule.handler;
});

beforeEach(() => {
  firehoseMock.reset();
  kinesisMock.reset();
  s3Mock.reset();
  ssmMock.reset();
  acceptAll();
  stdout = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(String(chunk));
    return true;
  });
  jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
});

afterEach(() => jest.restoreAllMocks());

describe('When a client posts a valid batch to POST /v1/events', () => {
  it('answers 202 with every event accepted', async () => {
    // Act
    const response = await invoke(httpEvent('valid-batch'));

    // Assess
    expect(response.statusCode).toBe(202);
    expect(response.headers).toMatchObject({ 'content-type': 'application/json' });
    expect(response.json).toEqual({ accepted: 9, rejected: [], request_id: CONTEXT_REQUEST_ID });
  });

  it('writes clicks to the Kinesis stream keyed by user_id and the rest to Firehose', async () => {
    // Prepare
    const event = httpEvent('valid-batch');
    const sent = bodyEvents(event);

    // Act
    await invoke(event);

    // Assess
    const clicks = sent.filter((e) => e.event_type === 'click');
    expect(kinesisMock).toHaveReceivedCommandTimes(PutRecordsCommand, 1);
    const kinesisInput = kinesisMock.commandCalls(PutRecordsCommand)[0]?.args[0].input;
    expect(kinesisInput?.StreamName).toBe('logbase-test-clicks');
    expect(kinesisInput?.Records?.map((r) => r.PartitionKey)).toEqual(clicks.map((e) => e.user_id));
    expect(firehoseMock).toHaveReceivedCommandWith(PutRecordBatchCommand, {
      DeliveryStreamName: 'logbase-test-events',
    });
    expect(firehoseRecords().map((r) => r.event_id)).toEqual(
      sent.filter((e) => e.event_type !== 'click').map((e) => e.event_id),
    );
    expect(s3Mock).not.toHaveReceivedAnyCommand();
  });

  it('calls only the stream a batch needs: Kinesis for clicks alone, Firehose for the rest alone', async () => {
    // Prepare: the valid batch split into its clicks and its other events
    const only = (keep: (e: Record<string, unknown>) => boolean) => {
      const event = httpEvent('valid-batch');
      event.body = JSON.stringify({ events: bodyEvents(event).filter(keep) });
      return event;
    };
    const isClick = (e: Record<string, unknown>) => e.event_type === 'click';

    // Act
    const clicks = await invoke(only(isClick));
    const clickCalls = { kinesis: kinesisMock.calls().length, firehose: firehoseMock.calls().length };
    kinesisMock.resetHistory();
    firehoseMock.resetHistory();
    const others = await invoke(only((e) => !isClick(e)));

    // Assess
    expect(clicks.statusCode).toBe(202);
    expect(clickCalls).toEqual({ kinesis: 1, firehose: 0 });
    expect(others.statusCode).toBe(202);
    expect({ kinesis: kinesisMock.calls().length, firehose: firehoseMock.calls().length }).toEqual({
      kinesis: 0,
      firehose: 1,
    });
  });

  it('stores each event as sent plus received_at and request_id', async () => {
    // Prepare
    const event = httpEvent('valid-batch');
    const before = Date.now();

    // Act
    await invoke(event);

    // Assess
    const [first] = firehoseRecords();
    const original = bodyEvents(event).find((e) => e.event_id === first?.event_id);
    expect(first).toEqual({ ...original, received_at: expect.any(String), request_id: CONTEXT_REQUEST_ID });
    expect(Date.parse(String(first?.received_at))).toBeGreaterThanOrEqual(before - 1);
  });

  it('counts accepted events per event type', async () => {
    // Act
    await invoke(httpEvent('valid-batch'));

    // Assess
    expect(metric('Accepted')).toEqual({ click: 3, impression: 2, ad_impression: 2, action: 2 });
  });

  it('writes to Firehose and Kinesis at the same time', async () => {
    // Prepare: each stream answers only once the other has been called, so one-after-the-other would hang.
    let firehoseCalled: () => void = () => undefined;
    let kinesisCalled: () => void = () => undefined;
    const firehoseStarted = new Promise<void>((resolve) => (firehoseCalled = resolve));
    const kinesisStarted = new Promise<void>((resolve) => (kinesisCalled = resolve));
    firehoseMock.on(PutRecordBatchCommand).callsFake(async (input: PutRecordBatchCommandInput) => {
      firehoseCalled();
      await kinesisStarted;
      return { FailedPutCount: 0, RequestResponses: input.Records?.map(() => ({ RecordId: 'r' })) };
    });
    kinesisMock.on(PutRecordsCommand).callsFake(async (input: PutRecordsCommandInput) => {
      kinesisCalled();
      await firehoseStarted;
      return {
        FailedRecordCount: 0,
        Records: input.Records?.map(() => ({ SequenceNumber: '1', ShardId: 's' })),
      };
    });

    // Act
    const response = await invoke(httpEvent('valid-batch'));

    // Assess
    expect(response.statusCode).toBe(202);
  });
});

describe('When a client posts a gzip NDJSON body', () => {
  it('inflates it and accepts every line', async () => {
    // Act
    const response = await invoke(httpEvent('gzip-body'));

    // Assess
    expect(response.statusCode).toBe(202);
    expect(response.json).toEqual({ accepted: 4, rejected: [], request_id: CONTEXT_REQUEST_ID });
    expect(kinesisMock.commandCalls(PutRecordsCommand)[0]?.args[0].input.Records).toHaveLength(1);
    expect(firehoseRecords()).toHaveLength(3);
  });
});

describe('When a batch mixes valid and invalid events', () => {
  it('accepts the valid ones and lists each rejected one with its reasons', async () => {
    // Prepare
    const event = httpEvent('mixed-valid-invalid');
    const sent = bodyEvents(event);

    // Act
    const response = await invoke(event);

    // Assess
    expect(response.statusCode).toBe(202);
    expect(response.json.accepted).toBe(3);
    expect(
      response.json.rejected.map((r: { index: number; event_id: string }) => [r.index, r.event_id]),
    ).toEqual([1, 3, 4, 5, 6, 7, 8].map((i) => [i, sent[i]?.event_id]));
    const messages = response.json.rejected.map((r: { errors: { path: string }[] }) => r.errors[0]?.path);
    expect(messages).toEqual([
      '/position',
      '/article_id',
      '/event_type',
      '/schema_version',
      '/occurred_at',
      '/coupon',
      '/event_id',
    ]);
    expect(response.json.rejected[6].errors[0].message).toBe('duplicate event_id; first seen at index 0');
  });

  it('quarantines every rejected event with its raw JSON, reasons and source', async () => {
    // Prepare
    const event = httpEvent('mixed-valid-invalid');
    const sent = bodyEvents(event);

    // Act
    const response = await invoke(event);

    // Assess
    const { key, lines } = quarantined();
    expect(key).toMatch(
      /^quarantine\/collect\/dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/c6af9ac6-7b61-11e6-9a41-93e8deadbeef\.jsonl\.gz$/,
    );
    expect(lines).toHaveLength(response.json.rejected.length);
    expect(lines[0]).toEqual({
      request_id: CONTEXT_REQUEST_ID,
      received_at: expect.any(String),
      index: 1,
      event_id: sent[1]?.event_id,
      errors: response.json.rejected[0].errors,
      raw: JSON.stringify(sent[1]),
      raw_encoding: 'utf8',
      source: { ip: '203.0.113.24', user_agent: 'logbase-api-server/1.4.0 (node 22)' },
    });
    expect(lines.map((l) => l.raw)).toEqual([1, 3, 4, 5, 6, 7, 8].map((i) => JSON.stringify(sent[i])));
  });

  it('counts rejected events per event type, unknown types as "unknown"', async () => {
    // Act
    await invoke(httpEvent('mixed-valid-invalid'));

    // Assess
    expect(metric('Rejected')).toEqual({ click: 3, impression: 2, ad_impression: 1, unknown: 1 });
    expect(metric('Accepted')).toEqual({ click: 1, impression: 1, action: 1 });
  });

  it('answers 503 and asks for the rejected events again when quarantine cannot be written', async () => {
    // Prepare
    s3Mock
      .on(PutObjectCommand)
      .rejects(Object.assign(new Error('Service Unavailable'), { name: 'SlowDown' }));

    // Act
    const response = await invoke(httpEvent('mixed-valid-invalid'));

    // Assess
    expect(response.statusCode).toBe(503);
    expect(response.json.accepted).toBe(3);
    expect(response.json.failed.map((f: { index: number }) => f.index)).toEqual([1, 3, 4, 5, 6, 7, 8]);
    expect(response.json.failed[0].reason).toBe('could not be quarantined (SlowDown: Service Unavailable)');
  });
});

describe('When the body cannot be read', () => {
  it('answers 400 with the parser position and quarantines the raw body', async () => {
    // Prepare
    const event = httpEvent('bad-body');

    // Act
    const response = await invoke(event);

    // Assess
    expect(response.statusCode).toBe(400);
    expect(response.json).toEqual({
      message: expect.stringMatching(/^body is not valid JSON: .* at position 121 /),
      request_id: CONTEXT_REQUEST_ID,
    });
    const { lines } = quarantined();
    expect(lines).toEqual([
      expect.objectContaining({
        index: null,
        event_id: null,
        raw: event.body,
        raw_encoding: 'utf8',
        errors: [{ path: '', message: response.json.message }],
      }),
    ]);
    expect(firehoseMock).not.toHaveReceivedAnyCommand();
    expect(kinesisMock).not.toHaveReceivedAnyCommand();
  });

  it('quarantines a body that is not UTF-8 as base64', async () => {
    // Prepare
    const event = httpEvent('valid-batch');
    const bytes = Buffer.concat([Buffer.from('{"events":['), Buffer.from([0xfe, 0xff]), Buffer.from(']}')]);
    event.body = bytes.toString('base64');
    event.isBase64Encoded = true;

    // Act
    const response = await invoke(event);

    // Assess
    expect(response.statusCode).toBe(400);
    expect(response.json.message).toBe(
      'body is not valid UTF-8: invalid UTF-8 sequence 0xfe at byte offset 11',
    );
    expect(quarantined().lines[0]).toMatchObject({ raw: bytes.toString('base64'), raw_encoding: 'base64' });
  });
});

describe('When a request is refused as a whole', () => {
  it('answers 413 naming the limit for more than 500 events, and writes nothing', async () => {
    // Act
    const response = await invoke(httpEvent('oversized'));

    // Assess
    expect(response.statusCode).toBe(413);
    expect(response.json.message).toBe('request has 501 events; the limit is 500 events per request');
    expectNothingWritten();
  });

  it('answers 401 without an API key, and writes nothing', async () => {
    // Act
    const response = await invoke(httpEvent('no-key'));

    // Assess
    expect(response.statusCode).toBe(401);
    expect(response.json).toEqual({ message: 'missing x-api-key header', request_id: CONTEXT_REQUEST_ID });
    expectNothingWritten();
  });

  it('answers 401 with a wrong API key, and writes nothing', async () => {
    // Prepare
    const event = httpEvent('valid-batch');
    event.headers['x-api-key'] = `${LOCAL_KEY}x`;

    // Act
    const response = await invoke(event);

    // Assess
    expect(response.statusCode).toBe(401);
    expect(response.json.message).toBe('invalid API key');
    expectNothingWritten();
  });

  it('answers 415 for a content type other than JSON or NDJSON, and writes nothing', async () => {
    // Prepare
    const event = httpEvent('valid-batch');
    event.headers['content-type'] = 'text/plain';

    // Act
    const response = await invoke(event);

    // Assess
    expect(response.statusCode).toBe(415);
    expect(response.json.message).toBe(
      'Content-Type text/plain is not supported; send application/json or application/x-ndjson',
    );
    expectNothingWritten();
  });
});

describe('When the streams refuse some records', () => {
  it('packs the events for Firehose into one record, retries it when refused, and answers 202 once it is in', async () => {
    // Prepare
    firehoseMock
      .on(PutRecordBatchCommand)
      .callsFakeOnce((input: PutRecordBatchCommandInput) => ({
        FailedPutCount: input.Records?.length,
        RequestResponses: input.Records?.map(() => ({
          ErrorCode: 'ServiceUnavailableException',
          ErrorMessage: 'Slow down.',
        })),
      }))
      .callsFake((input: PutRecordBatchCommandInput) => ({
        FailedPutCount: 0,
        RequestResponses: input.Records?.map(() => ({ RecordId: 'r' })),
      }));
    const event = httpEvent('valid-batch');
    const sent = bodyEvents(event);

    // Act
    const response = await invoke(event);

    // Assess
    expect(response.statusCode).toBe(202);
    expect(response.json.accepted).toBe(9);
    const calls = firehoseMock.commandCalls(PutRecordBatchCommand).map((c) => c.args[0].input.Records ?? []);
    expect(calls.map((records) => records.length)).toEqual([1, 1]);
    expect(calls[1]?.[0]).toEqual(calls[0]?.[0]);
    expect(recordLines(calls[1]?.[0]?.Data).map((e) => e.event_id)).toEqual(
      sent.filter((e) => e.event_type !== 'click').map((e) => e.event_id),
    );
  });

  it('answers 503 listing exactly the events still refused after the retries', async () => {
    // Prepare: Firehose refuses every attempt at the record holding sent[2] (so all the events packed
    // with it), Kinesis every attempt at the click sent[8].
    const event = httpEvent('valid-batch');
    const sent = bodyEvents(event);
    const refusedIds = new Set([sent[2]?.event_id, sent[8]?.event_id]);
    const refusedNow = (data: Uint8Array | undefined) =>
      recordLines(data).some((line) => refusedIds.has(line.event_id));
    firehoseMock.on(PutRecordBatchCommand).callsFake((input: PutRecordBatchCommandInput) => ({
      FailedPutCount: input.Records?.filter((r) => refusedNow(r.Data)).length,
      RequestResponses: input.Records?.map((r) =>
        refusedNow(r.Data)
          ? { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' }
          : { RecordId: 'r' },
      ),
    }));
    kinesisMock.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => ({
      FailedRecordCount: input.Records?.filter((r) => refusedNow(r.Data)).length,
      Records: input.Records?.map((r) =>
        refusedNow(r.Data)
          ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard' }
          : { SequenceNumber: '1', ShardId: 's' },
      ),
    }));

    // A handler whose retries wait on a recorded fake sleep and a clock that stands still: 4 attempts in all.
    const waits: number[] = [];
    const retrying = handlerModule.createHandler({
      ...handlerModule.collectDeps(loadCollectConfig(ENV)),
      retry: {
        maxAttempts: 4,
        now: () => 1_000_000,
        random: () => 0.5,
        sleep: async (ms) => {
          waits.push(ms);
        },
      },
    });

    // Act
    const response = await invoke(event, retrying);

    // Assess
    const packed = sent.flatMap((e, index) => (e.event_type === 'click' ? [] : [{ index, event: e }]));
    expect(response.statusCode).toBe(503);
    expect(response.headers).toMatchObject({ 'retry-after': '1' });
    expect(response.json).toEqual({
      accepted: 9 - packed.length - 1,
      rejected: [],
      failed: [
        ...packed.map(({ index, event: e }) => ({
          index,
          event_id: e.event_id,
          reason: 'ServiceUnavailableException: Slow down.',
        })),
        {
          index: 8,
          event_id: sent[8]?.event_id,
          reason: 'ProvisionedThroughputExceededException: Rate exceeded for shard',
        },
      ].sort((a, b) => a.index - b.index),
      request_id: CONTEXT_REQUEST_ID,
      message: `${packed.length + 1} of 9 events could not be stored; send the events listed in "failed" again`,
    });
    expect(metric('Failed')).toEqual({ impression: 2, ad_impression: 2, action: 2, click: 1 });
    // Each stream: the first call and 3 retries of only what was refused, after waits of 25, 50, 100 ms
    // (full jitter at 0.5 of 50 ms doubling).
    const firehoseCalls = firehoseMock.commandCalls(PutRecordBatchCommand);
    expect(firehoseCalls).toHaveLength(4);
    for (const call of firehoseCalls.slice(1))
      expect(call.args[0].input.Records?.map((r) => refusedNow(r.Data))).toEqual([true]);
    const kinesisCalls = kinesisMock.commandCalls(PutRecordsCommand);
    expect(kinesisCalls).toHaveLength(4);
    expect(kinesisCalls[0]?.args[0].input.Records).toHaveLength(
      sent.filter((e) => e.event_type === 'click').length,
    );
    for (const call of kinesisCalls.slice(1))
      expect(call.args[0].input.Records?.map((r) => refusedNow(r.Data))).toEqual([true]);
    expect(waits.sort((a, b) => a - b)).toEqual([25, 25, 50, 50, 100, 100]);
  });
});

describe('When API keys come from SSM Parameter Store', () => {
  /** A handler configured as on AWS: keys in an SSM parameter, none inline. */
  function ssmHandler(): Handler {
    const config = { ...loadCollectConfig(ENV), apiKeysParameter: '/logbase/dev/api-keys', apiKeys: '' };
    return handlerModule.createHandler(handlerModule.collectDeps(config));
  }

  beforeEach(() => clearCaches());

  it('accepts a key listed in the parameter', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: 'lb_dev_first,lb_dev_second' } });
    const event = httpEvent('valid-batch');
    event.headers['x-api-key'] = 'lb_dev_second';

    // Act
    const response = await invoke(event, ssmHandler());

    // Assess
    expect(response.statusCode).toBe(202);
    expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, {
      Name: '/logbase/dev/api-keys',
      WithDecryption: true,
    });
  });

  it('answers 500 with a generic message when the parameter cannot be read, and writes nothing', async () => {
    // Prepare
    ssmMock
      .on(GetParameterCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));

    // Act
    const response = await invoke(httpEvent('valid-batch'), ssmHandler());

    // Assess
    expect(response.statusCode).toBe(500);
    expect(response.json).toEqual({ message: 'internal error' });
    expectNothingWritten();
  });
});
