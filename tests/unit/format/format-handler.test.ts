import { gunzipSync } from 'node:zlib';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import {
  decodeKey,
  type FormatDeps,
  formatS3Event,
  reformatMarkers,
  TransientFormatError,
} from '../../../functions/format-parquet/format';
import { ParsedLineCheck } from '../../../lib/domain/format/stored-lines';
import { loadEvent } from '../../helpers/events';

const s3 = mockClient(S3Client);

function deps(): FormatDeps {
  return {
    config: {
      dataBucket: 'logbase-local-data',
      segmentBytes: 1 << 20,
      workDir: '/tmp/logbase-format-unit',
      duckDbMemoryLimit: undefined,
    },
    s3: new S3Client({ region: 'ap-northeast-1' }),
    writer: () => Promise.reject(new Error('DuckDB is not needed here')),
    check: () => new ParsedLineCheck(),
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'test', serviceName: 'test' }),
    now: () => new Date('2026-03-01T03:06:00Z'),
  };
}

beforeEach(() => s3.reset());

describe('formatParquet', () => {
  it('decodes the key as S3 encodes it in a notification (+ for a space, %2B for +)', () => {
    const event = loadEvent<S3Event>('s3', 'object-created-spaces-plus');
    expect(decodeKey(event.Records[0]?.s3.object.key ?? '')).toBe(
      'raw/events/dt=2026-03-01/hour=03/replay batch+1.gz',
    );
  });

  it.each(['object-created-raw-errors', 'object-created-other-prefix'])(
    'skips %s without reading anything',
    async (fixture) => {
      // Act
      const results = await formatS3Event(loadEvent<S3Event>('s3', fixture), deps());
      // Assess
      expect(results).toEqual([
        {
          key: expect.any(String),
          skipped: expect.stringMatching(/not under raw\/events\/ or raw\/clicks\//),
        },
      ]);
      expect(s3.calls()).toHaveLength(0);
    },
  );

  it('fails the invocation on S3 throttling, so that Lambda retries it', async () => {
    // Prepare
    const throttled = Object.assign(new Error('Please reduce your request rate.'), {
      name: 'SlowDown',
      $metadata: { httpStatusCode: 503 },
    });
    s3.on(ListObjectsV2Command).rejects(throttled);
    // Act
    const run = formatS3Event(loadEvent<S3Event>('s3', 'object-created-clicks'), deps());
    // Assess
    await expect(run).rejects.toBeInstanceOf(TransientFormatError);
  });

  it('fails on an error that will not pass too, naming it, for the on-failure destination', async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({});
    s3.on(GetObjectCommand).rejects(
      Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }),
    );
    // Act
    const run = formatS3Event(loadEvent<S3Event>('s3', 'object-created-clicks'), deps());
    // Assess
    await expect(run).rejects.toThrow('Access Denied');
    await expect(run).rejects.not.toBeInstanceOf(TransientFormatError);
  });

  it('reports an object gone before it was read in quarantine and its manifest', async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({});
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: {} }));
    s3.on(PutObjectCommand).resolves({});
    // Act
    const [result] = await formatS3Event(loadEvent<S3Event>('s3', 'object-created-clicks'), deps());
    // Assess
    expect(result).toMatchObject({
      manifest: { lines_read: 0, faults: [{ reason: 'object_missing' }], reconciled: true },
    });
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    const quarantine = puts.find((p) => p.Key?.startsWith('quarantine/format/clicks/'));
    expect(JSON.parse(gunzipSync(quarantine?.Body as Buffer).toString())).toMatchObject({
      reason: 'object_missing',
    });
    expect(puts.map((p) => p.Key)).toContain(
      'lake/_manifests/clicks/dt=2026-03-01/hour=03/logbase-local-clicks-1-2026-03-01-03-05-11-0b6a5c1e-8f3d-4a9b-9c1d-2e7f4a6b8c90.gz.json',
    );
  });

  it('leaves a re-format marker in each compacted hour its earlier run wrote to, naming what it writes there now', async () => {
    // Prepare: an earlier run wrote clicks into 03 (compacted since) and 04 (not); the object is gone now,
    // so this run writes nothing
    const manifest =
      'lake/_manifests/clicks/dt=2026-03-01/hour=03/logbase-local-clicks-1-2026-03-01-03-05-11-0b6a5c1e-8f3d-4a9b-9c1d-2e7f4a6b8c90.gz.json';
    const earlier = (hour: string, name = 'x-s0000.parquet') => ({
      key: `lake/click/v1/dt=2026-03-01/hour=${hour}/${name}`,
      type: 'click',
      version: 1,
      dt: '2026-03-01',
      hour,
      rows: 3,
      bytes: 100,
    });
    const compaction = 'lake/_compaction/click/v1/dt=2026-03-01/hour=03.json';
    s3.on(ListObjectsV2Command).resolves({});
    s3.on(ListObjectsV2Command, { Prefix: manifest }).resolves({ Contents: [{ Key: manifest }] });
    s3.on(ListObjectsV2Command, { Prefix: compaction }).resolves({ Contents: [{ Key: compaction }] });
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: {} }));
    s3.on(GetObjectCommand, { Key: compaction }).resolves({
      Body: {
        transformToString: async () => JSON.stringify({ inputs: [{ key: earlier('03').key, bytes: 100 }] }),
      },
    } as never);
    s3.on(GetObjectCommand, { Key: manifest }).resolves({
      Body: {
        transformToString: async () =>
          JSON.stringify({ outputs: [earlier('03'), earlier('04'), earlier('04', 'x-s0001.parquet')] }),
      },
    } as never);
    s3.on(PutObjectCommand).resolves({});
    s3.on(DeleteObjectCommand).resolves({});
    // Act
    await formatS3Event(loadEvent<S3Event>('s3', 'object-created-clicks'), deps());
    // Assess
    const markers = s3
      .commandCalls(PutObjectCommand)
      .map((c) => c.args[0].input)
      .filter((p) => p.Key?.includes('/_reformatted-'));
    expect(markers.map((m) => m.Key)).toEqual([
      expect.stringMatching(
        /^lake\/click\/v1\/dt=2026-03-01\/hour=03\/_reformatted-logbase-local-clicks-.*-[0-9a-f]{8}\.json$/,
      ),
    ]);
    expect(JSON.parse(String(markers[0]?.Body))).toMatchObject({
      source: expect.stringMatching(/^raw\/clicks\//),
      current: [],
    });
    expect(s3.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input.Key)).toEqual([
      earlier('03').key,
      earlier('04').key,
      earlier('04', 'x-s0001.parquet').key,
    ]);
  });

  it("names, in each earlier hour's marker, the files this run wrote there with their ETags, sorted", () => {
    // Prepare
    const out = (hour: string, name: string) => ({
      key: `lake/click/v1/dt=2026-03-01/hour=${hour}/${name}`,
      type: 'click',
      version: 1,
      dt: '2026-03-01',
      hour,
      rows: 1,
      bytes: 1,
    });
    const etags = new Map([
      [out('03', 'a-s0001.parquet').key, 'e2'],
      [out('03', 'a-s0000.parquet').key, 'e1'],
    ]);
    // Act
    const markers = reformatMarkers(
      'raw/events/a.gz',
      'a',
      [out('03', 'a-s0000.parquet'), out('05', 'a-s0000.parquet')],
      [out('03', 'a-s0001.parquet'), out('03', 'a-s0000.parquet'), out('04', 'a-s0000.parquet')],
      etags,
    );
    // Assess
    expect(markers).toEqual([
      {
        key: 'lake/click/v1/dt=2026-03-01/hour=03/_reformatted-a.json',
        marker: {
          source: 'raw/events/a.gz',
          stem: 'a',
          current: ['a-s0000.parquet@e1', 'a-s0001.parquet@e2'],
        },
      },
      {
        key: 'lake/click/v1/dt=2026-03-01/hour=05/_reformatted-a.json',
        marker: { source: 'raw/events/a.gz', stem: 'a', current: [] },
      },
    ]);
  });
});
