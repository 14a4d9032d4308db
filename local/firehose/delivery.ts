import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { sleep } from '../kinesis/shard-reader';
import { errorMessage, type StackLog } from '../log';
import type { DeliveryStreamSpec } from '../wiring';
import { deliveryObjectKey, renderPrefix } from './prefix';

const gzipAsync = promisify(gzip);
const MIB = 1024 * 1024;

/** Where the records of a delivery came from in a Kinesis source (shard -> last sequence number). */
export type SourcePositions = Map<string, string>;

export interface DeliveryBufferOptions {
  spec: DeliveryStreamSpec;
  s3: S3Client;
  log: StackLog;
  /** Where a delivery that S3 keeps refusing is written instead. */
  failedDeliveriesDir: string;
  /** Called after a delivery reached S3 with the source positions it covered (Kinesis-source streams). */
  onDelivered?: (positions: SourcePositions) => Promise<void>;
  /** S3 attempts per delivery before it goes to failedDeliveriesDir. */
  maxAttempts?: number;
}

/**
 * The buffer of one delivery stream: records are concatenated as-is (Firehose adds no delimiter) and written
 * as one object when the buffered bytes reach SizeInMBs (MiB, before compression) or IntervalInSeconds after
 * the first buffered record, whichever comes first. Deliveries are written one at a time, in order.
 */
export class DeliveryBuffer {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private firstArrival: Date | undefined;
  private positions: SourcePositions = new Map();
  private timer: NodeJS.Timeout | undefined;
  private delivering: Promise<void> = Promise.resolve();
  private readonly maxAttempts: number;

  constructor(private readonly options: DeliveryBufferOptions) {
    this.maxAttempts = options.maxAttempts ?? 4;
  }

  get spec(): DeliveryStreamSpec {
    return this.options.spec;
  }

  /** Bytes buffered and not yet delivered. */
  get bufferedBytes(): number {
    return this.bytes;
  }

  /** Adds records (in order); starts a delivery when the size hint is reached. */
  add(records: Buffer[], arrival = new Date(), source?: { shardId: string; sequenceNumber: string }): void {
    if (records.length === 0) return;
    for (const record of records) {
      this.chunks.push(record);
      this.bytes += record.length;
    }
    if (source) this.positions.set(source.shardId, source.sequenceNumber);
    if (!this.firstArrival) {
      this.firstArrival = arrival;
      this.timer = setTimeout(() => void this.flush(), this.spec.intervalInSeconds * 1000);
    }
    if (this.bytes >= this.spec.sizeInMBs * MIB) void this.flush();
  }

  /** Delivers whatever is buffered now; resolves when it (and every earlier delivery) is written. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.chunks.length > 0 && this.firstArrival) {
      const batch = { chunks: this.chunks, arrival: this.firstArrival, positions: this.positions };
      this.chunks = [];
      this.bytes = 0;
      this.firstArrival = undefined;
      this.positions = new Map();
      this.delivering = this.delivering.then(() =>
        this.deliver(batch.chunks, batch.arrival, batch.positions),
      );
    }
    return this.delivering;
  }

  private async deliver(chunks: Buffer[], arrival: Date, positions: SourcePositions): Promise<void> {
    const { spec, s3, log } = this.options;
    const gzipped = spec.compression === 'GZIP';
    const raw = Buffer.concat(chunks);
    const body = gzipped ? await gzipAsync(raw) : raw;
    const key = deliveryObjectKey(
      renderPrefix(spec.prefix, { time: arrival }),
      spec.name,
      arrival,
      randomUUID(),
      gzipped,
    );
    for (let attempt = 1; ; attempt++) {
      try {
        await s3.send(
          new PutObjectCommand({
            Bucket: spec.bucket,
            Key: key,
            Body: body,
            ContentType: 'application/octet-stream',
          }),
        );
        log.info(
          `firehose ${spec.name}: ${chunks.length} record(s), ${raw.length} bytes -> s3://${spec.bucket}/${key}`,
        );
        if (positions.size && this.options.onDelivered) await this.options.onDelivered(positions);
        return;
      } catch (error) {
        if (attempt >= this.maxAttempts) {
          const file = await this.writeFailed(key, body);
          log.error(
            `firehose ${spec.name}: delivery of ${chunks.length} record(s) to s3://${spec.bucket}/${key} failed ` +
              `${attempt} times (${errorMessage(error)}); written to ${file}`,
          );
          return;
        }
        await sleep(200 * 2 ** attempt);
      }
    }
  }

  private async writeFailed(key: string, body: Buffer): Promise<string> {
    const dir = join(this.options.failedDeliveriesDir, this.spec.name);
    await mkdir(dir, { recursive: true });
    const file = join(dir, key.split('/').join('__'));
    await writeFile(file, body);
    return file;
  }
}
