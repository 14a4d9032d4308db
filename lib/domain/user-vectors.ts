import { dateTimeMillis } from '../schemas/formats';
import {
  COUNTED,
  entryArticleId,
  HistoryFormatError,
  hashEventId,
  hashEventIdBytes,
  hashKey,
  type NewEntry,
  type PackedHistory,
  readHistory,
  type Watermark,
  writeHistory,
} from './user-history';
import { VECTOR_DIMENSIONS as IMPORTED_DIMENSIONS, VECTOR_BYTES as IMPORTED_VECTOR_BYTES } from './vectors';

// Module-level copies: hot loops read a local constant, not an imported binding (a getter under some loaders).
const VECTOR_DIMENSIONS = IMPORTED_DIMENSIONS;
const VECTOR_BYTES = IMPORTED_VECTOR_BYTES;

/**
 * One batch of the clicks stream applied to the users' vectors (update-user-vectors), with no AWS import:
 * decode, group by user in stream order, read the users and the articles the batch needs, push each new
 * click onto its user's history, trim, update the vector, and write each changed user once, conditionally.
 *
 * The vector is the time-decayed weighted mean of the history's article vectors, L2-normalised: weight
 * 2^-(age / half-life). Normalising removes any common factor, so ages can be taken from any instant; they
 * are taken from the history's newest click (`anchor_ms`), and the item keeps the unnormalised sum as its
 * direction (`vector`) and length (`norm`). A batch then touches only what changes: the sum is rescaled to
 * the new anchor, trimmed entries are subtracted and new ones added (incremental sums), instead of summing
 * the whole history again.
 */

// ---------------------------------------------------------------- the store

/** A UserVectors item, as the function reads and writes it (attribute names in docs/ARCHITECTURE.md). */
export interface StoredUser {
  userId: string;
  /** Incremented by every write; a write is conditional on the version it read. */
  version: number;
  /** 128 float32 LE, L2-normalised (lib/domain/vectors.ts); all zeros while no click has a vector. */
  vector: Uint8Array;
  /** The packed click history (lib/domain/user-history.ts). */
  history: Uint8Array;
  historyLength: number;
  /** Entries of the history whose article had no vector yet when last computed. */
  pending: number;
  /** ISO-8601 time of the write. */
  updatedAt: string;
}

/** Storage of user and article vectors. */
export interface UserVectorStore {
  /** The current items of these users (strongly consistent reads); a user with no item is left out. */
  getUsers(userIds: readonly string[]): Promise<Map<string, StoredUser>>;
  /** The `vector` attribute of these articles; an article with no item (or no vector) is left out. */
  getArticleVectors(articleIds: readonly string[]): Promise<Map<string, Uint8Array>>;
  /**
   * Writes a user's item when its stored version is still `expectedVersion` (`undefined`: when the user
   * has no item yet). Resolves false when it is not (another writer got there first); throws when the
   * write failed.
   */
  putUser(item: StoredUser, expectedVersion: number | undefined): Promise<boolean>;
}

/** One Kinesis record, as the handler passes it on. */
export interface StreamRecord {
  /** Base64 record data: one click event as collect writes it (a JSON line). */
  data: string;
  sequenceNumber: string;
  shardId: string;
}

export interface UserVectorOptions {
  /** Clicks kept per user (N). */
  historyLength: number;
  /** Half-life of a click's weight, in ms. */
  halfLifeMs: number;
  /** Conditional writes in flight at once. */
  writeConcurrency: number;
  /** Times a lost race is re-read and applied again before the user's records fail. */
  maxRaceRetries: number;
  /** Watermarks kept per user (one per shard its clicks came from; more only after resharding). */
  maxWatermarks?: number;
  /** The time written as `updated_at`. */
  now: () => Date;
}

export const DEFAULT_OPTIONS: Omit<UserVectorOptions, 'now'> = {
  historyLength: 50,
  halfLifeMs: 24 * 3600 * 1000,
  writeConcurrency: 32,
  maxRaceRetries: 5,
};

/** A record that can never be applied (not a click event as collect writes them). */
export class PoisonRecordError extends Error {
  override name = 'PoisonRecordError';
  constructor(
    message: string,
    readonly sequenceNumber: string,
  ) {
    super(message);
  }
}

