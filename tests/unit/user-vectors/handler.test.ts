import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandInput,
  ConditionalCheckFailedException,
  DynamoDBClient,
  PutItemCommand,
  type PutItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { KinesisStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import type * as HandlerModule from '../../../functions/update-user-vectors/handler';
import { historyEntries } from '../../../lib/domain/user-history';
import { encodeVector } from '../../../lib/domain/vectors';
import { lambdaContext, loadEvent } from '../../helpers/events';
import { unitVector } from './reference';

const ENV = {
  AWS_REGION: 'ap-northeast-1',
  USER_VECTORS_TABLE: 'logbase-test-UserVectors',
  ARTICLE_VECTORS_TABLE: 'logbase-test-ArticleVectors',
  USER_HISTORY_LENGTH: '50',
  USER_VECTOR_HALF_LIFE_HOURS: '24',
  POWERTOOLS_SERVICE_NAME: 'logbase',
  POWERTOOLS_METRICS_NAMESPACE: 'logbase',
};

const dynamoMock = mockClient(DynamoDBClient);
type Item = Record<string, AttributeValue>;
/** The two tables, as the mocked client sees them. */
let users: Map<string, Item>;
let articles: Map<string, Item>;
/** What the handler printed (logs and EMF metrics), both streams. */
let stdout: string[];
let handler: typeof HandlerModule.handler;

const kinesisEvent = (variant: string) => loadEvent<KinesisStreamEvent>('kinesis', variant);
const invoke = (event: KinesisStreamEvent) =>
  handler(event, lambdaContext(60_000, 'logbase-test-updateUserVectors'));

/** A DynamoDB that answers BatchGetItem and conditional PutItem from the two maps. */
function fakeDynamo(): void {
  dynamoMock.on(BatchGetItemCommand).callsFake((input: BatchGetItemCommandInput) => {
    const [table, request] = Object.entries(input.RequestItems ?? {})[0] as [string, { Keys: Item[] }];
    const source = table === ENV.USER_VECTORS_TABLE ? users : articles;
    const keyName = table === ENV.USER_VECTORS_TABLE ? 'user_id' : 'article_id';
    const found = request.Keys.map((k) => source.get(k[keyName]?.S as string)).filter(Boolean);
    return { Responses: { [table]: found }, UnprocessedKeys: {} };
  });
  dynamoMock.on(PutItemCommand).callsFake((input: PutItemCommandInput) => {
    const id = input.Item?.user_id?.S as string;
    const current = users.get(id);
    const expected = input.ExpressionAttributeValues?.[':expected']?.N;
    const ok = expected === undefined ? current === undefined : current?.version?.N === expected;
    if (!ok)
      throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
    users.set(id, input.Item as Item);
    return {};
  });
}

/** Log lines (JSON) with this message. */
const logged = (message: string) =>
  stdout
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.includes(`"message":"${message}"`))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

/** A metric's value as printed in CloudWatch EMF. */
const metric = (name: string) =>
  stdout
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line)[name])
    .find((v) => typeof v === 'number');

const articleItem = (id: string, seed: number): Item => ({
  article_id: { S: id },
  vector: { B: encodeVector(unitVector(seed)) },
  model: { S: 'test' },
});

beforeAll(() => {
  Object.assign(process.env, ENV);
  handler = (require('../../../functions/update-user-vectors/handler') as typeof HandlerModule).handler;
});

beforeEach(() => {
  dynamoMock.reset();
  users = new Map();
  // art_e80b6d2c45 (clicked by u_8d21e6f0a9c3 in clicks.json) has no vector yet.
  articles = new Map(
    ['art_7c1e9b20f4', 'art_2a9d04c6e1', 'art_51f0e3a7b9'].map((id, i) => [id, articleItem(id, i + 1)]),
  );
  fakeDynamo();
  stdout = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(String(chunk));
    return true;
  });
  jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(String(chunk));
    return true;
  });
});

afterEach(() => jest.restoreAllMocks());

