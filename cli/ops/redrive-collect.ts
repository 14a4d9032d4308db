import type { FirehoseClient } from '@aws-sdk/client-firehose';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import { putToFirehose } from '../../lib/aws/firehose';
import { putToKinesis } from '../../lib/aws/kinesis';
import type { WriteResult } from '../../lib/aws/retry';
import { type CollectLimits, type PreparedRequest, prepareRequest } from '../../lib/domain/collect';
import type { QuarantineLine } from '../../lib/domain/collect-quarantine';
import { CollectRequestError } from '../../lib/domain/http-body';
import type { Hour } from './lake';
import {
  addCount,
  type QuarantineCounts,
  quarantineObjectsOf,
  readJsonLines,
  reasonOf,
  settleQuarantineObject,
} from './redrive-quarantine';

/**
 * `logbase redrive collect`: re-validates collect's quarantine (quarantine/collect/, one object per
 * request, lib/domain/collect-quarantine.ts) with the registry of this checkout, through collect's
 * own prepareRequest, and puts what passes now where collect would have: clicks on the Kinesis
 * clicks stream, every other event on the events Firehose stream (putToKinesis / putToFirehose,
 * collect's writers, with its request_id and received_at). A rejected event of a 202 is re-validated
 * alone; a body rejected whole (a 400) is read whole again, and when it reads now its events are
 * decided as collect decides them (the ones it still rejects stay, one line each).
 */

export const COLLECT_QUARANTINE = 'quarantine/collect/';

export interface CollectRedriveSummary extends QuarantineCounts {
  objects: number;
  /** Events put on each stream. */
  delivered: { events: number; clicks: number };
  /** Quarantine objects whose passing lines could not all be delivered (they stay whole). */
  failed: { key: string; error: string }[];
}

export interface CollectRedriveOptions {
  s3: S3Client;
  firehose: FirehoseClient;
  kinesis: KinesisClient;
  bucket: string;
  eventsDeliveryStream: string;
  clicksStream: string;
  limits: CollectLimits;
  hours?: readonly Hour[];
  dryRun?: boolean;
  /** The run's start (ISO), stamped on the copies of what was redriven. */
  startedAt: string;
  /** Stream write deadline per request (ms, default 30 s). */
  writeTimeoutMs?: number;
}

/** A rejection collect made for the request itself, not the registry: it never passes by a redrive. */
function registryIndependent(line: QuarantineLine): boolean {
  const first = line.errors[0];
  return (
    first?.path === '/event_id' && first.message.startsWith('duplicate event_id') // a repeat within the request
  );
}

/** One line's decision: delivered with the records at `records` of the prepared request, or staying. */
interface Decided {
  prepared?: PreparedRequest;
  /** Per quarantine line: the index of its event in `prepared`, or -1 when it stays. */
  eventAt: number[];
  /** Lines that replace a whole-body line (its events collect still rejects). */
  extra: QuarantineLine[];
}

const NDJSON = 'application/x-ndjson';

