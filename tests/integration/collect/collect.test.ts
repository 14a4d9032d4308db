import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { eventually } from '../local/harness';
import { API_KEY, BUCKET, usePlatform } from './platform';

/**
 * The collect path end to end on the embedded stack: HTTP through serverless-offline into the collect
 * handler, then the local Firehose and kinesalite, landing gzip objects in s3rver.
 */
const platform = usePlatform();

// ------------------------------------------------------------------ helpers

const now = () => new Date().toISOString();
const base = (type: string) => ({
  event_id: randomUUID(),
  event_type: type,
  schema_version: 1,
  user_id: `u-${Math.floor(Math.random() * 1e6)}`,
  occurred_at: now(),
});
const click = () => ({
  ...base('click'),
  article_id: 'a-1',
  tab: 'top',
  position: 2,
  platform: 'ios',
  app_version: '5.1.0',
});
const impression = () => ({
  ...base('impression'),
  article_id: 'a-2',
  tab: 'top',
  position: 0,
  platform: 'android',
  app_version: '5.1.0',
});
const adImpression = () => ({
  ...base('ad_impression'),
  ad_id: 'ad-9',
  tab: 'top',
  position: 4,
  platform: 'web',
  app_version: '5.1.0',
});
const action = () => ({
  ...base('action'),
  action: 'share',
  properties: { channel: 'line' },
  platform: 'ios',
  app_version: '5.1.0',
});

async function post(body: string | Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(platform.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as any };
}

const countIds = (lines: any[], ids: string[]) =>
  ids.map((id) => lines.filter((l) => l.event_id === id).length);

async function clickStreamRecords(): Promise<any[]> {
  const stream = 'logbase-local-clicks';
  const shards = await platform.clients.kinesis.send(new ListShardsCommand({ StreamName: stream }));
  const out: any[] = [];
  for (const shard of shards.Shards ?? []) {
    const it = await platform.clients.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: shard.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    let iterator = it.ShardIterator;
    for (let i = 0; iterator && i < 20; i++) {
      const page = await platform.clients.kinesis.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }),
      );
      for (const r of page.Records ?? []) {
        out.push({ partitionKey: r.PartitionKey, ...JSON.parse(Buffer.from(r.Data!).toString('utf8')) });
      }
      if (!page.Records?.length) break;
      iterator = page.NextShardIterator;
    }
  }
  return out;
}

// ------------------------------------------------------------------ tests

