import { historyEntries } from '../../../lib/domain/user-history';
import type { StoredUser } from '../../../lib/domain/user-vectors';
import {
  DEFAULT_OPTIONS,
  PoisonRecordError,
  type StreamRecord,
  type UserVectorOptions,
  UserWriteError,
  updateUserVectors,
} from '../../../lib/domain/user-vectors';
import { decodeVector, encodeVector } from '../../../lib/domain/vectors';
import { MemoryUserVectorStore } from '../../helpers/memory-store';
import { articleSet, at, clickRecord, referenceVector, unitVector } from './reference';

const HOUR = 3600_000;
const options = (over: Partial<UserVectorOptions> = {}): UserVectorOptions => ({
  ...DEFAULT_OPTIONS,
  now: () => new Date('2026-12-01T12:00:00.000Z'),
  ...over,
});

function storeWithArticles(n = 20) {
  const store = new MemoryUserVectorStore();
  const { vectors, stored } = articleSet(n);
  for (const [id, v] of stored) store.articles.set(id, v);
  return { store, vectors };
}

/** The stored user's vector against the plain computation over its stored history. */
function expectMatchesReference(
  user: StoredUser | undefined,
  articles: Map<string, Float32Array>,
  halfLifeMs: number,
) {
  if (!user) throw new Error('no user item');
  const expected = referenceVector(historyEntries(user.history), articles, halfLifeMs);
  const actual = decodeVector(user.vector);
  for (let d = 0; d < expected.length; d++) expect(actual[d]).toBeCloseTo(expected[d] as number, 5);
}

const sameItem = (a: StoredUser | undefined, b: StoredUser | undefined) =>
  expect(JSON.stringify(a, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))).toBe(
    JSON.stringify(b, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)),
  );

