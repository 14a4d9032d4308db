import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { SendStats, SendSummary } from '../traffic/stats';
import type { Envelope, Item } from './batches';

const gzipAsync = promisify(gzip);

/** Counts so far, for progress displays. */
export interface SendProgress {
  /** Records with a final outcome: accepted, rejected or failed. */
  done: number;
  sent: number;
  accepted: number;
  rejected: number;
  failed: number;
  total: number | undefined;
  elapsedMs: number;
}

/** Callbacks of a send run; all optional. */
export interface SendReporter {
  /** Before the first request; `total` is the number of records to send when known. */
  start?(info: { url: string; total: number | undefined }): void;
  /** After every answered (or failed) request. */
  progress?(progress: SendProgress): void;
  /** Skipped input lines, retries and other things worth a line on stderr. */
  warn?(message: string): void;
}

/** Resending after a 503 or a network error: attempts per record (first included) and backoff. */
export interface ResendOptions {
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** How `postBatches` talks to the API. */
export interface PostOptions {
  /** Full URL of the route. */
  url: string;
  apiKey: string;
  /** The body's shape: `{"events":[...]}`, `{"articles":[...]}`. */
  envelope: Envelope;
  /** Send gzip bodies (Content-Encoding: gzip). */
  gzip?: boolean;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Time allowed for one request (default 30 s). */
  requestTimeoutMs?: number;
  retry?: ResendOptions;
  /** Aborting stops taking new batches; requests in flight finish and are counted. */
  signal?: AbortSignal;
  /** True when the records were generated with known defects: the summary says whether the server agreed. */
  generated?: boolean;
  /** The number of records to send, when known (progress). */
  total: number | undefined;
  /** Counts of the run; the batch source counts its skipped lines into the same object. */
  stats: SendStats;
  /** The user-agent header. */
  userAgent?: string;
  /** performance.now() when the run started (default: when postBatches is called). */
  startedAt?: number;
}

/** The API's answer body (202 or 503), read defensively. */
interface BatchAnswer {
  message?: string;
  accepted?: number;
  rejected?: { index?: number; errors?: { path?: string; message?: string }[] }[];
  failed?: { index?: number; reason?: string }[];
}

function retryAfterMs(header: string | null): number {
  const seconds = Number(header);
  return header !== null && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 0;
}

function describeNetworkError(error: unknown): string {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'request timed out';
  const cause = e.cause;
  if (cause?.code !== undefined) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return e.message;
}

function firstError(rejection: NonNullable<BatchAnswer['rejected']>[number]): string {
  const error = rejection.errors?.[0];
  if (error === undefined) return 'rejected (no reason given)';
  return error.path ? `${error.path}: ${error.message}` : String(error.message);
}

/**
 * Posts batches of records to one of logbase's batch routes (collect's answer shape: 202 with
 * `accepted` and `rejected`, 503 adding `failed`) with `concurrency` requests in flight and the
 * API key. A 503 resends only the records listed in its `failed` (whole batch when there is no
 * list), as do 429/500/502/504 and network errors, with exponential backoff and jitter,
 * honouring Retry-After. Any other refusal (400, 401, 413, 415, ...) stops the run with the
 * server's message. Resolves with the summary; never throws for what the server says.
 */
export async function postBatches(
  source: AsyncGenerator<Item[]>,
  options: PostOptions,
  reporter: SendReporter = {},
): Promise<SendSummary> {
  const { url, envelope, stats, total } = options;
  const concurrency = options.concurrency ?? 4;
  const maxAttempts = options.retry?.maxAttempts ?? 6;
  const baseDelayMs = options.retry?.baseDelayMs ?? 250;
  const maxDelayMs = options.retry?.maxDelayMs ?? 8000;
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const generated = options.generated === true;

  const started = options.startedAt ?? performance.now();
  const elapsed = () => performance.now() - started;
  const warn = (message: string) => reporter.warn?.(message);
  let stoppedBy: string | undefined;
  const stop = (reason: string) => {
    stoppedBy ??= reason;
  };

  const report = () =>
    reporter.progress?.({
      done: stats.accepted + stats.rejected + stats.failed,
      sent: stats.sent,
      accepted: stats.accepted,
      rejected: stats.rejected,
      failed: stats.failed,
      total,
      elapsedMs: elapsed(),
    });

  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-api-key': options.apiKey,
    'user-agent': options.userAgent ?? 'logbase-send',
  };
  if (options.gzip) headers['content-encoding'] = 'gzip';