describe('When a client posts events to POST /v1/events on the local stack', () => {
  it('lands every valid non-click event exactly once in a gzip object under raw/events/dt=/hour=', async () => {
    // Prepare
    const events = [impression(), adImpression(), action(), impression()];

    // Act
    const res = await post(JSON.stringify({ events }));
    await platform.stack.firehose.flush();

    // Assess
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ accepted: 4, rejected: [] });
    const ids = events.map((e) => e.event_id);
    const lines = await platform.settledLines('raw/events/');
    expect(countIds(lines, ids)).toEqual([1, 1, 1, 1]);
    const keys =
      (
        await platform.clients.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'raw/events/' }))
      ).Contents?.map((o) => o.Key ?? '') ?? [];
    expect(keys.every((k) => /^raw\/events\/dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/.+\.gz$/.test(k))).toBe(true);
    const landed = lines.find((l) => l.event_id === ids[0]);
    expect(landed.received_at).toEqual(expect.any(String));
    expect(landed.request_id).toEqual(expect.any(String));
  });

  it('puts clicks on the Kinesis stream keyed by user_id, and the clicks Firehose lands them under raw/clicks/', async () => {
    // Prepare
    const clicks = [click(), click(), click()];

    // Act
    const res = await post(JSON.stringify({ events: clicks }));

    // Assess
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(3);
    const ids = clicks.map((e) => e.event_id);
    const onStream = await clickStreamRecords();
    expect(countIds(onStream, ids)).toEqual([1, 1, 1]);
    for (const c of clicks) {
      expect(onStream.find((r) => r.event_id === c.event_id).partitionKey).toBe(c.user_id);
    }
    await eventually('the clicks under raw/clicks/', async () => {
      await platform.stack.firehose.flush();
      return countIds(await platform.jsonLines('raw/clicks/'), ids).every((n) => n >= 1);
    });
    expect(countIds(await platform.settledLines('raw/clicks/'), ids)).toEqual([1, 1, 1]);
    expect(countIds(await platform.jsonLines('raw/events/'), ids)).toEqual([0, 0, 0]);
  });

  it('keeps rejected events with their errors under quarantine/collect/ and lands only the valid ones', async () => {
    // Prepare
    const good = impression();
    const wrongType = { ...impression(), position: 'third' };
    const unknownType = { ...base('swipe'), platform: 'ios' };

    // Act
    const res = await post(JSON.stringify({ events: [good, wrongType, unknownType] }));
    await platform.stack.firehose.flush();

    // Assess
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(1);
    expect(res.body.rejected.map((r: any) => [r.index, r.event_id])).toEqual([
      [1, wrongType.event_id],
      [2, unknownType.event_id],
    ]);
    expect(res.body.rejected[0].errors[0].path).toBe('/position');
    const quarantined = await platform.jsonLines('quarantine/collect/');
    const mine = quarantined.filter((q) => q.request_id === res.body.request_id);
    expect(mine.map((q) => q.event_id).sort()).toEqual([wrongType.event_id, unknownType.event_id].sort());
    expect(JSON.parse(mine.find((q) => q.event_id === wrongType.event_id).raw)).toEqual(wrongType);
    const lines = await platform.settledLines('raw/events/');
    expect(countIds(lines, [good.event_id, wrongType.event_id, unknownType.event_id])).toEqual([1, 0, 0]);
  });

  it('accepts a gzip NDJSON body', async () => {
    // Prepare
    const events = [impression(), action()];
    const body = gzipSync(events.map((e) => JSON.stringify(e)).join('\n'));

    // Act
    const res = await post(body, { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' });

    // Assess
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ accepted: 2, rejected: [] });
  });

  it('retries only the packed record the Firehose refused: exactly two PutRecordBatch calls, each event once', async () => {
    // Prepare: the local Firehose refuses the next record it is given (10 events pack into one record).
    const events = Array.from({ length: 10 }, impression);
    const before = platform.stack.firehose.calls('PutRecordBatch');
    platform.stack.firehose.injectFaults({ records: 1 });

    // Act
    const res = await post(JSON.stringify({ events }));

    // Assess
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(10);
    expect(platform.stack.firehose.calls('PutRecordBatch') - before).toBe(2);
    const ids = events.map((e) => e.event_id);
    const lines = await platform.settledLines('raw/events/');
    expect(countIds(lines, ids)).toEqual(ids.map(() => 1));
  });

  it('retries only the clicks Kinesis refused among several: exactly two PutRecords calls, each click once', async () => {
    // Prepare: kinesalite refuses 3 of the 10 records of the next PutRecords call (one record per click).
    const clicks = Array.from({ length: 10 }, click);
    const before = platform.stack.kinesis.calls('PutRecords');
    platform.stack.kinesis.injectFaults({ records: 3 });

    // Act
    const res = await post(JSON.stringify({ events: clicks }));

    // Assess
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(10);
    expect(platform.stack.kinesis.calls('PutRecords') - before).toBe(2);
    const ids = clicks.map((e) => e.event_id);
    expect(countIds(await clickStreamRecords(), ids)).toEqual(ids.map(() => 1));
  });

  it.each([
    ['Firehose answers 503 to', 'events', 'PutRecordBatch'],
    ['Kinesis throttles', 'clicks', 'PutRecords'],
  ] as const)(
    'calls exactly 3 times when %s the first 2 calls, and stores each event once',
    async (_, kind, operation) => {
      // Prepare
      const events = kind === 'clicks' ? [click(), click()] : [impression(), action()];
      const service = kind === 'clicks' ? platform.stack.kinesis : platform.stack.firehose;
      const before = service.calls(operation);
      service.injectFaults({ calls: 2 });

      // Act
      const res = await post(JSON.stringify({ events }));

      // Assess: one retry layer (writeWithRetry); the SDK clients make one attempt each.
      expect(res.status).toBe(202);
      expect(service.calls(operation) - before).toBe(3);
      const ids = events.map((e) => e.event_id);
      const landed =
        kind === 'clicks' ? await clickStreamRecords() : await platform.settledLines('raw/events/');
      expect(countIds(landed, ids)).toEqual([1, 1]);
    },
  );

  it.each([
    ['Firehose answers 503 to', 'events', 'PutRecordBatch'],
    ['Kinesis throttles', 'clicks', 'PutRecords'],
  ] as const)(
    'gives up after exactly 4 calls when %s every call, and answers 503 listing every event',
    async (_, kind, operation) => {
      // Prepare
      const events = kind === 'clicks' ? [click(), click()] : [impression(), action()];
      const service = kind === 'clicks' ? platform.stack.kinesis : platform.stack.firehose;
      const before = service.calls(operation);
      service.injectFaults({ calls: 1_000 });

      // Act
      const res = await post(JSON.stringify({ events }));
      service.injectFaults({ calls: 0 });

      // Assess: 4 attempts in all (not 4 x the SDK's 3).
      expect(service.calls(operation) - before).toBe(4);
      expect(res.status).toBe(503);
      expect(res.body.accepted).toBe(0);
      expect(res.body.failed.map((f: any) => f.event_id)).toEqual(events.map((e) => e.event_id));
    },
  );

  it('answers 401 to a wrong key and writes nothing', async () => {
    // Prepare
    const event = impression();

    // Act
    const res = await post(JSON.stringify({ events: [event] }), { 'x-api-key': 'not-the-key' });
    await platform.stack.firehose.flush();

    // Assess
    expect(res.status).toBe(401);
    const everywhere = [...(await platform.jsonLines('raw/')), ...(await platform.jsonLines('quarantine/'))];
    expect(countIds(everywhere, [event.event_id])).toEqual([0]);
  });

  it('answers 400 with the parser position to invalid JSON and keeps the body in quarantine', async () => {
    // Act
    const res = await post('{"events": [ {"event_id": ');

    // Assess
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/JSON/i);
    const quarantined = await platform.jsonLines('quarantine/collect/');
    expect(quarantined.some((q) => q.request_id === res.body.request_id)).toBe(true);
  });
  it('answers 413 to a 10 MiB body, naming the limit', async () => {
    // Prepare: one byte under the HTTP API's own 10 MiB payload limit, so collect is the one to answer.
    const shell = JSON.stringify({ events: [{ ...impression(), tab: '' }] });
    const body = shell.replace('"tab":""', `"tab":"${'x'.repeat(10 * 1024 * 1024 - 1 - shell.length)}"`);
    expect(Buffer.byteLength(body)).toBe(10 * 1024 * 1024 - 1);

    // Act
    const res = await post(body);

    // Assess
    expect(res.status).toBe(413);
    expect(res.body.message).toMatch(/1048576 bytes/);
  });

  it('answers 415 to a content type other than JSON or NDJSON', async () => {
    // Act
    const res = await post('user_id=1', { 'content-type': 'application/x-www-form-urlencoded' });

    // Assess
    expect(res.status).toBe(415);
    expect(res.body.message).toMatch(/application\/json/);
  });
});