/** The events of a request's quarantine lines that pass now, prepared as collect prepares a request. */
export function decideCollectLines(lines: readonly QuarantineLine[], limits: CollectLimits): Decided {
  const first = lines[0];
  const eventAt = lines.map(() => -1);
  if (first === undefined) return { eventAt, extra: [] };
  const receivedAt = new Date(first.received_at);
  const requestId = first.request_id;
  const whole = lines.findIndex((l) => l.index === null);
  if (whole >= 0) {
    // A body rejected whole, read as collect reads a body; its content type is not kept, so as JSON
    // ({"events": [...]}) first, then as JSON lines.
    const line = lines[whole] as QuarantineLine;
    const body = Buffer.from(line.raw, line.raw_encoding === 'base64' ? 'base64' : 'utf8');
    const text = line.raw_encoding === 'base64' ? undefined : line.raw;
    let prepared: PreparedRequest | undefined;
    for (const contentType of ['application/json', NDJSON]) {
      try {
        prepared = prepareRequest(
          { body, ...(text === undefined ? {} : { text }), contentType, receivedAt, requestId },
          limits,
        );
        break;
      } catch (error) {
        if (!(error instanceof CollectRequestError)) throw error;
      }
    }
    if (prepared === undefined) return { eventAt, extra: [] };
    if (prepared.clicks.length + prepared.events.length === 0) return { eventAt, extra: [] };
    eventAt[whole] = 0;
    const extra: QuarantineLine[] = prepared.rejected.map((r) => ({
      request_id: requestId,
      received_at: first.received_at,
      index: r.index,
      event_id: r.event_id ?? null,
      ...(r.line === undefined ? {} : { line: r.line }),
      errors: r.errors,
      raw: r.raw,
      raw_encoding: 'utf8',
      source: line.source,
    }));
    return { prepared, eventAt, extra };
  }
  // Rejected events: re-validated together, as JSON lines (newlines between tokens are whitespace).
  const candidates = lines.map((l, i) => ({ l, i })).filter(({ l }) => !registryIndependent(l));
  if (candidates.length === 0) return { eventAt, extra: [] };
  const text = candidates.map(({ l }) => l.raw.replace(/\r?\n/g, ' ')).join('\n');
  let prepared: PreparedRequest;
  try {
    prepared = prepareRequest(
      { body: Buffer.from(text, 'utf8'), text, contentType: NDJSON, receivedAt, requestId },
      limits,
    );
  } catch (error) {
    if (error instanceof CollectRequestError) return { eventAt, extra: [] };
    throw error;
  }
  for (const r of [...prepared.events, ...prepared.clicks]) {
    eventAt[(candidates[r.index] as { i: number }).i] = r.index;
  }
  return { prepared, eventAt, extra: [] };
}

/** Re-validates every quarantined request of the hours and delivers the events that pass now. */
export async function redriveCollect(o: CollectRedriveOptions): Promise<CollectRedriveSummary> {
  const summary: CollectRedriveSummary = {
    objects: 0,
    read: {},
    redriven: {},
    stayed: {},
    delivered: { events: 0, clicks: 0 },
    failed: [],
  };
  for (const q of await quarantineObjectsOf(o.s3, o.bucket, COLLECT_QUARANTINE, o.hours)) {
    summary.objects += 1;
    const lines = await readJsonLines<QuarantineLine>(o.s3, o.bucket, q.key);
    for (const l of lines) addCount(summary.read, reasonOf(l.errors));
    const decided = decideCollectLines(lines, o.limits);
    const passing = decided.eventAt.filter((at) => at >= 0).length;
    const stayAll = () => {
      for (const l of lines) addCount(summary.stayed, reasonOf(l.errors));
    };
    if (decided.prepared === undefined || passing === 0) {
      stayAll();
      continue;
    }
    const { prepared } = decided;
    if (!o.dryRun) {
      const retry = { deadline: Date.now() + (o.writeTimeoutMs ?? 30_000) };
      const nothing: WriteResult = { written: [], failed: [] };
      const [events, clicks] = await Promise.all([
        prepared.events.length
          ? putToFirehose(o.firehose, o.eventsDeliveryStream, prepared.events, retry)
          : nothing,
        prepared.clicks.length ? putToKinesis(o.kinesis, o.clicksStream, prepared.clicks, retry) : nothing,
      ]);
      const failures = [...events.failed, ...clicks.failed];
      if (failures.length > 0) {
        // Some went, some did not: the object stays whole, so the next run sends the rest (and the
        // sent ones again, which event_id dedup downstream absorbs).
        const f = failures[0] as (typeof failures)[number];
        summary.failed.push({
          key: q.key,
          error: `${failures.length} event(s) not stored (${f.errorCode}: ${f.errorMessage})`,
        });
        summary.delivered.events += events.written.length;
        summary.delivered.clicks += clicks.written.length;
        stayAll();
        continue;
      }
      summary.delivered.events += events.written.length;
      summary.delivered.clicks += clicks.written.length;
    }
    const moved = lines.filter((_, i) => (decided.eventAt[i] as number) >= 0);
    const stay = [...lines.filter((_, i) => (decided.eventAt[i] as number) < 0), ...decided.extra];
    for (const l of moved) addCount(summary.redriven, reasonOf(l.errors));
    for (const l of lines.filter((_, i) => (decided.eventAt[i] as number) < 0))
      addCount(summary.stayed, reasonOf(l.errors));
    if (!o.dryRun) await settleQuarantineObject(o.s3, o.bucket, q.key, moved, stay, o.startedAt);
  }
  return summary;
}