/** A user's write failed (or kept losing races): every record of that user in the batch fails with it. */
export class UserWriteError extends Error {
  override name = 'UserWriteError';
  constructor(
    message: string,
    readonly userId: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

/** Counts of one batch; records = applied + duplicates + redelivered + failed. */
export interface BatchStats {
  records: number;
  /** Clicks pushed onto a history. */
  applied: number;
  /** Clicks whose event id was already in the user's history (or earlier in the batch). */
  duplicates: number;
  /** Records at or below the user's watermark for their shard: a retried, bisected or replayed record. */
  redelivered: number;
  poison: number;
  /** Records of users whose write failed. */
  failed: number;
  usersInBatch: number;
  usersWritten: number;
  /** Conditional writes lost to another writer (each re-read and applied again). */
  races: number;
  /** New clicks on an article with no vector yet (kept in the history, counted once it has one). */
  clicksWithoutVector: number;
  /** Earlier such clicks whose article now has a vector, counted in this batch. */
  pendingCounted: number;
  /** Distinct articles read. */
  articlesRead: number;
}

export interface BatchResult {
  /** Record index -> why it failed (PoisonRecordError, UserWriteError). */
  failures: Map<number, Error>;
  stats: BatchStats;
}

interface Click {
  index: number;
  userId: string;
  hashHi: number;
  hashLo: number;
  occurredMs: number;
  slot: number;
  shardId: string;
  sequenceNumber: string;
}

interface UserClicks {
  userId: string;
  clicks: Click[];
}

// Vectors are copied between their stored form (float32 little-endian) and Float32Arrays byte for byte.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1)
  throw new Error('update-user-vectors needs a little-endian machine');
const hash = new Uint32Array(2);

/** Articles of the batch, each with a dense integer slot; their vectors live at slot * 128. */
class ArticleSlots {
  private readonly slotOf = new Map<string, number>();
  readonly ids: string[] = [];
  readonly utf8: Uint8Array[] = [];
  vectors = new Float32Array(0);
  has = new Uint8Array(0);
  private fetched = 0;

  slot(articleId: string): number {
    let slot = this.slotOf.get(articleId);
    if (slot === undefined) {
      slot = this.ids.length;
      this.slotOf.set(articleId, slot);
      this.ids.push(articleId);
      this.utf8.push(Buffer.from(articleId, 'utf8'));
    }
    return slot;
  }

  /** Reads the vectors of every slot not read yet. */
  async fetch(store: UserVectorStore): Promise<void> {
    if (this.fetched === this.ids.length) return;
    const wanted = this.ids.slice(this.fetched);
    const found = await store.getArticleVectors(wanted);
    if (this.vectors.length < this.ids.length * VECTOR_DIMENSIONS) {
      const vectors = new Float32Array(this.ids.length * VECTOR_DIMENSIONS);
      vectors.set(this.vectors);
      this.vectors = vectors;
      const has = new Uint8Array(this.ids.length);
      has.set(this.has);
      this.has = has;
    }
    const bytes = new Uint8Array(this.vectors.buffer);
    for (let slot = this.fetched; slot < this.ids.length; slot++) {
      const vector = found.get(this.ids[slot] as string);
      if (vector === undefined || vector.byteLength !== VECTOR_BYTES) continue;
      bytes.set(vector, slot * VECTOR_BYTES);
      this.has[slot] = 1;
    }
    this.fetched = this.ids.length;
  }
}

const isString = (v: unknown, max: number): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max;

/**
 * A click as collect stores it when the client wrote it as `JSON.stringify` does, fields in the schema's
 * order (what `logbase send` and the generator do), is read from its bytes without parsing: the fixed
 * parts are compared byte for byte and each value runs to its closing quote (a JSON string without a
 * backslash is its own value); the ids are decoded as UTF-8 from their byte ranges. Anything else is
 * parsed with JSON.parse.
 */
const HEAD = Buffer.from('{"event_id":"');
const AFTER_EVENT_ID = Buffer.from('","event_type":"click","schema_version":1,"user_id":"');
const AFTER_USER_ID = Buffer.from('","occurred_at":"');
const AFTER_OCCURRED_AT = Buffer.from('","article_id":"');

/** The fields of one click, read by readClick; the event id's hash goes to `hash`. */
const fields = { userId: '', articleId: '', occurredAt: '' };

/** True when `bytes` holds `part` at `at`. */
function holds(bytes: Buffer, at: number, part: Buffer): boolean {
  if (at + part.length > bytes.length) return false;
  for (let i = 0; i < part.length; i++) if (bytes[at + i] !== part[i]) return false;
  return true;
}

/** Where the JSON string value starting at `at` ends (its closing quote), or -1: a backslash, or longer than `max` bytes. */
function valueEnd(bytes: Buffer, at: number, end: number, max: number): number {
  const limit = Math.min(end, at + max + 1);
  for (let i = at; i < limit; i++) {
    const c = bytes[i] as number;
    if (c === 34) return i > at ? i : -1;
    if (c === 92) return -1;
  }
  return -1;
}

/** Reads the click in bytes [0, length) of `bytes` into `fields` and `hash`, or answers why it is not one. */
function readClick(bytes: Buffer, length: number): string | undefined {
  if (length > 2 && bytes[length - 2] === 125 && bytes[length - 1] === 10 && holds(bytes, 0, HEAD)) {
    const eventStart = HEAD.length;
    const eventEnd = valueEnd(bytes, eventStart, length, 128);
    const userStart = eventEnd + AFTER_EVENT_ID.length;
    const userEnd =
      eventEnd > 0 && holds(bytes, eventEnd, AFTER_EVENT_ID) ? valueEnd(bytes, userStart, length, 128) : -1;
    const timeStart = userEnd + AFTER_USER_ID.length;
    const timeEnd =
      userEnd > 0 && holds(bytes, userEnd, AFTER_USER_ID) ? valueEnd(bytes, timeStart, length, 40) : -1;
    const articleStart = timeEnd + AFTER_OCCURRED_AT.length;
    const articleEnd =
      timeEnd > 0 && holds(bytes, timeEnd, AFTER_OCCURRED_AT)
        ? valueEnd(bytes, articleStart, length, 128)
        : -1;
    if (articleEnd > 0 && bytes[articleEnd + 1] === 44) {
      hashEventIdBytes(bytes, eventStart, eventEnd, hash);
      fields.userId = bytes.toString('utf8', userStart, userEnd);
      fields.occurredAt = bytes.toString('latin1', timeStart, timeEnd);
      fields.articleId = bytes.toString('utf8', articleStart, articleEnd);
      return undefined;
    }
  }
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(bytes.toString('utf8', 0, length));
  } catch (error) {
    return `record data is not JSON: ${(error as Error).message}`;
  }
  if (event === null || typeof event !== 'object' || Array.isArray(event))
    return 'record data is not a JSON object';
  if (event.event_type !== 'click') return `event_type is ${JSON.stringify(event.event_type)}, not "click"`;
  const { event_id: eventId, user_id: userId, article_id: articleId, occurred_at: occurredAt } = event;
  if (!isString(eventId, 128)) return 'event_id is missing or not a string';
  if (!isString(userId, 128)) return 'user_id is missing or not a string of 1-128 characters';
  if (!isString(articleId, 128)) return 'article_id is missing or not a string of 1-128 characters';
  if (typeof occurredAt !== 'string') return 'occurred_at is missing or not a date-time';
  hashEventId(eventId, hash);
  fields.userId = userId;
  fields.articleId = articleId;
  fields.occurredAt = occurredAt;
  return undefined;
}

let scratch = Buffer.allocUnsafe(4096);

/** Decodes one record into a click, or throws a PoisonRecordError saying what is wrong with it. */
function decodeClick(record: StreamRecord, index: number, slots: ArticleSlots): Click {
  // Decoded into one reused buffer: no Buffer object per record.
  if (scratch.length < record.data.length) scratch = Buffer.allocUnsafe(record.data.length * 2);
  const length = scratch.write(record.data, 'base64');
  const problem = readClick(scratch, length);
  if (problem !== undefined) throw new PoisonRecordError(problem, record.sequenceNumber);
  const occurredMs = dateTimeMillis(fields.occurredAt);
  if (!Number.isFinite(occurredMs)) {
    throw new PoisonRecordError('occurred_at is missing or not a date-time', record.sequenceNumber);
  }
  return {
    index,
    userId: fields.userId,
    hashHi: hash[0] as number,
    hashLo: hash[1] as number,
    occurredMs,
    slot: slots.slot(fields.articleId),
    shardId: record.shardId,
    sequenceNumber: record.sequenceNumber,
  };
}

/** a > b for Kinesis sequence numbers (decimal strings without leading zeros). */
const seqAfter = (a: string, b: string) => (a.length !== b.length ? a.length > b.length : a > b);

/** What a user's clicks change, planned before the article vectors are read. */
interface UserPlan {
  userId: string;
  stored: StoredUser | undefined;
  packed: PackedHistory | undefined;
  accepted: Click[];
  /** Old entries kept from this index; accepted clicks kept from `newFrom`. */
  keepFrom: number;
  newFrom: number;
  /** Trimmed old entries that were in the sum: slot and time. */
  removed: { slot: number; occurredMs: number }[];
  /** Kept old entries not in the sum yet: index, slot and time. */
  pending: { index: number; slot: number; occurredMs: number }[];
  watermarks: Watermark[];
  duplicates: number;
  redelivered: number;
}

function plan(
  user: UserClicks,
  stored: StoredUser | undefined,
  slots: ArticleSlots,
  options: UserVectorOptions,
): UserPlan {
  let packed: PackedHistory | undefined;
  if (stored) {
    try {
      packed = readHistory(stored.history);
    } catch (error) {
      if (error instanceof HistoryFormatError) throw new UserWriteError(error.message, user.userId, error);
      throw error;
    }
  }
  const oldCount = packed ? packed.offsets.length : 0;
  const watermarks = packed ? packed.watermarks.slice() : [];
  const accepted: Click[] = [];
  let duplicates = 0;
  let redelivered = 0;
  // Few clicks: compare against the old hashes directly; many: one Set.
  const seen = user.clicks.length > 16 ? new Set<number>() : undefined;
  if (seen && packed) {
    for (const offset of packed.offsets) {
      seen.add(hashKey(packed.view.getUint32(offset, true), packed.view.getUint32(offset + 4, true)));
    }
  }
  let mark: Watermark | undefined;
  let markShard = '';
  for (const click of user.clicks) {
    if (click.shardId !== markShard) {
      markShard = click.shardId;
      mark = watermarks.find((w) => w.shardId === markShard);
    }
    if (mark && !seqAfter(click.sequenceNumber, mark.sequenceNumber)) {
      redelivered++;
      continue;
    }
    let duplicate = false;
    if (seen) {
      const key = hashKey(click.hashHi, click.hashLo);
      duplicate = seen.has(key);
      seen.add(key);
    } else {
      if (packed) {
        for (const offset of packed.offsets) {
          if (
            packed.view.getUint32(offset, true) === click.hashHi &&
            packed.view.getUint32(offset + 4, true) === click.hashLo
          ) {
            duplicate = true;
            break;
          }
        }
      }
      for (let i = 0; !duplicate && i < accepted.length; i++) {
        const a = accepted[i] as Click;
        duplicate = a.hashHi === click.hashHi && a.hashLo === click.hashLo;
      }
    }
    if (duplicate) duplicates++;
    else accepted.push(click);
  }
  // The highest sequence number seen per shard becomes its watermark (the most recent shard last).
  for (let i = user.clicks.length - 1; i >= 0; i--) {
    const click = user.clicks[i] as Click;
    if (i < user.clicks.length - 1 && click.shardId === (user.clicks[i + 1] as Click).shardId) continue;
    const at = watermarks.findIndex((w) => w.shardId === click.shardId);
    const mark = at >= 0 ? (watermarks[at] as Watermark) : undefined;
    if (mark && !seqAfter(click.sequenceNumber, mark.sequenceNumber)) continue;
    if (at >= 0) watermarks.splice(at, 1);
    watermarks.push({ shardId: click.shardId, sequenceNumber: click.sequenceNumber });
  }
  const maxWatermarks = options.maxWatermarks ?? 4;
  if (watermarks.length > maxWatermarks) watermarks.splice(0, watermarks.length - maxWatermarks);

  const drop = Math.max(0, oldCount + accepted.length - options.historyLength);
  const keepFrom = Math.min(drop, oldCount);
  const newFrom = drop - keepFrom;
  const removed: UserPlan['removed'] = [];
  const pending: UserPlan['pending'] = [];
  if (packed && accepted.length > 0) {
    const { view, offsets } = packed;
    for (let i = 0; i < oldCount; i++) {
      const offset = offsets[i] as number;
      const counted = ((view.getUint8(offset + 16) as number) & COUNTED) !== 0;
      if (i < keepFrom ? counted : !counted) {
        const entry = {
          index: i,
          slot: slots.slot(entryArticleId(packed, offset)),
          occurredMs: view.getFloat64(offset + 8, true),
        };
        (i < keepFrom ? removed : pending).push(entry);
      }
    }
  }
  return {
    userId: user.userId,
    stored,
    packed,
    accepted,
    keepFrom,
    newFrom,
    removed,
    pending,
    watermarks,
    duplicates,
    redelivered,
  };
}

const sum = new Float64Array(VECTOR_DIMENSIONS);
const oldVector = new Float32Array(VECTOR_DIMENSIONS);
const oldBytes = new Uint8Array(oldVector.buffer);
const newVector = new Float32Array(VECTOR_DIMENSIONS);
const newVectorBytes = new Uint8Array(newVector.buffer);

/** Adds w times the vector in `slot` to the running sum. */
function addScaled(vectors: Float32Array, slot: number, w: number): void {
  const base = slot * VECTOR_DIMENSIONS;
  for (let d = 0; d < VECTOR_DIMENSIONS; d++) sum[d] = (sum[d] as number) + w * (vectors[base + d] as number);
}

/** The new item of a planned user, with the counts it adds to the batch's. */
function apply(
  p: UserPlan,
  slots: ArticleSlots,
  options: UserVectorOptions,
  updatedAt: string,
): { item: StoredUser; withoutVector: number; pendingCounted: number } {
  const { packed, accepted, newFrom } = p;
  const { vectors, has } = slots;
  const ln2h = Math.LN2 / options.halfLifeMs;
  let anchor = packed ? packed.anchorMs : Number.NEGATIVE_INFINITY;
  for (let i = newFrom; i < accepted.length; i++)
    anchor = Math.max(anchor, (accepted[i] as Click).occurredMs);

  sum.fill(0);
  if (packed && packed.norm > 0 && p.stored) {
    const scale = packed.norm * Math.exp((packed.anchorMs - anchor) * ln2h);
    oldBytes.set(p.stored.vector.subarray(0, VECTOR_BYTES));
    for (let d = 0; d < VECTOR_DIMENSIONS; d++) sum[d] = (oldVector[d] as number) * scale;
  }
  for (const r of p.removed) {
    // An article whose item has gone since it was counted cannot be taken out again; its weight fades.
    if (has[r.slot]) addScaled(vectors, r.slot, -Math.exp((r.occurredMs - anchor) * ln2h));
  }
  let countedNow: Set<number> | undefined;
  for (const e of p.pending) {
    if (!has[e.slot]) continue;
    addScaled(vectors, e.slot, Math.exp((e.occurredMs - anchor) * ln2h));
    countedNow ??= new Set();
    countedNow.add(e.index);
  }
  const oldCount = packed ? packed.offsets.length : 0;
  const entries: NewEntry[] = [];
  let withoutVector = 0;
  let newCounted = 0;
  for (let i = newFrom; i < accepted.length; i++) {
    const c = accepted[i] as Click;
    const counted = has[c.slot] === 1;
    if (counted) {
      addScaled(vectors, c.slot, Math.exp((c.occurredMs - anchor) * ln2h));
      newCounted++;
    } else withoutVector++;
    entries.push({
      hashHi: c.hashHi,
      hashLo: c.hashLo,
      occurredMs: c.occurredMs,
      counted,
      articleId: slots.utf8[c.slot] as Uint8Array,
    });
  }
  const pendingCounted = countedNow?.size ?? 0;
  const keptOld = oldCount - p.keepFrom;
  const stillPending = p.pending.length - pendingCounted + withoutVector;
  const countedEntries = keptOld - p.pending.length + pendingCounted + newCounted;

  let norm = 0;
  newVector.fill(0);
  // With nothing left in the sum, what remains of it is rounding: the vector is zero.
  if (countedEntries > 0) {
    let squares = 0;
    for (let d = 0; d < VECTOR_DIMENSIONS; d++) squares += (sum[d] as number) ** 2;
    norm = Math.sqrt(squares);
    if (norm > 0) for (let d = 0; d < VECTOR_DIMENSIONS; d++) newVector[d] = (sum[d] as number) / norm;
  }
  const vector = Buffer.allocUnsafe(VECTOR_BYTES);
  vector.set(newVectorBytes);
  const history = writeHistory(
    { anchorMs: anchor, norm, watermarks: p.watermarks },
    packed,
    p.keepFrom,
    countedNow,
    entries,
  );
  return {
    item: {
      userId: p.userId,
      version: (p.stored?.version ?? 0) + 1,
      vector,
      history,
      historyLength: keptOld + entries.length,
      pending: stillPending,
      updatedAt,
    },
    withoutVector,
    pendingCounted,
  };
}

/** Runs `work` on every item with at most `limit` in flight. */
async function forEachLimit<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Applies one batch of click records to the users' vectors. Never throws for one record or one user: a
 * record that is not a click fails alone (PoisonRecordError), a user whose write fails fails all its
 * records in the batch (UserWriteError); reading the users or the articles failing throws (the whole
 * batch is retried). A click already applied (same event id in the history, or a sequence number at or
 * below its user's watermark for that shard) changes nothing.
 */
export async function updateUserVectors(
  records: readonly StreamRecord[],
  store: UserVectorStore,
  options: UserVectorOptions,
): Promise<BatchResult> {
  const failures = new Map<number, Error>();
  const stats: BatchStats = {
    records: records.length,
    applied: 0,
    duplicates: 0,
    redelivered: 0,
    poison: 0,
    failed: 0,
    usersInBatch: 0,
    usersWritten: 0,
    races: 0,
    clicksWithoutVector: 0,
    pendingCounted: 0,
    articlesRead: 0,
  };
  const slots = new ArticleSlots();
  const users = new Map<string, UserClicks>();
  for (let i = 0; i < records.length; i++) {
    let click: Click;
    try {
      click = decodeClick(records[i] as StreamRecord, i, slots);
    } catch (error) {
      failures.set(i, error as Error);
      stats.poison++;
      continue;
    }
    let user = users.get(click.userId);
    if (!user) {
      user = { userId: click.userId, clicks: [] };
      users.set(click.userId, user);
    }
    user.clicks.push(click);
  }
  stats.usersInBatch = users.size;

  const stored = await store.getUsers([...users.keys()]);
  const plans: UserPlan[] = [];
  const failUser = (user: UserClicks, error: Error) => {
    for (const click of user.clicks) failures.set(click.index, error);
    stats.failed += user.clicks.length;
  };
  for (const user of users.values()) {
    try {
      plans.push(plan(user, stored.get(user.userId), slots, options));
    } catch (error) {
      failUser(user, error as Error);
    }
  }
  await slots.fetch(store);
  const updatedAt = options.now().toISOString();

  await forEachLimit(plans, options.writeConcurrency, async (first) => {
    const user = users.get(first.userId) as UserClicks;
    let p = first;
    for (let attempt = 0; ; attempt++) {
      if (p.accepted.length === 0) break;
      const { item, withoutVector, pendingCounted } = apply(p, slots, options, updatedAt);
      let written: boolean;
      try {
        written = await store.putUser(item, p.stored?.version);
      } catch (error) {
        failUser(
          user,
          new UserWriteError(
            `writing user ${user.userId} failed: ${(error as Error).message}`,
            user.userId,
            error,
          ),
        );
        return;
      }
      if (written) {
        stats.usersWritten++;
        stats.applied += p.accepted.length;
        stats.clicksWithoutVector += withoutVector;
        stats.pendingCounted += pendingCounted;
        break;
      }
      stats.races++;
      if (attempt >= options.maxRaceRetries) {
        failUser(
          user,
          new UserWriteError(`user ${user.userId} lost ${attempt + 1} races in a row`, user.userId),
        );
        return;
      }
      // Lost a race: read the user again and apply the same clicks to what the other writer left.
      try {
        const fresh = (await store.getUsers([user.userId])).get(user.userId);
        p = plan(user, fresh, slots, options);
        await slots.fetch(store);
      } catch (error) {
        failUser(
          user,
          error instanceof UserWriteError
            ? error
            : new UserWriteError((error as Error).message, user.userId, error),
        );
        return;
      }
    }
    stats.duplicates += p.duplicates;
    stats.redelivered += p.redelivered;
  });
  stats.articlesRead = slots.ids.length;
  return { failures, stats };
}
