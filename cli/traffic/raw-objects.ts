import type { EventRecord } from './defects';
import { type GeneratedEvent, TrafficGenerator, type TrafficOptions } from './generator';

/**
 * Raw objects as Firehose lands them (collect's stored lines, one per line), for the formatter's
 * benchmark and tests: valid events from the traffic generator, and bad lines of every kind the
 * formatter quarantines.
 */

/** A stored line as collect writes it: the client's JSON text, then received_at and request_id, then "\n". */
export function storedLine(event: EventRecord, receivedAt: string, requestId: string): string {
  const client = JSON.stringify(event);
  return `${client.slice(0, -1)},"received_at":${JSON.stringify(receivedAt)},"request_id":${JSON.stringify(requestId)}}\n`;
}

/** The kinds of bad line, by the reason the formatter gives them (see lib/domain/format/stored-lines.ts). */
export const BAD_LINE_KINDS = [
  'invalid_json',
  'invalid_field',
  'unknown_type',
  'unknown_version',
  'line_too_long',
  'invalid_utf8',
  'duplicate_key',
  'lone_surrogate',
] as const;
export type BadLineKind = (typeof BAD_LINE_KINDS)[number];

/**
 * A bad line (bytes, newline included) made from a valid stored line `good` (ending in "}\n") of
 * `event`: what a broken producer, a replay from elsewhere or a damaged object would hold.
 */
export function badLine(kind: BadLineKind, good: string, event: EventRecord, variant = 0): Buffer {
  const body = good.slice(0, -2); // without "}\n"
  switch (kind) {
    case 'invalid_json':
      return Buffer.from(
        variant % 2 === 0 ? `${good.slice(0, Math.floor(good.length / 2))}\n` : `${body},}\n`,
      );
    case 'invalid_field':
      return Buffer.from(good.replace(/"user_id":"[^"]*",/, variant % 2 === 0 ? '' : '"user_id":42,'));
    case 'unknown_type':
      return Buffer.from(good.replace(/"event_type":"[a-z_]+"/, '"event_type":"page_view"'));
    case 'unknown_version':
      return Buffer.from(good.replace('"schema_version":1', '"schema_version":7'));
    case 'line_too_long':
      return Buffer.from(`${body},"padding":"${'x'.repeat(1024 * 1024 + 2048)}"}\n`);
    case 'invalid_utf8': {
      const bytes = Buffer.from(good);
      const at = bytes.indexOf('"user_id":"') + 11;
      bytes[at] = 0xff;
      return bytes;
    }
    case 'duplicate_key':
      return Buffer.from(`${body},"user_id":${JSON.stringify(`${String(event.user_id)}-2`)}}\n`);
    case 'lone_surrogate':
      return Buffer.from(good.replace(/"user_id":"([^"]*)"/, '"user_id":"$1\\ud800"'));
  }
}

export interface RawObjectOptions {
  /** Lines in the object. */
  lines: number;
  /** Share of lines that are bad (0..1), spread evenly over BAD_LINE_KINDS except line_too_long. */
  badShare?: number;
  /** Line-too-long lines to put in (each is 1 MiB); default 0. */
  tooLong?: number;
  seed?: number;
  /** The generator's clock start (epoch ms). */
  startMs?: number;
  traffic?: TrafficOptions;
}

/** A raw object's lines, with the valid events they hold (in order) and how many bad lines of each kind. */
export interface RawObject {
  lines: Buffer[];
  valid: EventRecord[];
  validLines: string[];
  bad: Partial<Record<BadLineKind, number>>;
}

/** One line of a raw object: its bytes (newline included) and, for a bad one, its kind. */
export interface RawLine {
  bytes: Buffer;
  kind?: BadLineKind;
}

/** The lines of a raw object (uncompressed), one at a time (the benchmark's million lines never sit in memory). */
export function* rawLines(options: RawObjectOptions): Generator<RawLine> {
  const startMs = options.startMs ?? Date.UTC(2026, 2, 1, 3, 0, 0);
  let tick = 0;
  const generator = new TrafficGenerator({
    seed: options.seed ?? 42,
    clock: () => startMs + tick++ * 10,
    ...options.traffic,
  });
  const kinds = BAD_LINE_KINDS.filter((k) => k !== 'line_too_long');
  const badEvery = options.badShare ? Math.max(1, Math.round(1 / options.badShare)) : 0;
  const tooLongAt = new Set<number>();
  for (let i = 0; i < (options.tooLong ?? 0); i++) {
    tooLongAt.add(Math.floor(((i + 1) * options.lines) / ((options.tooLong ?? 0) + 1)));
  }
  let badCount = 0;
  for (let i = 0; i < options.lines; i++) {
    let next: GeneratedEvent = generator.next();
    while (next.defect !== undefined) next = generator.next();
    const event = next.event;
    const receivedAt = new Date(startMs + i * 10 + 500).toISOString();
    const good = storedLine(event, receivedAt, `req-${Math.floor(i / 100)}`);
    const kind: BadLineKind | undefined = tooLongAt.has(i)
      ? 'line_too_long'
      : badEvery > 0 && i % badEvery === badEvery - 1
        ? kinds[badCount++ % kinds.length]
        : undefined;
    if (kind === undefined) yield { bytes: Buffer.from(good) };
    else yield { bytes: badLine(kind, good, event, badCount), kind };
  }
}

/** Builds the lines of a raw object (uncompressed), with the valid events they hold. */
export function rawObjectLines(options: RawObjectOptions): RawObject {
  const out: RawObject = { lines: [], valid: [], validLines: [], bad: {} };
  for (const { bytes, kind } of rawLines(options)) {
    out.lines.push(bytes);
    if (kind === undefined) {
      const text = bytes.toString('utf8');
      out.valid.push(JSON.parse(text));
      out.validLines.push(text);
    } else {
      out.bad[kind] = (out.bad[kind] ?? 0) + 1;
    }
  }
  return out;
}