describe('When the clicks stream delivers a batch to update-user-vectors', () => {
  it('writes each user once, with their clicks in stream order, and reports no failure', async () => {
    // Act
    const response = await invoke(kinesisEvent('clicks'));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(dynamoMock).toHaveReceivedCommandTimes(PutItemCommand, 3);
    expect(dynamoMock).toHaveReceivedCommandTimes(BatchGetItemCommand, 2);
    const history = (id: string) =>
      historyEntries(users.get(id)?.history?.B as Uint8Array).map((e) => e.articleId);
    expect(history('u_3f9a1c07b2e4')).toEqual(['art_7c1e9b20f4', 'art_51f0e3a7b9', 'art_2a9d04c6e1']);
    // The resent click is in the history once.
    expect(history('u_8d21e6f0a9c3')).toEqual(['art_2a9d04c6e1', 'art_e80b6d2c45']);
    expect(users.get('u_8d21e6f0a9c3')?.pending).toEqual({ N: '1' });
    expect(metric('DuplicateClicks')).toBe(1);
    expect(metric('ClicksWithoutArticleVector')).toBe(1);
  });

  it('changes no item when the same batch is delivered again', async () => {
    // Prepare
    await invoke(kinesisEvent('clicks'));
    const before = structuredClone([...users]);
    dynamoMock.resetHistory();

    // Act
    const response = await invoke(kinesisEvent('clicks'));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(dynamoMock).toHaveReceivedCommandTimes(PutItemCommand, 0);
    expect([...users]).toEqual(before);
  });

  it('reports the poison record alone, logged with its sequence number, and applies the others', async () => {
    // Prepare
    const event = kinesisEvent('poison');
    const poison = event.Records[1]?.kinesis.sequenceNumber as string;

    // Act
    const response = await invoke(event);

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: poison }] });
    const [line] = logged('poison record');
    expect(line).toMatchObject({
      sequenceNumber: poison,
      shardId: 'shardId-000000000000',
      partitionKey: 'u_3f9a1c07b2e4',
    });
    expect(String(line?.reason)).toMatch(/^record data is not JSON/);
    expect([...users.keys()].sort()).toEqual(['u_05b7d4e8c1fa', 'u_3f9a1c07b2e4']);
  });

  it('applies a batch again on top of a write that won the race for the same user', async () => {
    // Prepare: the first conditional write of u_3f9a1c07b2e4 loses to a writer that stored another click,
    // from another shard's batch (one shard's batches never run at once)
    const other = kinesisEvent('poison');
    for (const r of other.Records)
      r.eventID = r.eventID.replace('shardId-000000000000', 'shardId-000000000001');
    await invoke(other);
    const rival = users.get('u_3f9a1c07b2e4') as Item;
    users.delete('u_3f9a1c07b2e4');
    let raced = false;
    dynamoMock.on(PutItemCommand).callsFake((input: PutItemCommandInput) => {
      const id = input.Item?.user_id?.S as string;
      if (id === 'u_3f9a1c07b2e4' && !raced) {
        raced = true;
        users.set(id, rival);
        throw new ConditionalCheckFailedException({
          message: 'The conditional request failed',
          $metadata: {},
        });
      }
      const expected = input.ExpressionAttributeValues?.[':expected']?.N;
      if (
        (expected === undefined) !== (users.get(id) === undefined) ||
        (expected && users.get(id)?.version?.N !== expected)
      )
        throw new ConditionalCheckFailedException({
          message: 'The conditional request failed',
          $metadata: {},
        });
      users.set(id, input.Item as Item);
      return {};
    });
    stdout.length = 0;

    // Act
    const response = await invoke(kinesisEvent('clicks'));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(metric('WriteRaces')).toBe(1);
    const entries = historyEntries(users.get('u_3f9a1c07b2e4')?.history?.B as Uint8Array).map(
      (e) => e.articleId,
    );
    expect(entries).toEqual(['art_51f0e3a7b9', 'art_7c1e9b20f4', 'art_51f0e3a7b9', 'art_2a9d04c6e1']);
    expect(users.get('u_3f9a1c07b2e4')?.version).toEqual({ N: '2' });
  });
});