  const backoff = (attempt: number, retryAfter: number) =>
    Math.min(maxDelayMs, Math.max(retryAfter, Math.random() * baseDelayMs * 2 ** (attempt - 1)));

  /** Counts the answer for `items`, leaving out the indexes (into items) the server could not store. */
  const account = (items: Item[], answer: BatchAnswer, failedIndexes: Set<number>) => {
    const rejectedIndexes = new Set<number>();
    for (const r of answer.rejected ?? []) {
      if (typeof r.index !== 'number' || failedIndexes.has(r.index)) continue;
      rejectedIndexes.add(r.index);
      stats.reject(firstError(r));
      if (generated && items[r.index] !== undefined && items[r.index]?.defect === undefined)
        stats.validRejected += 1;
    }
    stats.accepted +=
      typeof answer.accepted === 'number'
        ? answer.accepted
        : items.length - rejectedIndexes.size - failedIndexes.size;
    if (generated) {
      items.forEach((item, i) => {
        if (item.defect !== undefined && !rejectedIndexes.has(i) && !failedIndexes.has(i))
          stats.invalidAccepted += 1;
      });
    }
  };

  const sendBatch = async (batch: Item[]) => {
    let pending = batch;
    stats.sent += batch.length;
    // Counted when sent, so a run stopped early compares only what the server saw.
    for (const item of batch) if (item.defect !== undefined) stats.invalidGenerated += 1;
    for (let attempt = 1; ; attempt++) {
      const text = envelope.body(pending);
      const body = options.gzip ? await gzipAsync(text) : text;
      const t0 = performance.now();
      let status: number;
      let answer: BatchAnswer = {};
      let retryAfter = 0;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        const raw = await response.text();
        status = response.status;
        retryAfter = retryAfterMs(response.headers.get('retry-after'));
        try {
          answer = JSON.parse(raw) as BatchAnswer;
        } catch {
          answer = { message: raw.slice(0, 300) || response.statusText };
        }
        stats.request(status, performance.now() - t0);
      } catch (error) {
        stats.request('network', performance.now() - t0);
        const problem = describeNetworkError(error);
        if (attempt >= maxAttempts) {
          stats.failed += pending.length;
          stop(`cannot reach ${url}: ${problem} after ${attempt} attempts (is the server running?)`);
          return;
        }
        warn(
          `request failed (${problem}); resending ${pending.length} ${envelope.key} (attempt ${attempt + 1}/${maxAttempts})`,
        );
        stats.resent += pending.length;
        await sleep(backoff(attempt, 0));
        continue;
      }

      if (status >= 200 && status < 300) {
        account(pending, answer, new Set());
        return;
      }
      if (status === 503 || status === 429 || status === 500 || status === 502 || status === 504) {
        const listed = status === 503 && Array.isArray(answer.failed);
        const failedIndexes = new Set(
          listed
            ? (answer.failed ?? []).map((f) => f.index).filter((i): i is number => typeof i === 'number')
            : pending.keys(),
        );
        if (listed) account(pending, answer, failedIndexes);
        const again = pending.filter((_, i) => failedIndexes.has(i));
        if (again.length === 0) return;
        if (attempt >= maxAttempts) {
          stats.failed += again.length;
          warn(
            `gave up on ${again.length} ${envelope.key} after ${attempt} attempts (HTTP ${status}: ${answer.message ?? ''})`,
          );
          return;
        }
        stats.resent += again.length;
        pending = again;
        await sleep(backoff(attempt, retryAfter));
        continue;
      }
      stats.failed += pending.length;
      stop(`HTTP ${status}: ${answer.message ?? 'no message'}`);
      return;
    }
  };

  const worker = async () => {
    while (stoppedBy === undefined && options.signal?.aborted !== true) {
      let next: IteratorResult<Item[]>;
      try {
        next = await source.next();
      } catch (error) {
        stop(error instanceof Error ? error.message : String(error));
        return;
      }
      if (next.done || options.signal?.aborted) return;
      await sendBatch(next.value);
      report();
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await source.return(undefined);
  }
  if (options.signal?.aborted) stop('interrupted');
  return stats.summary(elapsed(), { generated, ...(stoppedBy === undefined ? {} : { stoppedBy }) });
}

/** A `pace` function for batch sources: waits `reserve(records)` ms of a token bucket, if any. */
export function pacer(
  reserve: ((records: number) => number) | undefined,
  signal?: AbortSignal,
): (records: number) => Promise<void> {
  return async (records: number) => {
    const wait = reserve?.(records) ?? 0;
    if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => undefined);
  };
}