describe('updating user vectors from a batch of clicks', () => {
  it("gives a brand-new user the clicked article's vector from the first click", async () => {
    // Prepare
    const { store, vectors } = storeWithArticles();

    // Act
    const { failures, stats } = await updateUserVectors(
      [clickRecord('u_new', 'art_3', at(0))],
      store,
      options(),
    );

    // Assess
    expect(failures.size).toBe(0);
    const user = store.users.get('u_new');
    expect(user?.historyLength).toBe(1);
    expect(user?.version).toBe(1);
    const vector = decodeVector(user?.vector as Uint8Array);
    (vectors.get('art_3') as Float32Array).forEach((x, d) => {
      expect(vector[d]).toBeCloseTo(x, 6);
    });
    expect(stats).toMatchObject({ records: 1, applied: 1, usersWritten: 1 });
  });

  it('keeps the decayed weighted mean of the last N clicks over many batches, as computed plainly', async () => {
    // Prepare: 3 users, 12 batches of clicks over 3 days, history trimmed at 10
    const { store, vectors } = storeWithArticles();
    const halfLifeMs = 6 * HOUR;
    const opts = options({ historyLength: 10, halfLifeMs });
    let minute = 0;

    // Act
    for (let batch = 0; batch < 12; batch++) {
      const records: StreamRecord[] = [];
      for (let i = 0; i < 7; i++) {
        minute += 37 + ((batch * 7 + i) % 5) * 11;
        records.push(clickRecord(`u_${i % 3}`, `art_${(batch * 7 + i * 3) % 20}`, at(minute)));
      }
      const { failures } = await updateUserVectors(records, store, opts);
      expect(failures.size).toBe(0);
    }

    // Assess
    for (const id of ['u_0', 'u_1', 'u_2']) {
      const user = store.users.get(id);
      expect(user?.historyLength).toBe(10);
      expectMatchesReference(user, vectors, halfLifeMs);
    }
  });

  it('changes nothing for a click whose event id is already in the history, in the batch or from before', async () => {
    // Prepare
    const { store } = storeWithArticles();
    const first = clickRecord('u_a', 'art_1', at(0));
    await updateUserVectors([first], store, options());
    const before = store.users.get('u_a');

    // Act: the client resent it (a new record, same event id), once alone and twice in one batch
    const alone = await updateUserVectors(
      [clickRecord('u_a', 'art_1', at(0), { eventId: first.eventId })],
      store,
      options(),
    );
    const again = clickRecord('u_b', 'art_2', at(1));
    const twice = await updateUserVectors(
      [again, clickRecord('u_b', 'art_2', at(1), { eventId: again.eventId })],
      store,
      options(),
    );

    // Assess
    expect(store.users.get('u_a')).toBe(before);
    expect(alone.stats).toMatchObject({ duplicates: 1, applied: 0, usersWritten: 0 });
    expect(twice.stats).toMatchObject({ duplicates: 1, applied: 1 });
    expect(store.users.get('u_b')?.historyLength).toBe(1);
  });

  it('leaves every item as it was when a whole batch is delivered again, even clicks trimmed from the history', async () => {
    // Prepare: one user clicks 30 times in a batch, history keeps 10
    const { store } = storeWithArticles();
    const records = Array.from({ length: 30 }, (_, i) =>
      clickRecord(i % 4 === 0 ? 'u_busy' : `u_${i}`, `art_${i % 20}`, at(i)),
    );
    await updateUserVectors(records, store, options({ historyLength: 10 }));
    const before = new Map(store.users);

    // Act: Lambda retries the same records (after a failure elsewhere in the batch)
    const { stats, failures } = await updateUserVectors(records, store, options({ historyLength: 10 }));

    // Assess
    expect(failures.size).toBe(0);
    expect(stats).toMatchObject({ records: 30, redelivered: 30, applied: 0, usersWritten: 0 });
    for (const [id, item] of before) sameItem(store.users.get(id), item);
  });

  it('keeps a click on an article with no vector and counts it once the article has one', async () => {
    // Prepare
    const { store, vectors } = storeWithArticles();
    const halfLifeMs = DEFAULT_OPTIONS.halfLifeMs;

    // Act: a click on art_99 (no vector yet), then art_99 gets one, then the user clicks again
    const first = await updateUserVectors(
      [clickRecord('u_a', 'art_1', at(0)), clickRecord('u_a', 'art_99', at(5))],
      store,
      options(),
    );
    const waiting = store.users.get('u_a');
    const late = unitVector(99);
    store.articles.set('art_99', encodeVector(late));
    vectors.set('art_99', late);
    const second = await updateUserVectors([clickRecord('u_a', 'art_2', at(10))], store, options());

    // Assess
    expect(first.stats.clicksWithoutVector).toBe(1);
    expect(waiting?.pending).toBe(1);
    expect(second.stats.pendingCounted).toBe(1);
    const user = store.users.get('u_a');
    expect(user?.pending).toBe(0);
    expect(historyEntries(user?.history as Uint8Array).map((e) => [e.articleId, e.counted])).toEqual([
      ['art_1', true],
      ['art_99', true],
      ['art_2', true],
    ]);
    expectMatchesReference(user, vectors, halfLifeMs);
  });

  it('re-reads a user after losing a write race and applies its clicks on top, losing none', async () => {
    // Prepare: another writer adds a click for u_a just before this batch's write
    const { store, vectors } = storeWithArticles();
    await updateUserVectors([clickRecord('u_a', 'art_1', at(0))], store, options());
    let interfered = false;
    store.beforePut = async () => {
      if (interfered) return;
      interfered = true;
      store.beforePut = undefined;
      await updateUserVectors(
        [clickRecord('u_a', 'art_2', at(1), { shardId: 'shardId-000000000001' })],
        store,
        options(),
      );
    };

    // Act
    const { stats, failures } = await updateUserVectors(
      [clickRecord('u_a', 'art_3', at(2))],
      store,
      options(),
    );

    // Assess
    expect(failures.size).toBe(0);
    expect(stats.races).toBe(1);
    const user = store.users.get('u_a');
    expect(historyEntries(user?.history as Uint8Array).map((e) => e.articleId)).toEqual([
      'art_1',
      'art_2',
      'art_3',
    ]);
    expect(user?.version).toBe(3);
    expectMatchesReference(user, vectors, DEFAULT_OPTIONS.halfLifeMs);
  });

  it('fails a poison record alone, naming its sequence number, and applies the rest', async () => {
    // Prepare
    const { store } = storeWithArticles();
    const poison: StreamRecord = {
      data: Buffer.from('{"event_type":"click","user_id":"u_a"').toString('base64'),
      sequenceNumber: '4242',
      shardId: 'shardId-000000000000',
    };
    const impression = clickRecord('u_b', 'art_1', at(0));
    impression.data = Buffer.from(
      Buffer.from(impression.data, 'base64').toString().replace('"click"', '"impression"'),
    ).toString('base64');

    // Act
    const { failures, stats } = await updateUserVectors(
      [clickRecord('u_a', 'art_1', at(0)), poison, impression, clickRecord('u_a', 'art_2', at(1))],
      store,
      options(),
    );

    // Assess
    expect([...failures.keys()]).toEqual([1, 2]);
    const error = failures.get(1) as PoisonRecordError;
    expect(error).toBeInstanceOf(PoisonRecordError);
    expect(error.sequenceNumber).toBe('4242');
    expect(error.message).toMatch(/^record data is not JSON/);
    expect(failures.get(2)?.message).toBe('event_type is "impression", not "click"');
    expect(store.users.get('u_a')?.historyLength).toBe(2);
    expect(stats.records).toBe(
      stats.applied + stats.duplicates + stats.redelivered + stats.poison + stats.failed,
    );
  });

  it("fails every record of a user whose write fails, and only that user's", async () => {
    // Prepare
    const { store } = storeWithArticles();
    const put = store.putUser.bind(store);
    store.putUser = async (item, expected) => {
      if (item.userId === 'u_b') throw new Error('ProvisionedThroughputExceededException');
      return put(item, expected);
    };

    // Act
    const { failures, stats } = await updateUserVectors(
      [
        clickRecord('u_a', 'art_1', at(0)),
        clickRecord('u_b', 'art_1', at(0)),
        clickRecord('u_b', 'art_2', at(1)),
      ],
      store,
      options(),
    );

    // Assess
    expect([...failures.keys()]).toEqual([1, 2]);
    expect(failures.get(1)).toBeInstanceOf(UserWriteError);
    expect(stats).toMatchObject({ applied: 1, failed: 2 });
    expect(store.users.has('u_a')).toBe(true);
  });

  it('reads each distinct article and user once per batch, and writes each changed user once', async () => {
    // Prepare
    const { store } = storeWithArticles(20);
    const records = Array.from({ length: 250 }, (_, i) =>
      clickRecord(`u_${i % 150}`, `art_${i % 20}`, at(i)),
    );

    // Act
    const { stats } = await updateUserVectors(records, store, options());

    // Assess
    expect(store.calls).toEqual({ batchGetUsers: 2, batchGetArticles: 1, puts: 150, conflicts: 0 });
    expect(stats).toMatchObject({ usersWritten: 150, articlesRead: 20 });
  });
});

