import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import { LocalStackStartError } from '../errors';
import type { CheckpointStore } from '../kinesis/checkpoints';
import { listShardIds, ShardReader, startingPosition } from '../kinesis/shard-reader';
import { errorMessage, type StackLog } from '../log';
import type { DeliveryStreamSpec } from '../wiring';
import { DeliveryBuffer } from './delivery';
import { decodeBatch, decodeRecord, FirehoseApiError, invalid, streamNameOf } from './protocol';

/**
 * A test hook: the next `records` records put fail with `errorCode` (per record in PutRecordBatch),
 * and the next `calls` PutRecord/PutRecordBatch calls fail whole with HTTP 503 and `errorCode`.
 */
export interface FirehoseFaults {
  records?: number;
  calls?: number;
  errorCode?: string;
  errorMessage?: string;
}

export interface LocalFirehoseOptions {
  host: string;
  port: number;
  streams: DeliveryStreamSpec[];
  s3: S3Client;
  kinesis: KinesisClient;
  checkpoints: CheckpointStore;
  failedDeliveriesDir: string;
  region: string;
  accountId: string;
  pollIntervalMs: number;
  log: StackLog;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const TARGET_PREFIX = 'Firehose_20150804.';
const CONTENT_TYPE = 'application/x-amz-json-1.1';

/**
 * A local Kinesis Data Firehose speaking the real JSON protocol (`X-Amz-Target: Firehose_20150804.<Op>`), so a
 * FirehoseClient pointed at it works unchanged: PutRecord, PutRecordBatch, DescribeDeliveryStream,
 * ListDeliveryStreams. Each delivery stream buffers and writes objects to S3 like the real one; a
 * KinesisStreamAsSource stream reads its Kinesis stream instead of accepting puts.
 */
export class LocalFirehose {
  private readonly buffers = new Map<string, DeliveryBuffer>();
  private readonly readers: ShardReader[] = [];
  private readonly createdAt = new Date();
  private server: Server | undefined;
  private stopping: Promise<void> | undefined;
  private faults: Required<FirehoseFaults> = { records: 0, calls: 0, errorCode: '', errorMessage: '' };
  private readonly counts = new Map<string, number>();
  port = 0;

  constructor(private readonly options: LocalFirehoseOptions) {
    for (const spec of options.streams) {
      this.buffers.set(
        spec.name,
        new DeliveryBuffer({
          spec,
          s3: options.s3,
          log: options.log,
          failedDeliveriesDir: options.failedDeliveriesDir,
          onDelivered: async (positions) => {
            for (const [shardId, sequenceNumber] of positions) {
              await options.checkpoints.set(this.checkpointKey(spec, shardId), {
                type: 'AFTER_SEQUENCE_NUMBER',
                sequenceNumber,
              });
            }
          },
        }),
      );
    }
  }

  /** The shard readers of the Kinesis sources. */
  get shardReaders(): readonly ShardReader[] {
    return this.readers;
  }

  /** Listens, and starts reading the Kinesis sources. */
  async start(): Promise<void> {
    const { host, port } = this.options;
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    this.port = await new Promise<number>((resolve, reject) => {
      server.once('error', (error) =>
        reject(new LocalStackStartError(`Firehose could not listen on ${host}:${port}: ${error.message}`)),
      );
      server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
    });
    for (const buffer of this.buffers.values()) {
      if (buffer.spec.type === 'KinesisStreamAsSource') await this.startSource(buffer);
    }
  }

  /** Makes the next `records` records, or `calls` calls, fail (ServiceUnavailableException unless said otherwise). */
  injectFaults(faults: FirehoseFaults): void {
    this.faults = {
      records: faults.records ?? 0,
      calls: faults.calls ?? 0,
      errorCode: faults.errorCode ?? 'ServiceUnavailableException',
      errorMessage: faults.errorMessage ?? 'Slow down.',
    };
  }

  /** Calls of an operation (e.g. PutRecordBatch) since the server started, failed ones included. */
  calls(operation: string): number {
    return this.counts.get(operation) ?? 0;
  }

  /** Delivers every buffer now. */
  async flushAll(): Promise<void> {
    await Promise.all([...this.buffers.values()].map((b) => b.flush()));
  }

