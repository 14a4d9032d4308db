import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { eventually, FIXTURE, fixtureInvoker, Invocations, readObject, useFixtureStack } from './harness';

describe('S3 notifications of the local stack (fixture: onRawObject on raw/ + .json)', () => {
  const onRawObject = new Invocations<S3Event>();
  const onRecords = new Invocations();
  const local = useFixtureStack({ invoker: fixtureInvoker(onRawObject, onRecords) });

  const put = (key: string, body: string | Buffer) =>
    local.clients.s3.send(new PutObjectCommand({ Bucket: FIXTURE.bucket, Key: key, Body: body }));
  const eventFor = (encodedKey: string) =>
    eventually(`an S3 event for ${encodedKey}`, () =>
      onRawObject.events.find((e) => e.Records[0]?.s3.object.key === encodedKey),
    );

  beforeEach(() => {
    onRawObject.behaviour = () => undefined;
  });

  it('invokes the function with a real-shaped S3 event whose key is URL-encoded as AWS does', async () => {
    // Prepare
    const body = '{"hello":"world"}';
    const before = Date.now();

    // Act
    await put('raw/dt=2026-11-26/a b.json', body);

    // Assess
    const event = await eventFor('raw/dt%3D2026-11-26/a+b.json');
    expect(event.Records).toHaveLength(1);
    const record = event.Records[0];
    expect(record).toMatchObject({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'ap-northeast-1',
      eventName: 'ObjectCreated:Put',
      s3: {
        s3SchemaVersion: '1.0',
        bucket: { name: FIXTURE.bucket, arn: `arn:aws:s3:::${FIXTURE.bucket}` },
        object: {
          key: 'raw/dt%3D2026-11-26/a+b.json',
          size: Buffer.byteLength(body),
          eTag: createHash('md5').update(body).digest('hex'),
        },
      },
    });
    expect(record?.s3.object.sequencer).toMatch(/^[0-9A-F]{16,}$/);
    expect(Date.parse(record?.eventTime ?? '')).toBeGreaterThanOrEqual(before - 1_000);
    expect(decodeURIComponent((record?.s3.object.key ?? '').replace(/\+/g, ' '))).toBe(
      'raw/dt=2026-11-26/a b.json',
    );
  });

  it('does not invoke the function for a key outside raw/ or without the .json suffix', async () => {
    // Prepare
    const seenBefore = onRawObject.events.length;

    // Act
    await put('other/x.json', '{}');
    await put('raw/x.txt', 'text');
    await put('raw/sentinel-1.json', '{}');

    // Assess: the sentinel, put last, is the only new event
    await eventFor('raw/sentinel-1.json');
    const keys = onRawObject.events.slice(seenBefore).map((e) => e.Records[0]?.s3.object.key);
    expect(keys).toEqual(['raw/sentinel-1.json']);
  });

  it('reports a streamed upload with its real size and stores its bytes without aws-chunked framing', async () => {
    // Prepare: a stream body makes the SDK send aws-chunked with a trailing checksum
    const body = Buffer.from('line 1\nline 2\n');

    // Act
    await local.clients.s3.send(
      new PutObjectCommand({
        Bucket: FIXTURE.bucket,
        Key: 'raw/streamed.json',
        Body: Readable.from([body]),
        ContentLength: body.length,
      }),
    );

    // Assess
    const event = await eventFor('raw/streamed.json');
    expect(event.Records[0]?.s3.object.size).toBe(body.length);
    expect(await readObject(local.clients.s3, FIXTURE.bucket, 'raw/streamed.json')).toEqual(body);
  });

  it('names a multipart upload ObjectCreated:CompleteMultipartUpload and a copy ObjectCreated:Copy', async () => {
    // Prepare
    const upload = await local.clients.s3.send(
      new CreateMultipartUploadCommand({ Bucket: FIXTURE.bucket, Key: 'raw/multi.json' }),
    );
    const part = await local.clients.s3.send(
      new UploadPartCommand({
        Bucket: FIXTURE.bucket,
        Key: 'raw/multi.json',
        UploadId: upload.UploadId,
        PartNumber: 1,
        Body: '{"multi":true}',
      }),
    );

    // Act
    await local.clients.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: FIXTURE.bucket,
        Key: 'raw/multi.json',
        UploadId: upload.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    await local.clients.s3.send(
      new CopyObjectCommand({
        Bucket: FIXTURE.bucket,
        Key: 'raw/copied.json',
        CopySource: `${FIXTURE.bucket}/raw/multi.json`,
      }),
    );

    // Assess
    expect((await eventFor('raw/multi.json')).Records[0]?.eventName).toBe(
      'ObjectCreated:CompleteMultipartUpload',
    );
    const copy = (await eventFor('raw/copied.json')).Records[0];
    expect(copy?.eventName).toBe('ObjectCreated:Copy');
    expect(copy?.s3.object.eTag).toMatch(/^[0-9a-f]{32}$/);
  });

  it('retries a failing invocation twice, as Lambda does for asynchronous invocations', async () => {
    // Prepare: fails on the first two attempts
    let attempts = 0;
    onRawObject.behaviour = (event) => {
      if (event.Records[0]?.s3.object.key !== 'raw/flaky.json') return;
      attempts++;
      if (attempts <= 2) throw new Error(`flaky attempt ${attempts}`);
    };

    // Act
    await put('raw/flaky.json', '{}');

    // Assess
    await eventually('the third attempt', () => attempts === 3);
    const delivered = onRawObject.events.filter((e) => e.Records[0]?.s3.object.key === 'raw/flaky.json');
    expect(delivered).toHaveLength(3);
  });

  it('writes the event to failed-events/ when every attempt fails', async () => {
    // Prepare
    onRawObject.behaviour = (event) => {
      if (event.Records[0]?.s3.object.key === 'raw/poison.json') throw new Error('cannot parse poison');
    };

    // Act
    await put('raw/poison.json', '{}');

    // Assess
    const failedDir = join(local.dataDir, 'failed-events');
    const file = await eventually('a failed-events file', async () => {
      const files = await readdir(failedDir).catch(() => []);
      return files.find((f) => f.startsWith('wiring-local-onRawObject-'));
    });
    const saved = JSON.parse(await readFile(join(failedDir, file), 'utf8'));
    expect(saved.error).toContain('cannot parse poison');
    expect(saved.event.Records[0].s3.object.key).toBe('raw/poison.json');
  });

  it('shows an object only whole: a reader during the PUT, and the function the PUT starts, read every byte', async () => {
    // Prepare: 8 MiB, so that writing it takes long enough for a reader to look in between.
    const body = Buffer.alloc(8 * 1024 * 1024, 'x');
    const seenByFunction: number[] = [];
    onRawObject.behaviour = async (event: S3Event) => {
      const key = decodeURIComponent(event.Records[0]?.s3.object.key.replace(/\+/g, ' ') ?? '');
      seenByFunction.push((await readObject(local.clients.s3, FIXTURE.bucket, key)).length);
    };
    const seenByReader: number[] = [];
    let writing = true;
    const reader = (async () => {
      while (writing) {
        try {
          seenByReader.push((await readObject(local.clients.s3, FIXTURE.bucket, 'raw/big.json')).length);
        } catch (error) {
          if ((error as Error).name !== 'NoSuchKey') throw error;
        }
      }
    })();

    // Act
    await put('raw/big.json', body);
    await eventually('the function to read raw/big.json', () => seenByFunction.length > 0);
    writing = false;
    await reader;

    // Assess
    expect(seenByFunction).toEqual([body.length]);
    expect(seenByReader.filter((length) => length !== body.length)).toEqual([]);
  });
});
