import { gzipSync } from 'node:zlib';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { generateTraffic } from '../../../cli/traffic';
import { rawObjectLines } from '../../../cli/traffic/raw-objects';
import { lambdaClient } from '../../../lib/aws/clients';
import type { FormatManifest } from '../../../lib/domain/format/records';
import { manifestKey } from '../../../lib/domain/format/records';
import { encodeS3EventKey } from '../../../local/s3/events';
import { loadEvent } from '../../helpers/events';
import { readParquet } from '../../helpers/parquet';
import { API_KEY, BUCKET, usePlatform } from '../collect/platform';
import { eventually, listKeys, readGzipText, readObject } from '../local/harness';

/**
 * The formatter on the embedded stack: events posted through collect land raw via the local
 * Firehose, whose S3 notifications invoke formatParquet in serverless-offline (DuckDB's linux-x64
 * build); the Parquet is read back with hyparquet.
 */
const platform = usePlatform();

async function manifestOf(rawKey: string): Promise<FormatManifest | undefined> {
  const keys = await listKeys(platform.clients.s3, BUCKET, manifestKey(rawKey));
  if (!keys.includes(manifestKey(rawKey))) return undefined;
  return JSON.parse((await readObject(platform.clients.s3, BUCKET, manifestKey(rawKey))).toString('utf8'));
}

async function putRaw(key: string, body: Buffer): Promise<void> {
  await platform.clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
}

async function rowsOf(manifest: FormatManifest): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const output of manifest.outputs) {
    rows.push(...(await readParquet(await readObject(platform.clients.s3, BUCKET, output.key))).rows);
  }
  return rows;
}

/** An S3 notification for `key` as S3 delivers it (the fixture, key encoded as S3 encodes it). */
function notification(key: string) {
  const event = loadEvent<any>('s3', 'object-created-clicks');
  event.Records[0].s3.object.key = encodeS3EventKey(key);
  return event;
}

