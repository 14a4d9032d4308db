import { isUtf8 } from 'node:buffer';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip, type Gzip } from 'node:zlib';
import { LineSplitter } from '../domain/format/lines';
import type { FormatQuarantineRecord, ObjectReason, SourceObject } from '../domain/format/records';
import { rawOf } from '../domain/format/records';
import { type LineReason, ParsedLineCheck, type StoredLineCheck } from '../domain/format/stored-lines';
import { findInvalidUtf8 } from '../domain/utf8';
import type { FieldError } from '../schemas';
import type { ParquetWriter, WrittenFile } from './duckdb';
import { type Segment, SegmentFiles } from './segments';

/** The longest line kept: collect takes at most 1 MiB per request, and a stored event adds its two fields. */
export const MAX_LINE_BYTES = 1024 * 1024 + 1024;
/** The spike's fastest segment size: DuckDB copies one while Node validates the next. */
export const DEFAULT_SEGMENT_BYTES = 32 * 1024 * 1024;

export interface FormatObjectOptions {
  source: SourceObject;
  /** A folder of this object's own (segments, Parquet, quarantine file); the caller removes it. */
  workDir: string;
  writer: ParquetWriter;
  segmentBytes?: number;
  maxLineBytes?: number;
  check?: StoredLineCheck;
}

/** A Parquet file of the object, with where it belongs. */
export interface FormattedFile extends WrittenFile {
  type: string;
  version: number;
  segment: number;
  part: number;
}

/** What became of one raw object. `linesRead === rowsWritten + linesQuarantined` always. */
export interface FormatOutcome {
  linesRead: number;
  rowsWritten: number;
  linesQuarantined: number;
  byReason: Partial<Record<LineReason, number>>;
  faults: { reason: ObjectReason; message: string }[];
  files: FormattedFile[];
  /** The gzip JSON-lines file of quarantine records (bad lines and faults), or null when there is none. */
  quarantineFile: string | null;
  quarantineRecords: number;
  /** Decompressed bytes read. */
  bytesRead: number;
}

/** Raised when the rows DuckDB wrote differ from the lines handed to it: never expected, so never swallowed. */
export class ReconciliationError extends Error {
  override name = 'ReconciliationError';
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** The quarantine records of one object, gzip-compressed into a file as they come (bounded memory). */
class QuarantineFile {
  private gzip: Gzip | undefined;
  private done: Promise<void> | undefined;
  records = 0;

  constructor(readonly file: string) {}

  add(record: FormatQuarantineRecord): void {
    if (this.gzip === undefined) {
      this.gzip = createGzip({ level: 1 });
      this.done = pipeline(this.gzip, createWriteStream(this.file));
    }
    this.records += 1;
    this.gzip.write(`${JSON.stringify(record)}\n`);
  }

  /**
   * Waits while the gzip stream holds more than its buffer. Asked of the stream itself at the
   * moment of waiting: a 'drain' that already passed must not be waited for (nothing would then
   * keep the event loop alive, and the process would end in the middle of the object).
   */
  async drain(): Promise<void> {
    const gzip = this.gzip;
    if (gzip === undefined || !gzip.writableNeedDrain) return;
    await once(gzip, 'drain');
  }