describe('reading click records', () => {
  it('reads a click the same whether collect stored it in the schema order or another', async () => {
    // Prepare: one event written twice, in the schema's field order (read without parsing) and reordered
    // with an escaped character (parsed); a non-ASCII user id
    const { store } = storeWithArticles();
    const inOrder = clickRecord('ユーザー_1', 'art_1', at(0));
    const event = JSON.parse(Buffer.from(inOrder.data, 'base64').toString());
    const reordered = `{"article_id":"art\\u005f1","user_id":${JSON.stringify(event.user_id)},"occurred_at":"${event.occurred_at}","event_type":"click","event_id":"${event.event_id}","schema_version":1}\n`;
    const again: StreamRecord = {
      ...inOrder,
      data: Buffer.from(reordered).toString('base64'),
      sequenceNumber: (BigInt(inOrder.sequenceNumber) + 1n).toString(),
    };

    // Act
    const first = await updateUserVectors([inOrder], store, options());
    const second = await updateUserVectors([again], store, options({}));

    // Assess
    expect(first.stats.applied).toBe(1);
    expect(second.stats).toMatchObject({ duplicates: 1, applied: 0 });
    const entries = historyEntries(store.users.get('ユーザー_1')?.history as Uint8Array);
    expect(entries.map((e) => [e.articleId, e.occurredAt])).toEqual([['art_1', at(0)]]);
  });
});

