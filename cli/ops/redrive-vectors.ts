import {
  type _Record,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { kinesisEvent } from '../../local/kinesis/events';
import { invokeFunction } from './replay';

/**
 * `logbase redrive vectors`: the on-failure queue of update-user-vectors holds, per batch Lambda gave
 * up on, where its records are (KinesisBatchInfo: shard, first and last sequence number, stream), not
 * the records. Each message's range is read again from the stream (GetShardIterator
 * AT_SEQUENCE_NUMBER, then GetRecords up to the last sequence number) and handed to the function as
 * the Kinesis event it would have had. Exactly-once in the function (each user's history keeps the
 * event_ids it applied) makes a range applied twice change nothing. A message is deleted once its
 * whole range is applied; a range that is no longer in the stream (past retention) or whose records
 * still fail is reported and its message kept.
 */

/** The part of a Lambda Kinesis on-failure record this command reads. */
export interface KinesisBatchInfo {
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
  streamArn: string;
  batchSize?: number;
}

export type RangeOutcome =
  | { kind: 'applied'; records: number }
  | { kind: 'expired'; detail: string }
  | { kind: 'still-failing'; records: number; detail: string }
  | { kind: 'unreadable'; detail: string };

export interface RangeReport {
  messageId: string;
  range?: KinesisBatchInfo;
  outcome: RangeOutcome;
  /** The message was deleted from the queue. */
  deleted: boolean;
}

export interface VectorsRedriveOptions {
  sqs: SQSClient;
  kinesis: KinesisClient;
  lambda: LambdaClient;
  queueUrl: string;
  functionName: string;
  region: string;
  /** Read and report, apply nothing, delete nothing. */
  dryRun?: boolean;
  /** How long a received message stays hidden while its range is applied (s, default 300). */
  visibilityTimeoutSeconds?: number;
}

const cmp = (a: string, b: string) => {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** `arn:aws:kinesis:<region>:<account>:stream/<name>` -> `<name>`. */
const streamName = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);

/** Past retention: Kinesis's own error for a trimmed position, or a range whose first record is gone. */
function isTrimmed(error: unknown): boolean {
  const name = (error as { name?: string }).name ?? '';
  return name === 'TrimmedDataAccessException' || name === 'ExpiredIteratorException';
}

/** The records of a range, in order, or why they cannot all be read. */
export async function readRange(
  kinesis: KinesisClient,
  range: KinesisBatchInfo,
): Promise<{ records: _Record[] } | { expired: string }> {
  let iterator: string | undefined;
  try {
    iterator = (
      await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: streamName(range.streamArn),
          ShardId: range.shardId,
          ShardIteratorType: 'AT_SEQUENCE_NUMBER',
          StartingSequenceNumber: range.startSequenceNumber,
        }),
      )
    ).ShardIterator;
  } catch (error) {
    if (isTrimmed(error) || (error as { name?: string }).name === 'InvalidArgumentException')
      return { expired: `${(error as Error).name}: ${(error as Error).message}` };
    throw error;
  }
  const records: _Record[] = [];
  for (let emptyReads = 0; iterator !== undefined && emptyReads < 3; ) {
    let page: GetRecordsCommandOutput;
    try {
      page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
    } catch (error) {
      if (isTrimmed(error)) return { expired: `${(error as Error).name}: ${(error as Error).message}` };
      throw error;
    }
    const got = page.Records ?? [];
    if (got.length === 0) emptyReads += 1;
    for (const r of got) {
      if (cmp(r.SequenceNumber as string, range.endSequenceNumber) > 0) return check(records, range);
      records.push(r);
    }
    if (records.length && cmp(records.at(-1)?.SequenceNumber as string, range.endSequenceNumber) === 0)
      return check(records, range);
    iterator = page.NextShardIterator;
    if (got.length === 0 && (page.MillisBehindLatest ?? 0) === 0) break;
  }
  return check(records, range);
}

function check(records: _Record[], range: KinesisBatchInfo): { records: _Record[] } | { expired: string } {
  const first = records[0]?.SequenceNumber;
  if (first === undefined || cmp(first, range.startSequenceNumber) !== 0) {
    return {
      expired: `the stream no longer holds ${range.startSequenceNumber} (first readable: ${first ?? 'none'})`,
    };
  }
  if (cmp(records.at(-1)?.SequenceNumber as string, range.endSequenceNumber) !== 0)
    return { expired: `the stream holds the range only up to ${records.at(-1)?.SequenceNumber}` };
  return { records };
}

