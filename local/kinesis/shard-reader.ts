import {
  type _Record,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import type { CheckpointStore, ShardPosition } from './checkpoints';

/** The shard ids of a stream. */
export async function listShardIds(kinesis: KinesisClient, streamName: string): Promise<string[]> {
  const ids: string[] = [];
  let nextToken: string | undefined;
  do {
    const out = await kinesis.send(
      new ListShardsCommand(nextToken ? { NextToken: nextToken } : { StreamName: streamName }),
    );
    for (const shard of out.Shards ?? []) if (shard.ShardId) ids.push(shard.ShardId);
    nextToken = out.NextToken;
  } while (nextToken);
  return ids;
}

/**
 * Where a reader starts: its saved checkpoint, else the subscription's starting position. LATEST is pinned
 * as "records from now on" (AT_TIMESTAMP) and saved at once, so records put while the stack is stopped
 * are still read after a restart.
 */
export async function startingPosition(
  store: CheckpointStore,
  key: string,
  starting: 'LATEST' | 'TRIM_HORIZON',
  now = Date.now(),
): Promise<ShardPosition> {
  const saved = store.get(key);
  if (saved) return saved;
  if (starting === 'TRIM_HORIZON') return { type: 'TRIM_HORIZON' };
  const pinned: ShardPosition = { type: 'AT_TIMESTAMP', timestamp: now };
  await store.set(key, pinned);
  return pinned;
}

export interface ShardReaderOptions {
  kinesis: KinesisClient;
  streamName: string;
  shardId: string;
  start: ShardPosition;
  /** GetRecords Limit (the batch size). */
  limit: number;
  pollIntervalMs: number;
  /**
   * Handles one batch (never empty) and says where to read next: `undefined` continues after the batch,
   * a position re-reads from there (e.g. AT the first failed record).
   */
  onBatch(records: _Record[], shardId: string): Promise<ShardPosition | undefined>;
  /** Reports a failed Kinesis call (the reader retries it). */
  onError(error: unknown): void;
}

/**
 * Polls one shard like a Lambda event source mapping or Firehose does: one batch in flight, in order,
 * GetShardIterator at the start and after every re-read, NextShardIterator otherwise.
 */
export class ShardReader {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  /** The error of the last Kinesis call when it failed (cleared by the next one that works). */
  lastError: string | undefined;

  constructor(private readonly options: ShardReaderOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops polling; resolves once the batch in flight (if any) is handled. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  /** `<stream>/<shard>`, for reports. */
  get label(): string {
    return `${this.options.streamName}/${this.options.shardId}`;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  private async run(): Promise<void> {
    const { kinesis, shardId, limit, pollIntervalMs } = this.options;
    let position = this.options.start;
    let iterator: string | undefined;
    let failures = 0;
    // AT_TIMESTAMP is read from TRIM_HORIZON, skipping older records: kinesalite's own AT_TIMESTAMP never
    // answers when no record is that recent yet.
    let skipBefore: number | undefined;
    while (!this.abort.signal.aborted) {
      try {
        if (!iterator) {
          skipBefore = position.type === 'AT_TIMESTAMP' ? position.timestamp : undefined;
          iterator = await this.iteratorAt(position);
        }
        const out = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }), {
          abortSignal: this.abort.signal,
        });
        failures = 0;
        this.lastError = undefined;
        let records = out.Records ?? [];
        iterator = out.NextShardIterator;
        if (skipBefore !== undefined && records.length > 0) {
          const from = skipBefore;
          const skipped = records.length;
          records = records.filter((r) => (r.ApproximateArrivalTimestamp?.getTime() ?? 0) >= from);
          if (records.length > 0) skipBefore = undefined;
          else if (skipped === limit) continue;
        }
        if (records.length === 0) {
          if (!iterator) return; // a closed shard, fully read
          await sleep(pollIntervalMs, this.abort.signal);
          continue;
        }
        const last = records[records.length - 1]?.SequenceNumber as string;
        const next = await this.options.onBatch(records, shardId);
        if (next) {
          position = next;
          iterator = undefined;
        } else {
          position = { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: last };
          if (!iterator) return;
        }
        if (records.length < limit) await sleep(pollIntervalMs, this.abort.signal);
      } catch (error) {
        iterator = undefined;
        if (this.abort.signal.aborted) return;
        if ((error as Error).name !== 'ExpiredIteratorException') {
          this.lastError = error instanceof Error ? error.message : String(error);
          this.options.onError(error);
          failures++;
          await sleep(Math.min(pollIntervalMs * 2 ** failures, 5_000), this.abort.signal);
        }
      }
    }
  }

  private async iteratorAt(position: ShardPosition): Promise<string> {
    const { kinesis, streamName, shardId } = this.options;
    const input =
      position.type === 'AT_TIMESTAMP' || position.type === 'TRIM_HORIZON'
        ? { ShardIteratorType: 'TRIM_HORIZON' as const }
        : { ShardIteratorType: position.type, StartingSequenceNumber: position.sequenceNumber };
    const out = await kinesis.send(
      new GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ...input }),
      {
        abortSignal: this.abort.signal,
      },
    );
    if (!out.ShardIterator) throw new Error(`Kinesis gave no shard iterator for ${streamName}/${shardId}`);
    return out.ShardIterator;
  }
}

/** Waits `ms`, or less when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
