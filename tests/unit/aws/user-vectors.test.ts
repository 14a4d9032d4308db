import { BatchGetItemCommand, type BatchGetItemCommandInput, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { batchGetItems, UnprocessedKeysError } from '../../../lib/aws/user-vectors';

const dynamoMock = mockClient(DynamoDBClient);
const client = new DynamoDBClient({ region: 'ap-northeast-1' });
const keysOf = (input: BatchGetItemCommandInput) =>
  (input.RequestItems?.T?.Keys ?? []).map((k) => k.id?.S as string);

beforeEach(() => dynamoMock.reset());

describe('reading items with BatchGetItem', () => {
  it('asks for 100 keys a call and retries only the unprocessed ones, after a full-jitter backoff', async () => {
    // Prepare: the first call for each chunk leaves its last 10 keys unprocessed
    const seen = new Set<string>();
    dynamoMock.on(BatchGetItemCommand).callsFake((input: BatchGetItemCommandInput) => {
      const keys = keysOf(input);
      const fresh = keys.filter((k) => !seen.has(k));
      for (const k of keys) seen.add(k);
      const unprocessed = fresh.length === keys.length && keys.length > 10 ? keys.slice(-10) : [];
      const served = keys.filter((k) => !unprocessed.includes(k));
      return {
        Responses: { T: served.map((k) => ({ id: { S: k } })) },
        UnprocessedKeys: unprocessed.length
          ? { T: { Keys: unprocessed.map((k) => ({ id: { S: k } })) } }
          : {},
      };
    });
    const delays: number[] = [];
    const keys = Array.from({ length: 250 }, (_, i) => `k${i}`);

    // Act
    const items = await batchGetItems(
      client,
      { table: 'T', keyName: 'id', keys },
      { sleep: async (ms) => void delays.push(ms), random: () => 0.5, baseDelayMs: 40 },
    );

    // Assess
    expect(items.map((i) => i.id?.S).sort()).toEqual([...keys].sort());
    const calls = dynamoMock.commandCalls(BatchGetItemCommand).map((c) => keysOf(c.args[0].input).length);
    expect(calls.slice(0, 3)).toEqual([100, 100, 50]);
    expect(calls.slice(3).sort()).toEqual([10, 10, 10]);
    expect(delays).toEqual([20, 20, 20]);
  });

  it('gives up with UnprocessedKeysError when keys stay unprocessed past the last attempt', async () => {
    // Prepare
    dynamoMock.on(BatchGetItemCommand).callsFake((input: BatchGetItemCommandInput) => ({
      Responses: { T: [] },
      UnprocessedKeys: { T: { Keys: input.RequestItems?.T?.Keys } },
    }));

    // Act
    const reading = batchGetItems(
      client,
      { table: 'T', keyName: 'id', keys: ['a', 'b'] },
      { maxAttempts: 3, sleep: async () => {} },
    );

    // Assess
    await expect(reading).rejects.toThrow(UnprocessedKeysError);
    await expect(reading).rejects.toThrow('2 key(s) of T still unprocessed after 3 BatchGetItem calls');
    expect(dynamoMock).toHaveReceivedCommandTimes(BatchGetItemCommand, 3);
  });
});

describe('reading items with BatchGetItem near the deadline', () => {
  it('does not wait for a retry that would end past the deadline', async () => {
    // Prepare: a clock 100 ms before the deadline, a backoff of 160 ms
    dynamoMock.on(BatchGetItemCommand).callsFake((input: BatchGetItemCommandInput) => ({
      Responses: { T: [] },
      UnprocessedKeys: { T: { Keys: input.RequestItems?.T?.Keys } },
    }));
    const slept: number[] = [];

    // Act
    const reading = batchGetItems(
      client,
      { table: 'T', keyName: 'id', keys: ['a'] },
      {
        deadline: 1_100,
        now: () => 1_000,
        random: () => 0.999,
        baseDelayMs: 160,
        sleep: async (ms) => void slept.push(ms),
      },
    );

    // Assess
    await expect(reading).rejects.toThrow(
      '1 key(s) of T still unprocessed with no time left for another call after 1',
    );
    expect(slept).toEqual([]);
    expect(dynamoMock).toHaveReceivedCommandTimes(BatchGetItemCommand, 1);
  });
});
