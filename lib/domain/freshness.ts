import { manifestKey } from './format/records';

/**
 * Pipeline freshness, pure: how far behind the formatter and the user vectors are. The inputs are
 * listings and timestamps (lib/aws/freshness.ts gathers them); nothing here talks to AWS.
 */

/** The raw prefixes the formatter subscribes to (serverless.yml, formatParquet's S3 events). */
export const FORMATTED_RAW_PREFIXES = ['raw/events/', 'raw/clicks/'] as const;

/** One listed S3 object. */
export interface ListedObject {
  key: string;
  lastModified: Date;
  size?: number;
}

/** The raw objects the formatter has not written a manifest for yet. */
export interface RawBacklog {
  /** Raw objects under raw/events/ and raw/clicks/ with no `lake/_manifests/<path>.json`. */
  count: number;
  /** The oldest of them (by LastModified), or null: every raw object is formatted. */
  oldest: { key: string; lastModified: string; ageSeconds: number } | null;
}

/** Whole seconds from `from` to `now`, never negative (a clock a little ahead of S3's gives 0). */
export function ageSeconds(from: Date, now: Date): number {
  return Math.max(0, Math.floor((now.getTime() - from.getTime()) / 1000));
}

/**
 * The raw objects with no formatter manifest: a raw object becomes formatted when its manifest is
 * written (the last thing the formatter does, also for an object that only held faults), so one
 * without a manifest is waiting, being formatted, or failed (then it sits on the on-failure queue).
 */
export function rawBacklog(
  raw: readonly ListedObject[],
  manifestKeys: Iterable<string>,
  now: Date,
): RawBacklog {
  const manifests = new Set(manifestKeys);
  let count = 0;
  let oldest: ListedObject | undefined;
  for (const object of raw) {
    if (!FORMATTED_RAW_PREFIXES.some((p) => object.key.startsWith(p))) continue;
    if (manifests.has(manifestKey(object.key))) continue;
    count += 1;
    if (!oldest || object.lastModified < oldest.lastModified) oldest = object;
  }
  return {
    count,
    oldest: oldest
      ? {
          key: oldest.key,
          lastModified: oldest.lastModified.toISOString(),
          ageSeconds: ageSeconds(oldest.lastModified, now),
        }
      : null,
  };
}

/** What one shard of the clicks stream holds beyond what update-user-vectors has applied. */
export interface ShardBacklog {
  shardId: string;
  /** Records after the consumer's position (counted up to the reader's limit). */
  waiting: number;
  /** True when the reader stopped at its limit: `waiting` is a lower bound. */
  more: boolean;
  /** ApproximateArrivalTimestamp of the oldest waiting record. */
  oldestWaitingArrival?: Date;
}

/**
 * The user-vector lag, defined as Lambda's IteratorAge is: the age of the oldest click on the
 * stream that update-user-vectors has not applied yet, 0 when it has applied everything.
 * `source` says where the figure comes from: the stream read from the consumer's checkpoint (the
 * local stack), or CloudWatch's IteratorAge (a deployed stage, the Maximum over the last minutes).
 */
export interface UserVectorLag {
  source: 'stream' | 'iterator_age';
  lagSeconds: number | null;
  /** Clicks waiting (stream source only; a lower bound when `more`). */
  waiting?: number;
  more?: boolean;
}

/** The lag from per-shard backlogs: the oldest waiting click's age over all shards. */
export function streamLag(shards: readonly ShardBacklog[], now: Date): UserVectorLag {
  let oldest: Date | undefined;
  for (const shard of shards) {
    const at = shard.oldestWaitingArrival;
    if (at && (!oldest || at < oldest)) oldest = at;
  }
  return {
    source: 'stream',
    lagSeconds: oldest ? ageSeconds(oldest, now) : 0,
    waiting: shards.reduce((sum, s) => sum + s.waiting, 0),
    more: shards.some((s) => s.more),
  };
}

/** The lag from CloudWatch's IteratorAge datapoints (milliseconds): their maximum; null when there are none. */
export function iteratorAgeLag(datapointsMs: readonly number[]): UserVectorLag {
  return {
    source: 'iterator_age',
    lagSeconds: datapointsMs.length ? Math.round(Math.max(...datapointsMs) / 1000) : null,
  };
}