describe('records and items that cannot be applied', () => {
  const raw = (text: string, sequenceNumber = '77'): StreamRecord => ({
    data: Buffer.from(text).toString('base64'),
    sequenceNumber,
    shardId: 'shardId-000000000000',
  });
  const valid = () => JSON.parse(Buffer.from(clickRecord('u_a', 'art_1', at(0)).data, 'base64').toString());
  const without = (field: string, value?: unknown) => {
    const event = valid();
    if (value === undefined) delete event[field];
    else event[field] = value;
    return raw(`${JSON.stringify(event)}\n`);
  };

  it.each([
    ['a JSON value that is not an object', raw('[1,2]\n'), 'record data is not a JSON object'],
    ['a click without event_id', without('event_id'), 'event_id is missing or not a string'],
    [
      'a user_id that is not a string',
      without('user_id', 42),
      'user_id is missing or not a string of 1-128 characters',
    ],
    [
      'an empty article_id',
      without('article_id', ''),
      'article_id is missing or not a string of 1-128 characters',
    ],
    [
      'an occurred_at that is a number',
      without('occurred_at', 1764547200000),
      'occurred_at is missing or not a date-time',
    ],
    [
      'an occurred_at that is no date',
      without('occurred_at', '2026-13-45T99:00:00Z'),
      'occurred_at is missing or not a date-time',
    ],
    ['a record cut short', raw('{"event_id":"'), 'record data is not JSON'],
  ])('fails %s as poison, saying why', async (_what, record, reason) => {
    // Act
    const { failures, stats } = await updateUserVectors([record], new MemoryUserVectorStore(), options());

    // Assess
    expect(failures.get(0)).toBeInstanceOf(PoisonRecordError);
    expect(failures.get(0)?.message.startsWith(reason)).toBe(true);
    expect(stats.poison).toBe(1);
  });

  it("fails the records of a user whose stored history is unreadable, and applies the other users'", async () => {
    // Prepare
    const { store } = storeWithArticles();
    store.users.set('u_bad', {
      userId: 'u_bad',
      version: 3,
      vector: new Uint8Array(512),
      history: Uint8Array.from([9, 0, 0, 0]),
      historyLength: 0,
      pending: 0,
      updatedAt: '',
    });

    // Act
    const { failures } = await updateUserVectors(
      [clickRecord('u_bad', 'art_1', at(0)), clickRecord('u_ok', 'art_1', at(0))],
      store,
      options(),
    );

    // Assess
    expect([...failures.keys()]).toEqual([0]);
    expect(failures.get(0)).toBeInstanceOf(UserWriteError);
    expect(failures.get(0)?.message).toBe('history is 4 bytes');
    expect(store.users.get('u_bad')?.version).toBe(3);
    expect(store.users.has('u_ok')).toBe(true);
  });

  it('fails a user that keeps losing the race, after the allowed retries', async () => {
    // Prepare: every write of u_a finds a newer version than the one it read
    const { store } = storeWithArticles();
    await updateUserVectors([clickRecord('u_a', 'art_1', at(0))], store, options());
    store.beforePut = (item) => {
      const current = store.users.get(item.userId) as StoredUser;
      store.users.set(item.userId, { ...current, version: current.version + 1 });
    };

    // Act
    const { failures, stats } = await updateUserVectors(
      [clickRecord('u_a', 'art_2', at(1))],
      store,
      options({ maxRaceRetries: 2 }),
    );

    // Assess
    expect(failures.get(0)?.message).toBe('user u_a lost 3 races in a row');
    expect(stats).toMatchObject({ races: 3, failed: 1, applied: 0 });
  });

  it('fails the user when reading it again after a lost race fails', async () => {
    // Prepare
    const { store } = storeWithArticles();
    store.beforePut = (item) => {
      store.users.set(item.userId, { ...item, version: 9 });
      store.getUsers = async () => {
        throw new Error('ProvisionedThroughputExceededException');
      };
    };

    // Act
    const { failures } = await updateUserVectors([clickRecord('u_a', 'art_1', at(0))], store, options());

    // Assess
    expect(failures.get(0)).toBeInstanceOf(UserWriteError);
    expect(failures.get(0)?.message).toBe('ProvisionedThroughputExceededException');
  });

  it('recognises resent clicks among many clicks of one user', async () => {
    // Prepare: 20 clicks of one user (more than the direct comparison handles), history of 10
    const { store, vectors } = storeWithArticles();
    const first = Array.from({ length: 20 }, (_, i) => clickRecord('u_busy', `art_${i}`, at(i)));
    await updateUserVectors(first, store, options({ historyLength: 10 }));

    // Act: 20 more, two of them resent from the history, one repeated in the batch
    const again = first
      .slice(15, 17)
      .map((r) => clickRecord('u_busy', 'art_1', at(0), { eventId: r.eventId }));
    const fresh = Array.from({ length: 18 }, (_, i) =>
      clickRecord('u_busy', `art_${(i * 7) % 20}`, at(100 + i)),
    );
    const repeated = clickRecord('u_busy', 'art_3', at(200), { eventId: fresh[0]?.eventId });
    const { stats } = await updateUserVectors(
      [...again, ...fresh, repeated],
      store,
      options({ historyLength: 10 }),
    );

    // Assess
    expect(stats).toMatchObject({ duplicates: 3, applied: 18 });
    const user = store.users.get('u_busy');
    expect(user?.historyLength).toBe(10);
    expectMatchesReference(user, vectors, DEFAULT_OPTIONS.halfLifeMs);
  });

  it('gives a zero vector while no click of the history has an article vector', async () => {
    const store = new MemoryUserVectorStore();
    await updateUserVectors([clickRecord('u_a', 'art_none', at(0))], store, options());
    const user = store.users.get('u_a');
    expect(Array.from(decodeVector(user?.vector as Uint8Array)).every((x) => x === 0)).toBe(true);
    expect(user?.pending).toBe(1);
  });

  it('keeps the watermarks of the 4 most recent shards', async () => {
    // Prepare
    const store = new MemoryUserVectorStore();
    const shards = ['a', 'b', 'c', 'd', 'e'].map((s) => `shardId-00000000000${s}`);

    // Act
    for (const shardId of shards)
      await updateUserVectors([clickRecord('u_a', 'art_1', at(0), { shardId })], store, options());

    // Assess
    const { readHistory } = await import('../../../lib/domain/user-history');
    expect(
      readHistory(store.users.get('u_a')?.history as Uint8Array).watermarks.map((w) => w.shardId),
    ).toEqual(shards.slice(1));
  });
});
