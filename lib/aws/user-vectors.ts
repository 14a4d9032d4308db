import {
  type AttributeValue,
  BatchGetItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { StoredUser, UserVectorStore } from '../domain/user-vectors';
import { backoffDelay } from './retry';

/** BatchGetItem takes at most 100 keys a call. */
export const BATCH_GET_KEYS = 100;

/** Retry of the keys BatchGetItem leaves unprocessed (whole-call retries are the SDK client's own). */
export interface UnprocessedRetry {
  /** Calls per key at most, the first included. Default 8. */
  maxAttempts?: number;
  /** Full-jitter backoff: a random wait in [0, min(maxDelayMs, baseDelayMs * 2^(retry - 1))). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Epoch ms after which no retry is waited for (the Lambda's remaining time minus a margin), and the clock. */
  deadline?: number;
  now?: () => number;
}

/** Raised when keys are still unprocessed after the last attempt. */
export class UnprocessedKeysError extends Error {
  override name = 'UnprocessedKeysError';
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Item = Record<string, AttributeValue>;

/**
 * Reads items by a string key with BatchGetItem, 100 keys a call (calls in parallel), retrying only the
 * UnprocessedKeys with capped exponential backoff and full jitter. Missing items are simply absent.
 */
export async function batchGetItems(
  client: DynamoDBClient,
  request: {
    table: string;
    keyName: string;
    keys: readonly string[];
    consistentRead?: boolean;
    /** Attribute names to read (key included). */
    attributes?: readonly string[];
  },
  retry: UnprocessedRetry = {},
): Promise<Item[]> {
  const maxAttempts = retry.maxAttempts ?? 8;
  const sleep = retry.sleep ?? realSleep;
  const random = retry.random ?? Math.random;
  const now = retry.now ?? Date.now;
  const names = request.attributes
    ? Object.fromEntries(request.attributes.map((a, i) => [`#a${i}`, a]))
    : undefined;
  const projection = names ? Object.keys(names).join(', ') : undefined;
  const chunks: Item[][] = [];
  for (let i = 0; i < request.keys.length; i += BATCH_GET_KEYS) {
    chunks.push(request.keys.slice(i, i + BATCH_GET_KEYS).map((k) => ({ [request.keyName]: { S: k } })));
  }
  const results = await Promise.all(
    chunks.map(async (keys) => {
      const items: Item[] = [];
      let pending = keys;
      for (let attempt = 1; ; attempt++) {
        const out = await client.send(
          new BatchGetItemCommand({
            RequestItems: {
              [request.table]: {
                Keys: pending,
                ConsistentRead: request.consistentRead,
                ...(projection ? { ProjectionExpression: projection, ExpressionAttributeNames: names } : {}),
              },
            },
          }),
        );
        for (const item of out.Responses?.[request.table] ?? []) items.push(item);
        pending = out.UnprocessedKeys?.[request.table]?.Keys ?? [];
        if (pending.length === 0) return items;
        const delay = backoffDelay(attempt, retry.baseDelayMs ?? 50, retry.maxDelayMs ?? 2_000, random);
        if (attempt >= maxAttempts || (retry.deadline !== undefined && now() + delay >= retry.deadline)) {
          const why =
            attempt >= maxAttempts
              ? `after ${attempt} BatchGetItem calls`
              : `with no time left for another call after ${attempt}`;
          throw new UnprocessedKeysError(
            `${pending.length} key(s) of ${request.table} still unprocessed ${why}`,
          );
        }
        await sleep(delay);
      }
    }),
  );
  return results.flat();
}

const USER_ATTRIBUTES = [
  'user_id',
  'version',
  'vector',
  'history',
  'history_length',
  'pending',
  'updated_at',
] as const;

/** A UserVectors item read back, or undefined when it is not one this function wrote. */
export function userFromItem(item: Item): StoredUser | undefined {
  const { user_id, version, vector, history, history_length, pending, updated_at } = item;
  if (!user_id?.S || !version?.N || !vector?.B || !history?.B) return undefined;
  return {
    userId: user_id.S,
    version: Number(version.N),
    vector: vector.B,
    history: history.B,
    historyLength: Number(history_length?.N ?? 0),
    pending: Number(pending?.N ?? 0),
    updatedAt: updated_at?.S ?? '',
  };
}

/** The PutItem input that writes a user's item if its version is still `expectedVersion`. */
export function putUserInput(table: string, user: StoredUser, expectedVersion: number | undefined) {
  return {
    TableName: table,
    Item: {
      user_id: { S: user.userId },
      version: { N: String(user.version) },
      vector: { B: user.vector },
      history: { B: user.history },
      history_length: { N: String(user.historyLength) },
      pending: { N: String(user.pending) },
      updated_at: { S: user.updatedAt },
    },
    ...(expectedVersion === undefined
      ? { ConditionExpression: 'attribute_not_exists(user_id)' }
      : {
          ConditionExpression: '#version = :expected',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':expected': { N: String(expectedVersion) } },
        }),
  };
}

/** The UserVectors and ArticleVectors tables as a UserVectorStore. */
export class DynamoUserVectorStore implements UserVectorStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tables: { users: string; articles: string },
    private readonly retry: UnprocessedRetry = {},
  ) {}

  async getUsers(userIds: readonly string[]): Promise<Map<string, StoredUser>> {
    const items = await batchGetItems(
      this.client,
      {
        table: this.tables.users,
        keyName: 'user_id',
        keys: userIds,
        consistentRead: true,
        attributes: USER_ATTRIBUTES,
      },
      this.retry,
    );
    const out = new Map<string, StoredUser>();
    for (const item of items) {
      const user = userFromItem(item);
      if (user) out.set(user.userId, user);
    }
    return out;
  }

  async getArticleVectors(articleIds: readonly string[]): Promise<Map<string, Uint8Array>> {
    const items = await batchGetItems(
      this.client,
      {
        table: this.tables.articles,
        keyName: 'article_id',
        keys: articleIds,
        attributes: ['article_id', 'vector'],
      },
      this.retry,
    );
    const out = new Map<string, Uint8Array>();
    for (const item of items) {
      const id = item.article_id?.S;
      const vector = item.vector?.B;
      if (id !== undefined && vector !== undefined) out.set(id, vector);
    }
    return out;
  }

  async putUser(user: StoredUser, expectedVersion: number | undefined): Promise<boolean> {
    try {
      await this.client.send(new PutItemCommand(putUserInput(this.tables.users, user, expectedVersion)));
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }
}

/** One user's item (strongly consistent), or undefined when there is none. */
export async function getUserItem(client: DynamoDBClient, table: string, userId: string) {
  const out = await client.send(
    new GetItemCommand({ TableName: table, Key: { user_id: { S: userId } }, ConsistentRead: true }),
  );
  return out.Item ? userFromItem(out.Item) : undefined;
}
