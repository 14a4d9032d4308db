import { isServerError, isThrottlingError, isTransientError } from '@smithy/service-error-classification';
import type { SdkError } from '@smithy/types';
import {
  type BatchLimits,
  type BatchRecord,
  cutBatches,
  type WriteFailure,
  type WriteResult,
} from '../domain/batches';

export type { WriteFailure, WriteResult } from '../domain/batches';

/** How long and how often to retry, and the clock to do it with (injectable for tests). */
export interface RetryOptions {
  /** Epoch ms after which no call is started or waited for (e.g. Lambda's remaining time minus a margin). */
  deadline: number;
  /** Calls per record at most, the first included. Default 4. */
  maxAttempts?: number;
  /** Backoff base and cap in ms (full jitter: a random wait in [0, min(cap, base * 2^retry))). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** The per-record answer of one batch call, in the order of the batch. */
export type RecordOutcome = { ok: true } | { ok: false; errorCode: string; errorMessage: string };

/** Sends one batch; resolves with one outcome per record, or throws when the call as a whole failed. */
/** One entry of a PutRecordBatch / PutRecords answer: an id when stored, an error code when not. */
interface ResultEntry {
  ErrorCode?: string;
  ErrorMessage?: string;
}

/**
 * Turns a batch answer's per-record entries into outcomes, in order. A record with neither an error nor its
 * id (`stored`) counts as stored only when the whole call reported no failure.
 */
export function outcomesOf<E extends ResultEntry>(
  size: number,
  entries: readonly E[] | undefined,
  stored: (entry: E) => boolean,
  allOk: boolean,
  service: string,
): RecordOutcome[] {
  const outcomes: RecordOutcome[] = [];
  for (let i = 0; i < size; i++) {
    const entry = entries?.[i];
    if (entry?.ErrorCode) {
      outcomes.push({ ok: false, errorCode: entry.ErrorCode, errorMessage: entry.ErrorMessage ?? '' });
    } else if ((entry !== undefined && stored(entry)) || allOk) {
      outcomes.push({ ok: true });
    } else {
      outcomes.push({
        ok: false,
        errorCode: 'MissingResponse',
        errorMessage: `${service} returned no result for this record`,
      });
    }
  }
  return outcomes;
}

export type SendBatch<T> = (batch: T[], abortSignal: AbortSignal) => Promise<RecordOutcome[]>;

/**
 * True for a whole-call error worth retrying: throttling, a transient fault (a 500/502/503/504, a
 * timeout, a reset or refused connection) or another server error, as the SDK's own retry strategy
 * classifies them (@smithy/service-error-classification). An abort (the deadline) is final.
 */
export function isRetryableError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as SdkError;
  if (e.name === 'AbortError') return false;
  return isThrottlingError(e) || isTransientError(e) || isServerError(e);
}

/** Full-jitter backoff: a random wait in [0, min(cap, base * 2^(retry - 1))). */
export function backoffDelay(retry: number, baseMs: number, capMs: number, random: () => number): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** (retry - 1)));
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The one retry layer of the stream writes: the clients it sends with make a single attempt
 * (`maxAttempts: 1`, see lib/aws/clients.ts), so a batch is sent at most `maxAttempts` times in all,
 * whether its calls fail whole or record by record.
 *
 * Writes records in batches cut to the API's limits, retrying only the records that failed
 * (a per-record error, or every record of a call that failed as a whole with a retryable error)
 * with exponential backoff and full jitter, until all are written, the attempts run out or the
 * deadline is near. A record the service acknowledged is never sent again. Calls are aborted at
 * the deadline.
 */
export async function writeWithRetry<T extends BatchRecord>(
  records: readonly T[],
  limits: BatchLimits,
  send: SendBatch<T>,
  options: RetryOptions,
): Promise<WriteResult> {
  const maxAttempts = options.maxAttempts ?? 4;
  const baseDelayMs = options.baseDelayMs ?? 50;
  const maxDelayMs = options.maxDelayMs ?? 1_000;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;

  const written: number[] = [];
  const final: WriteFailure[] = [];
  let pending: T[] = [...records];
  let lastErrors = new Map<T, WriteFailure>();

  for (let attempt = 1; pending.length > 0; attempt++) {
    const retry: T[] = [];
    const errors = new Map<T, WriteFailure>();
    for (const batch of cutBatches(pending, limits)) {
      const remaining = options.deadline - now();
      if (remaining <= 0) {
        for (const record of batch) {
          retry.push(record);
          errors.set(
            record,
            lastErrors.get(record) ?? failure(record, 'DeadlineExceeded', 'no time left to send'),
          );
        }
        continue;
      }
      let outcomes: RecordOutcome[];
      try {
        outcomes = await send(batch, AbortSignal.timeout(remaining));
      } catch (error) {
        const { name, message } = error instanceof Error ? error : new Error(String(error));
        const retryable = isRetryableError(error);
        for (const record of batch) {
          const entry = failure(record, name, message);
          if (retryable) {
            retry.push(record);
            errors.set(record, entry);
          } else {
            final.push(entry);
          }
        }
        continue;
      }
      batch.forEach((record, i) => {
        const outcome = outcomes[i] ?? {
          ok: false,
          errorCode: 'MissingResponse',
          errorMessage: 'no result for this record',
        };
        if (outcome.ok) {
          written.push(record.index);
        } else {
          retry.push(record);
          errors.set(record, failure(record, outcome.errorCode, outcome.errorMessage));
        }
      });
    }
    pending = retry;
    lastErrors = errors;
    if (pending.length === 0 || attempt >= maxAttempts) break;
    const delay = backoffDelay(attempt, baseDelayMs, maxDelayMs, random);
    if (now() + delay >= options.deadline) break;
    await sleep(delay);
  }
  for (const record of pending) {
    final.push(lastErrors.get(record) ?? failure(record, 'DeadlineExceeded', 'no time left to send'));
  }
  final.sort((a, b) => a.index - b.index);
  written.sort((a, b) => a - b);
  return { written, failed: final };
}

function failure(record: BatchRecord, errorCode: string, errorMessage: string): WriteFailure {
  return { index: record.index, eventId: record.eventId, errorCode, errorMessage };
}