  /** Stops reading sources, delivers what is buffered, and closes the server (once; later calls wait for it). */
  stop(): Promise<void> {
    this.stopping ??= this.stopOnce();
    return this.stopping;
  }

  private async stopOnce(): Promise<void> {
    await Promise.all(this.readers.map((r) => r.stop()));
    await this.flushAll();
    const server = this.server;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    }
  }

  private checkpointKey(spec: DeliveryStreamSpec, shardId: string): string {
    return `firehose/${spec.name}/${spec.sourceStream}/${shardId}`;
  }

  private async startSource(buffer: DeliveryBuffer): Promise<void> {
    const { kinesis, checkpoints, pollIntervalMs, log } = this.options;
    const spec = buffer.spec;
    const streamName = spec.sourceStream as string;
    for (const shardId of await listShardIds(kinesis, streamName)) {
      // Firehose reads a source stream from LATEST when it is created; the first start pins that moment.
      const start = await startingPosition(checkpoints, this.checkpointKey(spec, shardId), 'LATEST');
      const reader = new ShardReader({
        kinesis,
        streamName,
        shardId,
        start,
        limit: 1000,
        pollIntervalMs,
        onBatch: async (records) => {
          const last = records[records.length - 1]?.SequenceNumber as string;
          const arrival = records[0]?.ApproximateArrivalTimestamp ?? new Date();
          buffer.add(
            records.map((r) => Buffer.from(r.Data ?? new Uint8Array())),
            arrival,
            { shardId, sequenceNumber: last },
          );
          return undefined;
        },
        onError: (error) =>
          log.warn(`firehose ${spec.name} reading ${streamName}/${shardId}: ${errorMessage(error)}`),
      });
      this.readers.push(reader);
      reader.start();
    }
  }