/** Parses an on-failure message body; undefined when it names no Kinesis range. */
export function batchInfoOf(body: string | undefined): KinesisBatchInfo | undefined {
  try {
    const info = (JSON.parse(body ?? '') as { KinesisBatchInfo?: Partial<KinesisBatchInfo> })
      .KinesisBatchInfo;
    if (
      typeof info?.shardId === 'string' &&
      typeof info.startSequenceNumber === 'string' &&
      typeof info.endSequenceNumber === 'string' &&
      typeof info.streamArn === 'string'
    )
      return info as KinesisBatchInfo;
  } catch {
    // not JSON: reported as unreadable
  }
  return undefined;
}

/** Reads every message of the queue once, applies each range, deletes the messages of applied ranges. */
export async function redriveVectors(o: VectorsRedriveOptions): Promise<RangeReport[]> {
  const reports: RangeReport[] = [];
  const kept: string[] = [];
  const seen = new Set<string>();
  for (;;) {
    const page = await o.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: o.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: o.visibilityTimeoutSeconds ?? 300,
      }),
    );
    const messages = (page.Messages ?? []).filter((m) => !seen.has(m.MessageId as string));
    if (messages.length === 0) break;
    for (const m of messages) {
      seen.add(m.MessageId as string);
      const range = batchInfoOf(m.Body);
      const outcome: RangeOutcome =
        range === undefined
          ? { kind: 'unreadable', detail: 'the message holds no KinesisBatchInfo' }
          : await applyRange(o, range);
      const done = outcome.kind === 'applied' && !o.dryRun;
      if (done)
        await o.sqs.send(new DeleteMessageCommand({ QueueUrl: o.queueUrl, ReceiptHandle: m.ReceiptHandle }));
      else kept.push(m.ReceiptHandle as string);
      reports.push({ messageId: m.MessageId as string, ...(range ? { range } : {}), outcome, deleted: done });
    }
  }
  // The kept messages are visible again at once: the next run (or a look at the queue) sees them.
  for (const handle of kept) {
    await o.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: o.queueUrl,
        ReceiptHandle: handle,
        VisibilityTimeout: 0,
      }),
    );
  }
  return reports;
}

async function applyRange(o: VectorsRedriveOptions, range: KinesisBatchInfo): Promise<RangeOutcome> {
  const read = await readRange(o.kinesis, range);
  if ('expired' in read) return { kind: 'expired', detail: read.expired };
  if (o.dryRun) return { kind: 'applied', records: read.records.length };
  const event = kinesisEvent(read.records, {
    shardId: range.shardId,
    region: o.region,
    streamArn: range.streamArn,
    invokeIdentityArn: 'logbase-redrive-vectors',
  });
  const out = await invokeFunction(o.lambda, o.functionName, event);
  if (out.error !== undefined)
    return { kind: 'still-failing', records: read.records.length, detail: `${o.functionName} ${out.error}` };
  const failures = (out.payload as { batchItemFailures?: { itemIdentifier?: string }[] } | undefined)
    ?.batchItemFailures;
  if (failures && failures.length > 0) {
    return {
      kind: 'still-failing',
      records: read.records.length,
      detail: `${failures.length} record(s) still fail, first ${failures[0]?.itemIdentifier}`,
    };
  }
  return { kind: 'applied', records: read.records.length };
}

/** The reports as printed: one line per range, then the totals. */
export function formatVectorsReports(reports: readonly RangeReport[], dryRun = false): string[] {
  const lines = reports.map((r) => {
    const where = r.range
      ? `${r.range.shardId} ${r.range.startSequenceNumber}..${r.range.endSequenceNumber}`
      : `message ${r.messageId}`;
    const o = r.outcome;
    if (o.kind === 'applied')
      return `${where}: ${o.records} record(s) ${dryRun ? 'readable, would be applied' : 'applied, message deleted'}`;
    if (o.kind === 'expired') return `${where}: past retention, kept in the queue (${o.detail})`;
    if (o.kind === 'still-failing')
      return `${where}: ${o.records} record(s) read, ${o.detail}; kept in the queue`;
    return `${where}: ${o.detail}; kept in the queue`;
  });
  const count = (k: RangeOutcome['kind']) => reports.filter((r) => r.outcome.kind === k).length;
  lines.push(
    `${reports.length} failed batch(es): ${count('applied')} ${dryRun ? 'readable' : 'applied'}, ${count('expired')} past retention, ${count('still-failing')} still failing, ${count('unreadable')} unreadable`,
  );
  return lines;
}
