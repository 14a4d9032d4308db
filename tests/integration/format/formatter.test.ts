import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { BAD_LINE_KINDS, rawObjectLines, storedLine } from '../../../cli/traffic/raw-objects';
import type { FormatQuarantineRecord } from '../../../lib/domain/format/records';
import { ParsedLineCheck } from '../../../lib/domain/format/stored-lines';
import { ParquetWriter } from '../../../lib/format/duckdb';
import { type FormatOutcome, formatObject } from '../../../lib/format/format-object';
import { readParquet } from '../../helpers/parquet';

/**
 * The formatter's core on real DuckDB (the linux-x64 build of the layer's package), read back with
 * hyparquet: what lands in the lake for a raw object, and what goes to quarantine.
 */
let writer: ParquetWriter;
let work: string;
const SOURCE = { bucket: 'logbase-test-data', key: 'raw/events/dt=2026-03-01/hour=03/object-1.gz' };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'logbase-format-'));
  writer = await ParquetWriter.open({ tempDirectory: join(work, 'spill') });
});
afterAll(() => {
  writer.close();
  rmSync(work, { recursive: true, force: true });
});

async function* chunksOf(bytes: Buffer, size = 64 * 1024): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

let runs = 0;
async function format(body: Buffer, options: { segmentBytes?: number; check?: ParsedLineCheck } = {}) {
  const workDir = join(work, `run-${runs++}`);
  return formatObject(chunksOf(body), { source: SOURCE, workDir, writer, ...options });
}

async function rowsOf(outcome: FormatOutcome) {
  const rows: Record<string, unknown>[] = [];
  for (const f of outcome.files) {
    const { rows: fileRows } = await readParquet(readFileSync(f.file));
    rows.push(...fileRows.map((r) => ({ ...r, _partition: `${f.dt}/${f.hour}`, _type: f.type })));
  }
  return rows;
}