  // ---------------------------------------------------------------- protocol

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    try {
      const body = await readBody(req);
      const target = String(req.headers['x-amz-target'] ?? '');
      if (req.method !== 'POST' || !target.startsWith(TARGET_PREFIX)) {
        throw new FirehoseApiError(
          'UnknownOperationException',
          `expected POST with X-Amz-Target ${TARGET_PREFIX}<Op>`,
        );
      }
      let input: Record<string, unknown>;
      try {
        input = body.length ? JSON.parse(body.toString('utf8')) : {};
      } catch {
        throw new FirehoseApiError('SerializationException', 'request body is not valid JSON');
      }
      const output = this.dispatch(target.slice(TARGET_PREFIX.length), input);
      send(res, 200, output, requestId);
    } catch (error) {
      const apiError =
        error instanceof FirehoseApiError
          ? error
          : new FirehoseApiError('InternalFailure', errorMessage(error), 500);
      if (apiError.status >= 500 && apiError.code === 'InternalFailure') {
        this.options.log.error(`firehose request failed: ${apiError.message}`);
      }
      send(
        res,
        apiError.status,
        { __type: apiError.code, message: apiError.message },
        requestId,
        apiError.code,
      );
    }
  }

  private dispatch(operation: string, input: Record<string, unknown>): unknown {
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
    if ((operation === 'PutRecord' || operation === 'PutRecordBatch') && this.faults.calls > 0) {
      this.faults.calls--;
      throw new FirehoseApiError(this.faults.errorCode, this.faults.errorMessage, 503);
    }
    switch (operation) {
      case 'PutRecord':
        return this.putRecord(input);
      case 'PutRecordBatch':
        return this.putRecordBatch(input);
      case 'DescribeDeliveryStream':
        return { DeliveryStreamDescription: this.describe(this.bufferOf(streamNameOf(input)).spec) };
      case 'ListDeliveryStreams':
        return this.list(input);
      default:
        throw new FirehoseApiError(
          'UnknownOperationException',
          `operation ${operation} is not supported by the local Firehose`,
        );
    }
  }

  private bufferOf(name: string): DeliveryBuffer {
    const buffer = this.buffers.get(name);
    if (!buffer) {
      throw new FirehoseApiError(
        'ResourceNotFoundException',
        `Firehose ${name} under account ${this.options.accountId} not found.`,
      );
    }
    return buffer;
  }

  private writableBufferOf(input: Record<string, unknown>): DeliveryBuffer {
    const buffer = this.bufferOf(streamNameOf(input));
    if (buffer.spec.type === 'KinesisStreamAsSource') {
      throw invalid(
        `This operation is not permitted on KinesisStreamAsSource delivery stream type (${buffer.spec.name} reads ${buffer.spec.sourceStream}).`,
      );
    }
    return buffer;
  }

  private putRecord(input: Record<string, unknown>) {
    const buffer = this.writableBufferOf(input);
    const record = decodeRecord(input.Record, 'Record');
    if (this.faults.records > 0) {
      this.faults.records--;
      throw new FirehoseApiError(this.faults.errorCode, this.faults.errorMessage, 503);
    }
    buffer.add([record]);
    return { RecordId: recordId(), Encrypted: false };
  }

  private putRecordBatch(input: Record<string, unknown>) {
    const buffer = this.writableBufferOf(input);
    const records = decodeBatch(input.Records);
    const accepted: Buffer[] = [];
    let failed = 0;
    const responses = records.map((record) => {
      if (this.faults.records > 0) {
        this.faults.records--;
        failed++;
        return { ErrorCode: this.faults.errorCode, ErrorMessage: this.faults.errorMessage };
      }
      accepted.push(record);
      return { RecordId: recordId() };
    });
    buffer.add(accepted);
    return { FailedPutCount: failed, Encrypted: false, RequestResponses: responses };
  }

  private describe(spec: DeliveryStreamSpec) {
    const { accountId } = this.options;
    const role = `arn:aws:iam::${accountId}:role/local-firehose`;
    const created = this.createdAt.getTime() / 1000;
    return {
      DeliveryStreamName: spec.name,
      DeliveryStreamARN: spec.arn,
      DeliveryStreamStatus: 'ACTIVE',
      DeliveryStreamEncryptionConfiguration: { Status: 'DISABLED' },
      DeliveryStreamType: spec.type,
      VersionId: '1',
      CreateTimestamp: created,
      ...(spec.sourceStream
        ? {
            Source: {
              KinesisStreamSourceDescription: {
                KinesisStreamARN: `arn:aws:kinesis:${this.options.region}:${accountId}:stream/${spec.sourceStream}`,
                RoleARN: role,
                DeliveryStartTimestamp: created,
              },
            },
          }
        : {}),
      Destinations: [
        {
          DestinationId: 'destinationId-000000000001',
          ExtendedS3DestinationDescription: {
            RoleARN: role,
            BucketARN: spec.bucketArn,
            Prefix: spec.prefix,
            ErrorOutputPrefix: spec.errorOutputPrefix,
            BufferingHints: { SizeInMBs: spec.sizeInMBs, IntervalInSeconds: spec.intervalInSeconds },
            CompressionFormat: spec.compression,
            EncryptionConfiguration: { NoEncryptionConfig: 'NoEncryption' },
            S3BackupMode: 'Disabled',
          },
        },
      ],
      HasMoreDestinations: false,
    };
  }

  private list(input: Record<string, unknown>) {
    const limit = input.Limit === undefined ? 10 : Number(input.Limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
      throw invalid('Limit must be an integer from 1 to 10000');
    const type = input.DeliveryStreamType as string | undefined;
    const after = input.ExclusiveStartDeliveryStreamName as string | undefined;
    const names = [...this.buffers.values()]
      .filter((b) => !type || b.spec.type === type)
      .map((b) => b.spec.name)
      .sort()
      .filter((name) => !after || name > after);
    return { DeliveryStreamNames: names.slice(0, limit), HasMoreDeliveryStreams: names.length > limit };
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () =>
      size > MAX_BODY_BYTES
        ? reject(
            invalid(`request body is ${size} bytes; the local Firehose accepts at most ${MAX_BODY_BYTES}`),
          )
        : resolve(Buffer.concat(chunks)),
    );
    req.on('error', reject);
  });
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  requestId: string,
  errorType?: string,
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': requestId,
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  res.end(text);
}

const recordId = () => randomBytes(42).toString('base64');
