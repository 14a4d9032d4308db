import { randomUUID } from 'node:crypto';
import type { StreamRecord } from '../../../lib/domain/user-vectors';
import { encodeVector, normalize, VECTOR_DIMENSIONS } from '../../../lib/domain/vectors';

/**
 * The user vector computed the plain way, for tests to compare against: every history entry whose
 * article has a vector, weighted 2^-(age / half-life) with ages from the newest entry, summed and
 * L2-normalised. Independent of lib/domain/user-vectors.ts on purpose (no incremental sums, no slots).
 */
export function referenceVector(
  history: { articleId: string; occurredAt: string }[],
  articles: Map<string, Float32Array>,
  halfLifeMs: number,
): Float32Array {
  const newest = Math.max(...history.map((h) => Date.parse(h.occurredAt)));
  const sum = new Array<number>(VECTOR_DIMENSIONS).fill(0);
  for (const h of history) {
    const vector = articles.get(h.articleId);
    if (!vector) continue;
    const weight = 0.5 ** ((newest - Date.parse(h.occurredAt)) / halfLifeMs);
    for (let d = 0; d < VECTOR_DIMENSIONS; d++) sum[d] = (sum[d] as number) + weight * (vector[d] as number);
  }
  const length = Math.hypot(...sum);
  return Float32Array.from(sum, (x) => (length === 0 ? 0 : x / length));
}

/** A random unit vector from a seed (a small LCG, so tests are repeatable). */
export function unitVector(seed: number): Float32Array {
  let s = seed * 2654435761;
  return normalize(
    Float32Array.from({ length: VECTOR_DIMENSIONS }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 32 - 0.5;
    }),
  );
}

/** Article vectors as stored (encoded) and as numbers, for ids art_0 .. art_{n-1}. */
export function articleSet(n: number) {
  const vectors = new Map<string, Float32Array>();
  const stored = new Map<string, Uint8Array>();
  for (let i = 0; i < n; i++) {
    const v = unitVector(i + 1);
    vectors.set(`art_${i}`, v);
    stored.set(`art_${i}`, encodeVector(v));
  }
  return { vectors, stored };
}

let sequence = 10_000_000_000_000_000_000n;

/** A click record as collect writes it to the stream, with the next sequence number of its shard. */
export function clickRecord(
  userId: string,
  articleId: string,
  occurredAt: string,
  options: { eventId?: string; shardId?: string; sequenceNumber?: string } = {},
): StreamRecord & { eventId: string } {
  const eventId = options.eventId ?? randomUUID();
  const event = {
    event_id: eventId,
    event_type: 'click',
    schema_version: 1,
    user_id: userId,
    occurred_at: occurredAt,
    article_id: articleId,
    tab: 'top',
    position: 0,
    platform: 'ios',
    app_version: '5.12.0',
    received_at: occurredAt,
    request_id: 'req-1',
  };
  sequence += 17n;
  return {
    eventId,
    data: Buffer.from(`${JSON.stringify(event)}\n`).toString('base64'),
    sequenceNumber: options.sequenceNumber ?? sequence.toString(),
    shardId: options.shardId ?? 'shardId-000000000000',
  };
}

/** An ISO time `minutes` after a fixed start. */
export const at = (minutes: number) => new Date(Date.UTC(2026, 11, 1) + minutes * 60_000).toISOString();