describe('The formatter on the local stack', () => {
  let manifests: FormatManifest[] = [];
  let sent: Record<string, unknown>[] = [];
  const requestIds: string[] = [];

  it('turns events posted through collect into Parquet rows equal to them, field by field and typed', async () => {
    // Prepare
    sent = generateTraffic(300, { seed: 11 }).map((g) => g.event);
    // Act
    for (let i = 0; i < sent.length; i += 100) {
      const res = await fetch(platform.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
        body: JSON.stringify({ events: sent.slice(i, i + 100) }),
      });
      const body = (await res.json()) as { accepted: number; request_id: string };
      expect(body.accepted).toBe(100);
      requestIds.push(body.request_id);
    }
    manifests = await eventually(
      'manifests covering every posted event',
      async () => {
        const raw = await listKeys(platform.clients.s3, BUCKET, 'raw/');
        const found = await Promise.all(raw.map(manifestOf));
        if (found.some((m) => m === undefined)) return undefined;
        const all = found as FormatManifest[];
        return all.reduce((n, m) => n + m.rows_written, 0) === sent.length ? all : undefined;
      },
      45_000,
    );
    const rows = (await Promise.all(manifests.map(rowsOf))).flat();
    // Assess
    expect(rows).toHaveLength(sent.length);
    const byId = new Map(rows.map((r) => [r.event_id, r]));
    for (const event of sent) {
      const row = byId.get(event.event_id) as Record<string, unknown>;
      for (const [name, value] of Object.entries(event)) {
        if (name === 'occurred_at') expect(row[name]).toEqual(new Date(String(value)));
        else if (name === 'properties') {
          expect(row[name]).toEqual(
            Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, String(v)])),
          );
        } else expect(row[name]).toBe(value);
      }
      expect(row.received_at).toBeInstanceOf(Date);
      expect(requestIds).toContain(row.request_id);
    }
    for (const m of manifests) expect(m.lines_read).toBe(m.rows_written + m.lines_quarantined);
  });

  it('changes nothing when the same S3 event is delivered a second time', async () => {
    // Prepare
    const manifest = manifests[0] as FormatManifest;
    const before = await listKeys(platform.clients.s3, BUCKET, 'lake/');
    const bytes = await Promise.all(
      manifest.outputs.map((o) => readObject(platform.clients.s3, BUCKET, o.key)),
    );
    const lambda = lambdaClient({ ...process.env, ...platform.stack.env });
    // Act
    const out = await lambda.send(
      new InvokeCommand({
        FunctionName: 'logbase-local-formatParquet',
        Payload: Buffer.from(JSON.stringify(notification(manifest.source.key))),
      }),
    );
    lambda.destroy();
    // Assess
    expect(out.FunctionError).toBeUndefined();
    expect(await listKeys(platform.clients.s3, BUCKET, 'lake/')).toEqual(before);
    const again = (await manifestOf(manifest.source.key)) as FormatManifest;
    expect(again.outputs).toEqual(manifest.outputs);
    const after = await Promise.all(
      manifest.outputs.map((o) => readObject(platform.clients.s3, BUCKET, o.key)),
    );
    expect(after.map((b) => b.toString('base64'))).toEqual(bytes.map((b) => b.toString('base64')));
  });

  it('quarantines every kind of bad line of a raw object with its reason, and the manifest reconciles', async () => {
    // Prepare
    const key = 'raw/events/dt=2026-03-01/hour=03/replay batch+1.gz';
    const raw = rawObjectLines({ lines: 900, badShare: 0.05, tooLong: 1, seed: 12 });
    // Act
    await putRaw(key, gzipSync(Buffer.concat(raw.lines)));
    const manifest = await eventually('the manifest of the bad-lines object', () => manifestOf(key), 30_000);
    const records = (await readGzipText(platform.clients.s3, BUCKET, manifest.quarantine?.key ?? ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    // Assess
    expect(manifest).toMatchObject({ lines_read: 900, rows_written: raw.valid.length, reconciled: true });
    expect(manifest.quarantined_by_reason).toEqual(raw.bad);
    const reasons = new Map<string, number>();
    for (const r of records) reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1);
    expect(Object.fromEntries(reasons)).toEqual(raw.bad);
    expect(records.every((r) => r.source.key === key && r.source.line >= 1)).toBe(true);
  });

  it('reports a truncated gzip object (keeping what was readable) and an empty one', async () => {
    // Prepare
    const gzip = gzipSync(Buffer.concat(rawObjectLines({ lines: 2_000, seed: 13 }).lines));
    const truncated = 'raw/clicks/dt=2026-03-01/hour=03/truncated.gz';
    const empty = 'raw/clicks/dt=2026-03-01/hour=03/empty.gz';
    // Act
    await putRaw(truncated, gzip.subarray(0, Math.floor(gzip.length / 2)));
    await putRaw(empty, Buffer.alloc(0));
    const cut = await eventually('the truncated object manifest', () => manifestOf(truncated), 30_000);
    const none = await eventually('the empty object manifest', () => manifestOf(empty), 30_000);
    // Assess
    expect(cut.faults.map((f) => f.reason)).toEqual(['truncated_gzip']);
    expect(cut.rows_written).toBeGreaterThan(500);
    expect(cut.lines_read).toBe(cut.rows_written + cut.lines_quarantined);
    expect(none.faults.map((f) => f.reason)).toEqual(['empty_object']);
    const faultRecords = await readGzipText(platform.clients.s3, BUCKET, none.quarantine?.key ?? '');
    expect(JSON.parse(faultRecords.split('\n')[0] as string)).toMatchObject({
      reason: 'empty_object',
      source: { key: empty },
    });
  });

  it('sends the event to the on-failure queue after Lambda retries an S3 5xx that does not pass', async () => {
    // Prepare: s3rver keeps an object as a file named after its key's last part, plus its own
    // suffixes (about 35 bytes while writing); a 220-byte name fits the file system's 255, the
    // quarantine object's, 9 bytes longer, does not, and s3rver answers its PutObject with a 500
    // every time: an S3 error that may pass, and here does not.
    const key = `raw/events/dt=2026-03-01/hour=04/${'n'.repeat(217)}.gz`;
    const bad = rawObjectLines({ lines: 20, badShare: 0.2, seed: 14 });
    const { sqs } = platform.clients;
    const { QueueUrl } = await sqs.send(
      new GetQueueUrlCommand({ QueueName: 'logbase-local-format-failures' }),
    );
    // Act
    await putRaw(key, gzipSync(Buffer.concat(bad.lines)));
    const message = await eventually(
      'the on-failure record on logbase-local-format-failures',
      async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }))).Messages?.[0],
      50_000,
    );
    // Assess
    const record = JSON.parse(message.Body ?? '{}');
    expect(record.requestContext).toMatchObject({ condition: 'RetriesExhausted', approximateInvokeCount: 3 });
    expect(record.requestPayload.Records[0].s3.object.key).toBe(encodeS3EventKey(key));
    expect(record.responsePayload.errorMessage).toMatch(/raw\/events\/dt=2026-03-01\/hour=04\/n+\.gz/);
  }, 60_000);

  it('deletes what an earlier run wrote for an object and this run does not (a replay under another segment size)', async () => {
    // Prepare: an earlier run's manifest naming an output this run will not write.
    const key = 'raw/clicks/dt=2026-03-01/hour=05/replayed.gz';
    const stale = 'lake/click/v1/dt=2026-03-01/hour=05/replayed-00000000-s0099.parquet';
    await putRaw(stale, Buffer.from('PAR1 stale'));
    const earlier = {
      outputs: [{ key: stale, type: 'click', version: 1, dt: '2026-03-01', hour: '05', rows: 1, bytes: 10 }],
    };
    await platform.clients.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: manifestKey(key), Body: JSON.stringify(earlier) }),
    );
    // Act
    await putRaw(key, gzipSync(Buffer.concat(rawObjectLines({ lines: 50, seed: 15 }).lines)));
    const manifest = await eventually(
      'the new manifest',
      async () => {
        const m = await manifestOf(key);
        return m?.lines_read === 50 ? m : undefined;
      },
      30_000,
    );
    // Assess
    expect(manifest.outputs.map((o) => o.key)).not.toContain(stale);
    expect(await listKeys(platform.clients.s3, BUCKET, stale)).toEqual([]);
  });
});