  async close(): Promise<string | null> {
    if (this.gzip === undefined) return null;
    this.gzip.end();
    await this.done;
    return this.file;
  }
}

/** Describes a zlib failure for a quarantine record. */
function gzipFault(
  error: unknown,
  compressed: number,
  decompressed: number,
  lines: number,
): { reason: ObjectReason; message: string } {
  const code = (error as { code?: string }).code;
  const where = `after ${compressed} compressed bytes (${decompressed} decompressed, ${lines} lines read)`;
  if (code === 'Z_BUF_ERROR') {
    return {
      reason: 'truncated_gzip',
      message: `the gzip stream ends unexpectedly ${where}: the object is truncated; what was readable is kept`,
    };
  }
  return {
    reason: 'corrupt_gzip',
    message: `the gzip stream is corrupt ${where}: ${(error as Error).message}; what was readable is kept`,
  };
}

/** True for a zlib error (the object's bytes), as opposed to an error reading them (S3, the network). */
function isZlibError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/**
 * Formats one raw object: streams the gzip body, validates every line against the registry's
 * stored-event schema, writes valid lines' own bytes into fixed-size segment files per (type,
 * version) and has DuckDB copy each finished segment to Parquet while the next is validated;
 * bad lines and object-level faults go to a quarantine file. An error reading the body (S3, the
 * network) is thrown as it came, for the caller to classify; a fault in the object's own bytes is
 * reported, and what was readable is kept.
 */
export async function formatObject(
  body: AsyncIterable<Uint8Array>,
  options: FormatObjectOptions,
): Promise<FormatOutcome> {
  const { source, workDir, writer } = options;
  const check = options.check ?? new ParsedLineCheck();
  const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  const segmentsDir = join(workDir, 'segments');
  mkdirSync(segmentsDir, { recursive: true });
  const quarantine = new QuarantineFile(join(workDir, 'quarantine.jsonl.gz'));
  const byReason: Partial<Record<LineReason, number>> = {};
  const faults: FormatOutcome['faults'] = [];
  const files: FormattedFile[] = [];
  let linesQuarantined = 0;
  let linesToSegments = 0;
  let rowsWritten = 0;

  const reject = (
    reason: LineReason,
    errors: FieldError[],
    bytes: Uint8Array,
    length: number,
    line: number,
    offset: number,
  ) => {
    linesQuarantined += 1;
    byReason[reason] = (byReason[reason] ?? 0) + 1;
    quarantine.add({
      reason,
      errors,
      source: { bucket: source.bucket, key: source.key, line, byte_offset: offset },
      ...rawOf(bytes),
      raw_bytes: length,
      raw_truncated: bytes.length < length,
    });
  };
  const fault = (reason: ObjectReason, message: string, raw?: Uint8Array) => {
    faults.push({ reason, message });
    quarantine.add({
      reason,
      errors: [{ path: '', message }],
      source: { bucket: source.bucket, key: source.key, line: null, byte_offset: null },
      ...(raw ? rawOf(raw) : { raw: null, raw_encoding: null }),
      raw_bytes: raw?.length ?? 0,
      raw_truncated: raw !== undefined && source.size !== undefined && raw.length < source.size,
    });
  };

  // DuckDB copies finished segments one at a time, in order, while lines keep coming.
  let copying: Promise<void> = Promise.resolve();
  /** Copies not finished yet, oldest first. */
  const queued: Promise<void>[] = [];
  const copy = async (segment: Segment) => {
    const outDir = join(workDir, 'parquet', `${segment.type}-v${segment.version}-s${segment.index}`);
    mkdirSync(join(workDir, 'parquet'), { recursive: true });
    const written = await writer.copySegment(segment.file, segment.type, segment.version, outDir);
    rmSync(segment.file, { force: true });
    const rows = written.reduce((sum, f) => sum + f.rows, 0);
    if (rows !== segment.lines) {
      throw new ReconciliationError(
        `segment ${segment.file}: ${segment.lines} lines handed to DuckDB, ${rows} rows written`,
      );
    }
    rowsWritten += rows;
    const parts = new Map<string, number>();
    for (const f of written) {
      const partition = `${f.dt}/${f.hour}`;
      const part = parts.get(partition) ?? 0;
      parts.set(partition, part + 1);
      files.push({ ...f, type: segment.type, version: segment.version, segment: segment.index, part });
    }
  };
  const segments = new SegmentFiles(segmentsDir, segmentBytes, (segment) => {
    const done = copying.then(() => copy(segment));
    copying = done;
    queued.push(done);
    // Awaited later (when two wait, at the end); marked handled so a failure meanwhile is not an
    // unhandled rejection.
    done.then(
      () => queued.splice(queued.indexOf(done), 1),
      () => undefined,
    );
  });

  let chunkIsUtf8 = true;
  let truncated = false;
  const splitter = new LineSplitter(
    {
      line(buffer, start, end, number, offset) {
        if (!chunkIsUtf8 || buffer.length === end - start) {
          const bytes = buffer.subarray(start, end);
          if (!isUtf8(bytes)) {
            const problem = findInvalidUtf8(bytes);
            const at = problem
              ? ` at byte ${problem.offset} (${problem.bytes.map((b) => `0x${b.toString(16)}`).join(' ')})`
              : '';
            reject(
              'invalid_utf8',
              [{ path: '', message: `the line is not valid UTF-8${at}` }],
              Buffer.from(bytes),
              end - start,
              number,
              offset,
            );
            return;
          }
        }
        if (truncated) {
          reject(
            'truncated_line',
            [
              {
                path: '',
                message: 'the object ends inside this line (truncated gzip): the line is incomplete',
              },
            ],
            Buffer.from(buffer.subarray(start, end)),
            end - start,
            number,
            offset,
          );
          return;
        }
        const text = buffer.toString('utf8', start, end);
        if (check.check(text)) {
          linesToSegments += 1;
          if (check.rewritten === undefined) segments.write(check.type, check.version, buffer, start, end);
          else segments.write(check.type, check.version, check.rewritten);
        } else {
          // The text is a new string, not a slice of the chunk: nothing of the chunk stays alive.
          reject(
            check.reason,
            check.errors,
            Buffer.from(buffer.subarray(start, end)),
            end - start,
            number,
            offset,
          );
        }
      },
      tooLong(head, length, number, offset) {
        reject(
          'line_too_long',
          [
            {
              path: '',
              message: `the line is ${length} bytes; at most ${options.maxLineBytes ?? MAX_LINE_BYTES} are read (its first ${head.length} bytes are kept here)`,
            },
          ],
          head,
          length,
          number,
          offset,
        );
      },
    },
    options.maxLineBytes ?? MAX_LINE_BYTES,
  );

  let compressed = 0;
  let first: Buffer | undefined;
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of body) {
      const buffer = Buffer.isBuffer(chunk)
        ? chunk
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (first === undefined) first = Buffer.from(buffer.subarray(0, 1024));
      compressed += buffer.length;
      yield buffer;
    }
  }
  const input = counted();
  const head = await input.next();
  if (head.done) {
    fault('empty_object', 'the object is empty (0 bytes): nothing to format');
  } else if (head.value.length < 2 || head.value[0] !== GZIP_MAGIC_0 || head.value[1] !== GZIP_MAGIC_1) {
    // Drain the body so the connection is released; the first KiB is kept in the record.
    for await (const _chunk of input) {
      // read and dropped
    }
    fault(
      'not_gzip',
      `the object is not gzip (it starts with 0x${(first as Buffer).subarray(0, 4).toString('hex')}, not 0x1f8b); ${compressed} bytes not read as lines`,
      first,
    );
  } else {
    const gunzip = createGunzip({ chunkSize: 1 << 20 });
    const rest = async function* () {
      yield head.value;
      yield* input;
    };
    let sourceError: unknown;
    const feeding = pipeline(
      Readable.from(
        (async function* () {
          try {
            yield* rest();
          } catch (error) {
            sourceError = error;
            throw error;
          }
        })(),
      ),
      gunzip,
    ).catch((error: unknown) => error);
    let gzipError: unknown;
    try {
      for await (const chunk of gunzip as AsyncIterable<Buffer>) {
        chunkIsUtf8 = isUtf8(chunk);
        splitter.feed(chunk);
        // At most one finished segment waits behind the one DuckDB is copying (files, not memory).
        while (queued.length > 1) await queued[0];
        await quarantine.drain();
      }
    } catch (error) {
      gzipError = error;
    }
    const pipeError = await feeding;
    if (sourceError !== undefined) {
      await copying.catch(() => undefined);
      throw sourceError;
    }
    const error = gzipError ?? pipeError;
    if (error !== undefined && !isZlibError(error)) {
      await copying.catch(() => undefined);
      throw error;
    }
    if (error !== undefined) truncated = true;
    chunkIsUtf8 = false;
    splitter.end();
    if (error !== undefined) {
      const { reason, message } = gzipFault(error, compressed, splitter.bytes, splitter.lines);
      fault(reason, message);
    }
  }
  segments.finishAll();
  await copying;
  const quarantineFile = await quarantine.close();
  const linesRead = splitter.lines;
  if (linesRead !== rowsWritten + linesQuarantined || rowsWritten !== linesToSegments) {
    throw new ReconciliationError(
      `${source.key}: ${linesRead} lines read, ${rowsWritten} rows written, ${linesQuarantined} quarantined (${linesToSegments} handed to DuckDB)`,
    );
  }
  return {
    linesRead,
    rowsWritten,
    linesQuarantined,
    byReason,
    faults,
    files,
    quarantineFile,
    quarantineRecords: quarantine.records,
    bytesRead: splitter.bytes,
  };
}
