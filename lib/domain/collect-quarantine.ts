import { isUtf8 } from 'node:buffer';
import type { FieldError } from '../schemas';
import type { Rejection } from './collect';

/** Where a request came from, as kept with everything quarantined from it. */
export interface RequestSource {
  ip: string | null;
  user_agent: string | null;
}

/** The request a quarantined line belongs to. */
export interface QuarantineContext {
  requestId: string;
  receivedAt: Date;
  source: RequestSource;
}

/** One line of a collect quarantine object. `index` and `event_id` are null for a whole-body rejection. */
export interface QuarantineLine {
  request_id: string;
  received_at: string;
  index: number | null;
  event_id: string | null;
  line?: number;
  errors: FieldError[];
  raw: string;
  raw_encoding: 'utf8' | 'base64';
  source: RequestSource;
}

/**
 * The S3 key of one request's quarantine object, partitioned by the UTC hour it was received:
 * quarantine/collect/dt=YYYY-MM-DD/hour=HH/<requestId>.jsonl.gz. One object per request, so a
 * retried write overwrites instead of duplicating.
 */
export function quarantineKey(requestId: string, receivedAt: Date): string {
  const iso = receivedAt.toISOString();
  const safeId = requestId.replace(/[^A-Za-z0-9._=-]/g, '_');
  return `quarantine/collect/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/${safeId}.jsonl.gz`;
}

/** One quarantine line per rejected event, with its raw text and every reason. */
export function rejectionLines(
  rejections: readonly Rejection[],
  context: QuarantineContext,
): QuarantineLine[] {
  const received_at = context.receivedAt.toISOString();
  return rejections.map((r) => {
    const line: QuarantineLine = {
      request_id: context.requestId,
      received_at,
      index: r.index,
      event_id: r.event_id ?? null,
      errors: r.errors,
      raw: r.raw,
      raw_encoding: 'utf8',
      source: context.source,
    };
    if (r.line !== undefined) line.line = r.line;
    return line;
  });
}

/** The quarantine line of a body rejected as a whole: its bytes (base64 unless valid UTF-8) and the reason. */
export function malformedBodyLine(body: Buffer, reason: string, context: QuarantineContext): QuarantineLine {
  const utf8 = isUtf8(body);
  return {
    request_id: context.requestId,
    received_at: context.receivedAt.toISOString(),
    index: null,
    event_id: null,
    errors: [{ path: '', message: reason }],
    raw: utf8 ? body.toString('utf8') : body.toString('base64'),
    raw_encoding: utf8 ? 'utf8' : 'base64',
    source: context.source,
  };
}

/** Lines as JSON lines text (one object per line, newline-terminated). */
export function toJsonLines(lines: readonly QuarantineLine[]): string {
  return lines.map((l) => `${JSON.stringify(l)}\n`).join('');
}