function quarantineOf(outcome: FormatOutcome): FormatQuarantineRecord[] {
  if (outcome.quarantineFile === null) return [];
  return gunzipSync(readFileSync(outcome.quarantineFile))
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** `YYYY-MM-DD/HH` of an instant in UTC. */
const utcHour = (iso: string) => new Date(iso).toISOString().slice(0, 13).replace('T', '/');

/** Generated client events (a stored line's value without the fields collect adds). */
function clientEvents(lines: number, seed: number): Record<string, unknown>[] {
  return rawObjectLines({ lines, seed }).valid.map(({ received_at: _r, request_id: _q, ...event }) => event);
}

describe('The formatter', () => {
  it('writes every valid line as a typed zstd Parquet row in the UTC hour of its occurred_at, field by field', async () => {
    // Prepare
    const raw = rawObjectLines({ lines: 600, seed: 3 });
    // Act
    const outcome = await format(gzipSync(Buffer.concat(raw.lines)));
    const rows = await rowsOf(outcome);
    // Assess
    expect(outcome.rowsWritten).toBe(600);
    const byId = new Map(rows.map((r) => [r.event_id, r]));
    for (const event of raw.valid) {
      const row = byId.get(event.event_id) as Record<string, unknown>;
      expect(row._type).toBe(event.event_type);
      expect(row._partition).toBe(utcHour(String(event.occurred_at)));
      for (const [name, value] of Object.entries(event)) {
        if (name === 'occurred_at' || name === 'received_at') {
          expect(row[name]).toEqual(new Date(String(value)));
        } else if (name === 'properties') {
          const expected = Object.fromEntries(
            Object.entries(value as object).map(([k, v]) => [k, String(v)]),
          );
          expect(row[name]).toEqual(expected);
        } else {
          expect(row[name]).toBe(value);
        }
      }
    }
    const { columns, codecs } = await readParquet(readFileSync((outcome.files[0] as { file: string }).file));
    expect(codecs).toEqual(['ZSTD']);
    expect(columns.occurred_at).toMatchObject({
      type: 'INT64',
      logical: { type: 'TIMESTAMP', isAdjustedToUTC: true },
    });
    expect(columns.schema_version?.type).toBe('INT32');
  });

  it('stores an instant with a +09:00 offset as that instant in UTC, not as the local wall time', async () => {
    // Prepare
    const event = clientEvents(1, 1)[0] as Record<string, unknown>;
    const line = storedLine(
      { ...event, occurred_at: '2026-03-01T08:30:00.250+09:00' },
      '2026-02-28T23:30:01.000Z',
      'r',
    );
    // Act
    const outcome = await format(gzipSync(line));
    const [row] = await rowsOf(outcome);
    // Assess
    expect(row?.occurred_at).toEqual(new Date('2026-02-28T23:30:00.250Z'));
    expect(row?._partition).toBe('2026-02-28/23');
  });

  it('quarantines every kind of bad line with its reason, raw bytes and source, and reconciles', async () => {
    // Prepare
    const raw = rawObjectLines({ lines: 1_400, badShare: 0.05, tooLong: 1, seed: 5 });
    const body = Buffer.concat(raw.lines);
    // Act
    const outcome = await format(gzipSync(body));
    const records = quarantineOf(outcome);
    // Assess
    expect(outcome.linesRead).toBe(1_400);
    expect(outcome.linesRead).toBe(outcome.rowsWritten + outcome.linesQuarantined);
    expect(outcome.rowsWritten).toBe(raw.valid.length);
    expect(outcome.byReason).toEqual(raw.bad);
    expect(Object.keys(outcome.byReason).sort()).toEqual([...BAD_LINE_KINDS].sort());
    for (const r of records) {
      const original = raw.lines[(r.source.line as number) - 1] as Buffer;
      expect(r.source.key).toBe(SOURCE.key);
      expect(r.errors.length).toBeGreaterThan(0);
      const bytes = Buffer.from(r.raw as string, r.raw_encoding === 'base64' ? 'base64' : 'utf8');
      if (r.reason === 'line_too_long') {
        expect(r.raw_truncated).toBe(true);
        expect(r.raw_bytes).toBe(original.length - 1);
        expect(original.subarray(0, bytes.length).equals(bytes)).toBe(true);
      } else {
        expect(Buffer.concat([bytes, Buffer.from('\n')]).equals(original)).toBe(true);
      }
      if (r.reason === 'invalid_utf8') expect(r.raw_encoding).toBe('base64');
    }
  });

  it('writes the lines the registry accepts that DuckDB refuses as written, and no such line aborts a COPY', async () => {
    // Prepare: a leap second, lower-case t/z, nine fraction digits, an escaped pair and control character
    const [a, b, c, d] = clientEvents(4, 9);
    const lines = [
      storedLine({ ...a, occurred_at: '2016-12-31T23:59:60Z' }, '2017-01-01T00:00:01Z', 'r'),
      storedLine({ ...b, occurred_at: '2026-03-01t03:00:00.5z' }, '2026-03-01T03:00:01Z', 'r'),
      storedLine({ ...c, occurred_at: '2026-03-01T03:00:00.123456789Z' }, '2026-03-01T03:00:01Z', 'r'),
      storedLine({ ...d, user_id: 'u \ud83d\ude00 "q" \u0001' }, '2026-03-01T03:00:01Z', 'r'),
    ];
    // Act
    const outcome = await format(gzipSync(lines.join('')));
    const rows = await rowsOf(outcome);
    const byId = new Map(rows.map((r) => [r.event_id, r]));
    // Assess
    expect(outcome.rowsWritten).toBe(4);
    expect(byId.get(a?.event_id)?.occurred_at).toEqual(new Date('2016-12-31T23:59:59.999Z'));
    expect(byId.get(a?.event_id)?._partition).toBe('2016-12-31/23');
    expect(byId.get(b?.event_id)?.occurred_at).toEqual(new Date('2026-03-01T03:00:00.500Z'));
    // TIMESTAMPTZ holds microseconds: the nanoseconds are cut (hyparquet's Date shows milliseconds).
    expect(byId.get(c?.event_id)?.occurred_at).toEqual(new Date('2026-03-01T03:00:00.123Z'));
    expect(byId.get(d?.event_id)?.user_id).toBe('u \ud83d\ude00 "q" \u0001');
  });

  it('stores properties as strings: text as is, booleans as true/false, numbers as DuckDB renders them', async () => {
    // Prepare
    const event = clientEvents(200, 2).find((e) => e.event_type === 'action') as Record<string, unknown>;
    const text = storedLine(
      { ...event, properties: { s: '1.0E2', b: true, i: 12, x: 0 } },
      '2026-03-01T03:00:01Z',
      'r',
    ).replace('"x":0', '"x":1.0E2');
    // Act
    const outcome = await format(gzipSync(text), { check: new ParsedLineCheck() });
    const [row] = await rowsOf(outcome);
    // Assess
    expect(row?.properties).toEqual({ s: '1.0E2', b: 'true', i: '12', x: '100.0' });
  });

  it('keeps what a truncated gzip held and quarantines the record of where it broke and the cut line', async () => {
    // Prepare
    const raw = rawObjectLines({ lines: 3_000, seed: 4 });
    const gzip = gzipSync(Buffer.concat(raw.lines));
    const cut = gzip.subarray(0, Math.floor(gzip.length * 0.6));
    // Act
    const outcome = await format(cut);
    const records = quarantineOf(outcome);
    // Assess
    expect(outcome.faults.map((f) => f.reason)).toEqual(['truncated_gzip']);
    expect(outcome.rowsWritten).toBeGreaterThan(1_000);
    expect(outcome.linesRead).toBe(outcome.rowsWritten + outcome.linesQuarantined);
    const fault = records.find((r) => r.reason === 'truncated_gzip');
    expect(fault?.errors[0]?.message).toMatch(new RegExp(`after ${cut.length} compressed bytes`));
    const lastLine = records.find((r) => r.reason === 'truncated_line');
    expect(lastLine?.source.line).toBe(outcome.linesRead);
    expect((raw.lines[outcome.linesRead - 1] as Buffer).toString().startsWith(lastLine?.raw as string)).toBe(
      true,
    );
  });

  it.each([
    ['an empty object', Buffer.alloc(0), 'empty_object'],
    ['a plain-text object', Buffer.from('{"event_id":"x"}\n'), 'not_gzip'],
  ])('reports %s in quarantine instead of dropping it', async (_what, body, reason) => {
    // Act
    const outcome = await format(body);
    // Assess
    expect(outcome.faults.map((f) => f.reason)).toEqual([reason]);
    expect(quarantineOf(outcome).map((r) => r.reason)).toEqual([reason]);
    expect(outcome.files).toEqual([]);
  });

  it('finishes an object whose quarantine outgrows its gzip buffer while DuckDB copies segments', async () => {
    // Prepare: many lines over a 330-byte limit, small segments, so both queues fill at once.
    const raw = rawObjectLines({ lines: 3_000, seed: 10 });
    const workDir = join(work, `run-${runs++}`);
    // Act
    const outcome = await formatObject(chunksOf(gzipSync(Buffer.concat(raw.lines)), 4096), {
      source: SOURCE,
      workDir,
      writer,
      segmentBytes: 64 * 1024,
      maxLineBytes: 330,
    });
    // Assess
    expect(outcome.linesRead).toBe(3_000);
    expect(outcome.linesQuarantined).toBeGreaterThan(500);
    expect(outcome.rowsWritten + outcome.linesQuarantined).toBe(3_000);
    expect(quarantineOf(outcome)).toHaveLength(outcome.linesQuarantined);
  });

  it('cuts the same object into the same segments and file names on every run', async () => {
    // Prepare
    const body = gzipSync(Buffer.concat(rawObjectLines({ lines: 3_000, seed: 6 }).lines));
    // Act
    const first = await format(body, { segmentBytes: 256 * 1024 });
    const second = await format(body, { segmentBytes: 256 * 1024 });
    // Assess
    const names = (o: FormatOutcome) =>
      o.files.map((f) => `${f.type}/${f.dt}/${f.hour}/${f.segment}/${f.part}/${f.rows}`).sort();
    expect(Math.max(...first.files.map((f) => f.segment))).toBeGreaterThan(0);
    expect(names(second)).toEqual(names(first));
  });

  it('runs DuckDB with extensions neither installed nor loaded on demand, the built-in ones, UTC and a /tmp spill directory', async () => {
    // Act
    const settings = await writer.settings();
    const loaded = await writer.loadedExtensions();
    // Assess
    expect(settings).toMatchObject({
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      TimeZone: 'UTC',
      threads: '1',
      temp_directory: join(work, 'spill'),
    });
    expect(loaded).toEqual(expect.arrayContaining(['icu', 'json', 'parquet']));
  });
});
