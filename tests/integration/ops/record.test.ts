import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { objectFile, recordFixtures } from '../../../cli/ops/record';
import { loadFixtures, type ReplayTarget, replay } from '../../../cli/ops/replay';
import { lambdaClient } from '../../../lib/aws/clients';
import { type FormatManifest, manifestKey } from '../../../lib/domain/format/records';
import { historyEntries } from '../../../lib/domain/user-history';
import { API_KEY, BUCKET, type Platform, startPlatform, usePlatform } from '../collect/platform';
import { eventually, listKeys, readObject } from '../local/harness';

/**
 * `logbase replay --record` on the local platform: what the stack receives while recording becomes
 * fixtures, and each replays on a fresh stack to the same lake and table state.
 */
const platform = usePlatform({ pollIntervalMs: 50 });
let fresh: Platform | undefined;
afterAll(async () => {
  await fresh?.stop();
}, 60_000);

const EVENTS = resolve(__dirname, '../../../events');
const USERS = 'logbase-local-UserVectors';

function target(p: Platform): ReplayTarget {
  return {
    wiring: p.stack.wiring,
    config: p.stack.config,
    bucket: BUCKET,
    httpEndpoint: p.stack.endpoints.http as string,
    apiKey: API_KEY,
    s3: p.clients.s3,
    kinesis: p.clients.kinesis,
    lambda: lambdaClient({ ...process.env, ...p.stack.env }),
    invoke: false,
    waitMs: 20_000,
  };
}

const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** What the formatter made of a raw object: its manifest (without its run time) and each output's bytes. */
async function formatted(p: Platform, rawKey: string) {
  const manifest = JSON.parse(
    (await readObject(p.clients.s3, BUCKET, manifestKey(rawKey))).toString('utf8'),
  ) as FormatManifest;
  const { formatted_at: _t, ...rest } = manifest;
  const outputs: Record<string, string> = {};
  for (const o of manifest.outputs) outputs[o.key] = hash(await readObject(p.clients.s3, BUCKET, o.key));
  return { manifest: rest, outputs };
}

/** Every user's item: its clicks, vector and counts (not its write time, nor the stream's sequence numbers). */
async function users(p: Platform) {
  const items = (await p.clients.dynamodb.send(new ScanCommand({ TableName: USERS }))).Items ?? [];
  const out: Record<string, unknown> = {};
  for (const item of items as Record<string, AttributeValue>[]) {
    out[item.user_id?.S as string] = {
      vector: Buffer.from(item.vector?.B as Uint8Array).toString('hex'),
      entries: historyEntries(item.history?.B as Uint8Array),
      history_length: item.history_length,
      pending: item.pending,
      version: item.version,
    };
  }
  return out;
}

const rawKeyOf = (event: { Records?: { s3?: { object?: { key?: string } } }[] }) =>
  decodeURIComponent(String(event.Records?.[0]?.s3?.object?.key ?? '').replace(/\+/g, ' '));

describe('logbase replay --record on the local stack', () => {
  it('records the request, the stream batch and the raw objects as fixtures that replay on a fresh stack to the same lake and users', async () => {
    // Prepare: recording, then a request to collect (clicks to Kinesis, the rest to Firehose).
    const dir = await mkdtemp(join(tmpdir(), 'logbase-record-'));
    const stop = new AbortController();
    let started: () => void = () => {};
    const ready = new Promise<void>((r) => {
      started = r;
    });
    const recording = recordFixtures({
      endpoint: platform.stack.endpoints.http as string,
      dir,
      signal: stop.signal,
      onStarted: () => started(),
    });
    await ready;
    const fixture = JSON.parse(await readFile(join(EVENTS, 'http', 'valid-batch.json'), 'utf8'));
    const res = await fetch(platform.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: fixture.body,
    });
    const answer = (await res.json()) as { accepted: number };
    expect(res.status).toBe(202);
    await platform.settledLines('raw/');
    const files: string[] = [];
    // Act: record until both raw objects were formatted and the three clickers have items.
    const recorded = await eventually(
      'the raw objects formatted and the clicks applied',
      async () => {
        const raw = (await listKeys(platform.clients.s3, BUCKET, 'raw/')).filter((k) => !k.endsWith('/'));
        const manifests = await listKeys(platform.clients.s3, BUCKET, 'lake/_manifests/');
        const clickers = Object.keys(await users(platform));
        return raw.length >= 2 && manifests.length >= raw.length && clickers.length === 3 ? raw : undefined;
      },
      30_000,
    );
    stop.abort();
    files.push(...(await recording));
    // Assess: one fixture per source...
    const of = (source: string) => files.filter((f) => f.includes(`/${source}/`));
    expect(of('http')).toHaveLength(1);
    expect(of('kinesis').length).toBeGreaterThanOrEqual(1);
    const s3 = await loadFixtures(join(dir, 's3'));
    expect(s3.map((f) => rawKeyOf(f.event)).sort()).toEqual([...recorded].sort());
    for (const f of s3) expect((await readFile(objectFile(f.file, 0))).length).toBeGreaterThan(0);
    const lakeBefore = Object.fromEntries(
      await Promise.all(recorded.map(async (k) => [k, await formatted(platform, k)] as const)),
    );
    const usersBefore = await users(platform);

    // ...and each replays on a fresh stack to the same state: the stream batch to the same users,
    fresh = await startPlatform({ pollIntervalMs: 50 });
    const onFresh = target(fresh);
    const kinesis = await replay(await loadFixtures(join(dir, 'kinesis')), onFresh);
    expect(kinesis.every((o) => o.ok)).toBe(true);
    await eventually(
      'the replayed clicks applied',
      async () => {
        const u = await users(fresh as Platform);
        return Object.keys(u).length === 3 ? u : undefined;
      },
      20_000,
    );
    expect(await users(fresh)).toEqual(usersBefore);
    // the raw objects to the same Parquet files and manifests,
    const s3Outcomes = await replay(s3, onFresh);
    expect(s3Outcomes.map((o) => o.ok)).toEqual(s3.map(() => true));
    for (const k of recorded) expect(await formatted(fresh, k)).toEqual(lakeBefore[k]);
    // and the request to the same answer from collect (its clicks already applied: the users do not change).
    const [http] = await replay(await loadFixtures(join(dir, 'http')), onFresh);
    expect(http?.stages).toEqual([
      `logbase-local-collect: HTTP 202: accepted ${answer.accepted}, rejected 0`,
    ]);
    await fresh.settledLines('raw/clicks/');
    expect(await users(fresh)).toEqual(usersBefore);
    await rm(dir, { recursive: true, force: true });
  });
});
