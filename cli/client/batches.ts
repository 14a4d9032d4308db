import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { SendStats } from '../traffic/stats';

/** One record on its way to the API: its JSON text and where it came from. */
export interface Item {
  json: string;
  /** 1-based line of the input file. */
  line?: number;
  /** Generated input only: how the record was broken on purpose (the server should reject it). */
  defect?: string;
}

/** The JSON body of one request: `{"<key>":[...]}`, e.g. `{"events":[...]}`. */
export class Envelope {
  readonly head: string;
  readonly tail = ']}';
  constructor(readonly key: string) {
    this.head = `{"${key}":[`;
  }

  /** The body text for these items. */
  body(items: readonly Item[]): string {
    return `${this.head}${items.map((i) => i.json).join(',')}${this.tail}`;
  }

  /** Bytes of the body for these items, without building it. */
  bytes(items: readonly Item[]): number {
    let bytes = this.head.length + this.tail.length + Math.max(0, items.length - 1);
    for (const item of items) bytes += Buffer.byteLength(item.json);
    return bytes;
  }
}

/** Raised under --strict for the first input line that cannot be sent. */
export class BadLineError extends Error {
  override name = 'BadLineError';
}

/** How batches are cut and paced, and where a skipped line is counted and told. */
export interface BatchSettings {
  envelope: Envelope;
  batchSize: number;
  maxBodyBytes: number;
  pace: (records: number) => Promise<void>;
  warn: (message: string) => void;
  stats: SendStats;
}

function openText(path: string): Readable {
  const stream = createReadStream(path);
  return path.endsWith('.gz') ? stream.pipe(createGunzip()) : stream;
}

async function* fileLines(path: string): AsyncGenerator<{ line: number; text: string }> {
  const lines = createInterface({ input: openText(path), crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  for await (const text of lines) {
    line += 1;
    if (text.trim() !== '') yield { line, text: text.trim() };
  }
}

/** Counts the non-blank lines of a JSON-lines file (plain or .gz), for the progress total. */
export async function countLines(path: string): Promise<number> {
  let count = 0;
  for await (const _ of fileLines(path)) count += 1;
  return count;
}

/**
 * The lines of a JSON-lines file (plain or .gz) in batches of at most `batchSize` records and
 * `maxBodyBytes` bytes of body. A line that is not JSON or cannot fit a request is skipped with a
 * warning, or under `strict` stops the run (BadLineError).
 */
export async function* fileBatches(path: string, strict: boolean, s: BatchSettings): AsyncGenerator<Item[]> {
  const { head, tail } = s.envelope;
  const room = s.maxBodyBytes - head.length - tail.length;
  let batch: Item[] = [];
  let bytes = head.length + tail.length;
  const skip = (message: string) => {
    if (strict) throw new BadLineError(`${message} (--strict: nothing after it was sent)`);
    s.stats.skipped += 1;
    s.warn(`skipped ${message}`);
  };
  for await (const { line, text } of fileLines(path)) {
    try {
      JSON.parse(text);
    } catch (error) {
      skip(`line ${line} of ${path}: not valid JSON (${(error as Error).message})`);
      continue;
    }
    const size = Buffer.byteLength(text);
    if (size > room) {
      skip(`line ${line} of ${path}: ${size} bytes, over the ${s.maxBodyBytes}-byte request limit`);
      continue;
    }
    if (batch.length === s.batchSize || bytes + size + 1 > s.maxBodyBytes) {
      await s.pace(batch.length);
      yield batch;
      batch = [];
      bytes = head.length + tail.length;
    }
    batch.push({ json: text, line });
    bytes += size + (batch.length > 1 ? 1 : 0);
  }
  if (batch.length > 0) {
    await s.pace(batch.length);
    yield batch;
  }
}
