import type { WriteResult } from './batches';
import type { PreparedRequest } from './collect';

/**
 * Collect's answer policy, with no I/O: from what was decided and what the streams and quarantine
 * did, the status, the body the client reads, and the per-type counts for the metrics.
 *
 * - 202 when every accepted event is stored and every rejected one is quarantined;
 * - 503 (with `retry-after`) listing in `failed` each event to send again: the ones the streams
 *   still refused after the retries, and, while quarantine cannot be written, the rejected ones
 *   too: a rejected event must be kept somewhere, so the client keeps it.
 */

/** An event the client should send again, as listed in a 503 answer. */
export interface FailedEvent {
  index: number;
  event_id?: string;
  reason: string;
}

export interface CollectAnswer {
  status: 202 | 503;
  headers: Record<string, string>;
  body: {
    accepted: number;
    rejected: {
      index: number;
      event_id?: string;
      line?: number;
      errors: PreparedRequest['rejected'][number]['errors'];
    }[];
    failed?: FailedEvent[];
    request_id: string;
    message?: string;
  };
  /** event_type of each event stored, rejected and failed (undefined when it had none), for the per-type metrics. */
  types: {
    accepted: (string | undefined)[];
    rejected: (string | undefined)[];
    failed: (string | undefined)[];
  };
  /** Error codes of the stream writes that failed, with their counts (for the log). */
  failureCodes: Record<string, number>;
}

/** What the streams and quarantine did with one prepared request. */
export interface Outcomes {
  events: WriteResult;
  clicks: WriteResult;
  /** Why quarantine could not be written (`Name: message`), or undefined when it was (or had nothing to write). */
  quarantineProblem?: string;
}

/** The answer to a request whose events were decided in `prepared` and written with `outcomes`. */
export function collectAnswer(
  prepared: PreparedRequest,
  outcomes: Outcomes,
  requestId: string,
): CollectAnswer {
  const typeOf = new Map<number, string>();
  for (const record of prepared.events) typeOf.set(record.index, record.eventType);
  for (const record of prepared.clicks) typeOf.set(record.index, record.eventType);
  const writeFailures = [...outcomes.events.failed, ...outcomes.clicks.failed].sort(
    (a, b) => a.index - b.index,
  );
  const written = [...outcomes.events.written, ...outcomes.clicks.written];
  const rejected = prepared.rejected.map(({ index, event_id, line, errors }) => ({
    index,
    event_id,
    line,
    errors,
  }));
  const failed: FailedEvent[] = writeFailures.map((f) => ({
    index: f.index,
    event_id: f.eventId,
    reason: `${f.errorCode}: ${f.errorMessage}`,
  }));
  const problem = outcomes.quarantineProblem;
  if (problem !== undefined) {
    for (const r of prepared.rejected) {
      failed.push({ index: r.index, event_id: r.event_id, reason: `could not be quarantined (${problem})` });
    }
    failed.sort((a, b) => a.index - b.index);
  }
  const failureCodes: Record<string, number> = {};
  for (const f of writeFailures) failureCodes[f.errorCode] = (failureCodes[f.errorCode] ?? 0) + 1;
  const types = {
    accepted: written.map((i) => typeOf.get(i)),
    rejected: prepared.rejected.map((r) => r.event_type),
    failed: writeFailures.map((f) => typeOf.get(f.index)),
  };
  const accepted = written.length;
  if (failed.length === 0) {
    return {
      status: 202,
      headers: {},
      body: { accepted, rejected, request_id: requestId },
      types,
      failureCodes,
    };
  }
  const message = `${failed.length} of ${prepared.eventCount} events could not be stored; send the events listed in "failed" again`;
  return {
    status: 503,
    headers: { 'retry-after': '1' },
    body: { accepted, rejected, failed, request_id: requestId, message },
    types,
    failureCodes,
  };
}

/**
 * The answer to a body that cannot be read as events (400, kept in quarantine), or 503 when the
 * quarantine write failed: the body must be kept somewhere, so the client sends it again.
 */
export function malformedBodyAnswer(
  message: string,
  quarantineProblem: string | undefined,
  requestId: string,
): { status: 400 | 503; headers: Record<string, string>; body: { message: string; request_id: string } } {
  if (quarantineProblem === undefined)
    return { status: 400, headers: {}, body: { message, request_id: requestId } };
  return {
    status: 503,
    headers: { 'retry-after': '1' },
    body: {
      message: `the request could not be recorded (${quarantineProblem}); send it again`,
      request_id: requestId,
    },
  };
}
