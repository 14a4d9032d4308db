import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { EventType } from '../schemas';

/** A finished segment file: valid lines of one (type, version), in the order they were read. */
export interface Segment {
  file: string;
  type: EventType;
  version: number;
  /** 0, 1, 2, ... per (type, version): the segment's place in the object, part of its output names. */
  index: number;
  lines: number;
  bytes: number;
}

const BUFFER_BYTES = 1 << 20;

/** The open segment of one (type, version): lines gather in a buffer written to the file a MiB at a time. */
class OpenSegment {
  readonly buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  used = 0;
  fd: number;
  lines = 0;
  bytes = 0;

  constructor(
    readonly file: string,
    readonly type: EventType,
    readonly version: number,
    readonly index: number,
  ) {
    this.fd = openSync(file, 'w');
  }

  flush(): void {
    let at = 0;
    while (at < this.used) at += writeSync(this.fd, this.buffer, at, this.used - at);
    this.used = 0;
  }
}

/**
 * Segment files under a work folder, one open per (type, version): a line goes to the segment of
 * its schema, and a segment is finished once it holds `segmentBytes` (checked after each line),
 * so the same lines always cut into the same segments.
 */
export class SegmentFiles {
  private readonly open = new Map<string, OpenSegment>();
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
    private readonly onFinished: (segment: Segment) => void,
  ) {}

  /** Appends one line (its bytes [start, end) of `source`, or a string) and a newline. */
  write(type: EventType, version: number, source: Buffer | string, start = 0, end = source.length): void {
    const key = `${type}.${version}`;
    let segment = this.open.get(key);
    if (segment === undefined) {
      const index = this.counts.get(key) ?? 0;
      this.counts.set(key, index + 1);
      segment = new OpenSegment(join(this.dir, `${type}-v${version}-s${index}.jsonl`), type, version, index);
      this.open.set(key, segment);
    }
    const bytes = typeof source === 'string' ? Buffer.from(source) : source;
    const from = typeof source === 'string' ? 0 : start;
    const to = typeof source === 'string' ? bytes.length : end;
    const length = to - from + 1;
    if (segment.used + length > BUFFER_BYTES) segment.flush();
    if (length > BUFFER_BYTES) {
      writeSync(segment.fd, bytes, from, to - from);
      writeSync(segment.fd, '\n');
    } else {
      bytes.copy(segment.buffer, segment.used, from, to);
      segment.buffer[segment.used + length - 1] = 0x0a;
      segment.used += length;
    }
    segment.lines += 1;
    segment.bytes += length;
    if (segment.bytes >= this.segmentBytes) this.finish(key, segment);
  }

  /** Finishes every open segment (the end of the object). */
  finishAll(): void {
    for (const [key, segment] of this.open) this.finish(key, segment);
  }

  private finish(key: string, segment: OpenSegment): void {
    segment.flush();
    closeSync(segment.fd);
    this.open.delete(key);
    const { file, type, version, index, lines, bytes } = segment;
    this.onFinished({ file, type, version, index, lines, bytes });
  }
}
