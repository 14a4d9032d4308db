import { createWriteStream, existsSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { DefectKind } from '../traffic/defects';
import { steadyClock, TrafficGenerator, type TrafficOptions } from '../traffic/generator';
import { TokenBucket } from '../traffic/pacer';
import { SendStats, type SendSummary } from '../traffic/stats';
import { type BatchSettings, countLines, Envelope, fileBatches, type Item } from './batches';
import { eventsUrl, SendSetupError } from './endpoint';
import { pacer, postBatches, type ResendOptions, type SendReporter } from './poster';

/** Collect's default decoded body limit (serverless.yml params.default.collectMaxBytes). */
export const DEFAULT_MAX_BODY_BYTES = 1_048_576;

/** The body of POST /v1/events. */
export const EVENTS_ENVELOPE = new Envelope('events');

/** Where the events come from: a JSON-lines file (optionally .gz), or the traffic generator. */
export type SendInput = { file: string; strict?: boolean } | { generate: number; traffic?: TrafficOptions };

/** Everything `sendEvents` needs; only endpoint, apiKey and input are required. */
export interface SendOptions {
  /** Full URL of the events route, e.g. http://127.0.0.1:3000/v1/events (see `eventsUrl`). */
  endpoint: string;
  apiKey: string;
  input: SendInput;
  /** Events per request (default 500, collect's limit). */
  batchSize?: number;
  /** Send gzip bodies (Content-Encoding: gzip). */
  gzip?: boolean;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Events per second at most (token bucket); unlimited when undefined. */
  rate?: number;
  /** Largest request body before gzip; batches are cut to stay under it (default 1 MiB). */
  maxBodyBytes?: number;
  /** Time allowed for one request (default 30 s). */
  requestTimeoutMs?: number;
  /** Resending after a 503 or a network error: attempts per event (first included) and backoff. */
  retry?: ResendOptions;
  /** Aborting stops taking new batches; requests in flight finish and are counted. */
  signal?: AbortSignal;
}

/**
 * Generated events in batches. A duplicate (a client retry of the event just before it) is kept
 * in the same request as its original, so collect sees the pair and drops the copy.
 */
async function* generatedBatches(
  count: number,
  traffic: TrafficOptions,
  s: BatchSettings,
): AsyncGenerator<Item[]> {
  const generator = new TrafficGenerator(traffic);
  const toItem = (g: { event: unknown; defect?: DefectKind }): Item =>
    g.defect === undefined
      ? { json: JSON.stringify(g.event) }
      : { json: JSON.stringify(g.event), defect: g.defect };
  let made = 0;
  let carry: Item[] = [];
  while (made < count || carry.length > 0) {
    const want = Math.max(0, Math.min(s.batchSize - carry.length, count - made));
    await s.pace(want);
    const batch = carry;
    carry = [];
    let bytes = s.envelope.bytes(batch);
    for (let i = 0; i < want; i++) {
      const item = toItem(generator.next());
      made += 1;
      const size = Buffer.byteLength(item.json) + 1;
      if (bytes + size > s.maxBodyBytes && batch.length > 0) {
        if (item.defect === 'duplicate_event_id' && batch.length > 1) carry.push(batch.pop() as Item);
        carry.push(item);
        break;
      }
      batch.push(item);
      bytes += size;
    }
    // Full batch: peek at the next event; a duplicate pulls its original into the next batch.
    if (carry.length === 0 && made < count && batch.length === s.batchSize) {
      const next = toItem(generator.next());
      made += 1;
      if (next.defect === 'duplicate_event_id' && batch.length > 1) carry.push(batch.pop() as Item);
      carry.push(next);
    }
    if (batch.length > 0) yield batch;
  }
}

/**
 * Sends events to collect in `{"events": [...]}` batches (gzip optional) with `concurrency`
 * requests in flight, paced to `rate`, through `postBatches` (which see for retries). Resolves
 * with the summary; never throws for what the server says, only for bad setup (SendSetupError).
 */
export async function sendEvents(options: SendOptions, reporter: SendReporter = {}): Promise<SendSummary> {
  const url = eventsUrl(options.endpoint);
  const batchSize = options.batchSize ?? 500;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const input = options.input;
  const generated = 'generate' in input;
  if ('file' in input && !existsSync(input.file))
    throw new SendSetupError(`input file ${input.file} does not exist`);

  const stats = new SendStats();
  const startedAt = performance.now();
  const bucket =
    options.rate === undefined
      ? undefined
      : new TokenBucket(options.rate, Math.max(1, Math.min(batchSize, options.rate)));
  const settings: BatchSettings = {
    envelope: EVENTS_ENVELOPE,
    batchSize,
    maxBodyBytes,
    pace: pacer(bucket && ((n) => bucket.reserve(n)), options.signal),
    warn: (message) => reporter.warn?.(message),
    stats,
  };
  const total = generated ? input.generate : await countLines(input.file);
  reporter.start?.({ url, total });
  const source =
    'file' in input
      ? fileBatches(input.file, input.strict === true, settings)
      : generatedBatches(input.generate, input.traffic ?? {}, settings);
  return postBatches(
    source,
    {
      url,
      apiKey: options.apiKey,
      envelope: EVENTS_ENVELOPE,
      stats,
      total,
      generated,
      startedAt,
      ...(options.gzip === undefined ? {} : { gzip: options.gzip }),
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    },
    reporter,
  );
}

/**
 * The exit code of a send run: 1 when it stopped early or records could not be stored; 2 when a
 * file's records were rejected or its lines skipped, or when generated traffic was judged
 * differently than generated (a valid event rejected, a broken one accepted); else 0.
 */
export function exitCodeOf(summary: SendSummary, generated: boolean): number {
  if (summary.stoppedBy !== undefined || summary.failed > 0) return 1;
  if (generated) {
    const e = summary.expectation;
    return e !== undefined && (e.validRejected > 0 || e.invalidAccepted > 0) ? 2 : 0;
  }
  return summary.rejected > 0 || summary.skipped > 0 ? 2 : 0;
}

/**
 * Writes `count` generated events as JSON lines (gzip when the path ends in .gz). Timestamps are
 * spread at `eventsPerSecond`, ending now. Resolves with how many were broken on purpose, per kind.
 */
export async function writeGenerated(
  path: string,
  count: number,
  traffic: TrafficOptions,
  eventsPerSecond: number,
): Promise<Partial<Record<DefectKind, number>>> {
  const start = Date.now() - (count * 1000) / eventsPerSecond;
  const generator = new TrafficGenerator({ ...traffic, clock: steadyClock(start, eventsPerSecond) });
  const defects: Partial<Record<DefectKind, number>> = {};
  await writeJsonLines(
    path,
    (function* () {
      for (let i = 0; i < count; i++) {
        const g = generator.next();
        if (g.defect !== undefined) defects[g.defect] = (defects[g.defect] ?? 0) + 1;
        yield g.event;
      }
    })(),
  );
  return defects;
}

/** Writes values as JSON lines to `path` (gzip when it ends in .gz), waiting for drains; resolves when flushed. */
export async function writeJsonLines(path: string, values: Iterable<unknown>): Promise<void> {
  const file = createWriteStream(path);
  const out: Writable = path.endsWith('.gz') ? createGzip() : file;
  if (out !== file) out.pipe(file);
  const finished = new Promise<void>((resolveDone, reject) => {
    file.on('finish', resolveDone).on('error', reject);
    out.on('error', reject);
  });
  for (const value of values) {
    if (!out.write(`${JSON.stringify(value)}\n`)) await new Promise((r) => out.once('drain', r));
  }
  out.end();
  await finished;
}
