import { DuckDBInstance } from '@duckdb/node-api';
import {
  athenaDedup,
  duckDbDedup,
  isCompactedKey,
  isDeduplicatedHour,
  rowNumberSql,
} from '../../../lib/domain/compact/dedup';
import {
  boundRun,
  type CompactionManifest,
  compactionManifestKey,
  generationOf,
  type HourPlan,
  hourLabel,
  hourPrefix,
  lakeTableRefs,
  planHour,
  recentClosedHours,
  type StoredFile,
  splitDeletes,
  type TableHour,
} from '../../../lib/domain/compact/plan';
import { listSchemas } from '../../../lib/schemas';

const HOUR: TableHour = { type: 'click', version: 1, dt: '2026-03-01', hour: '03' };
const prefix = 'lake/click/v1/dt=2026-03-01/hour=03/';
const file = (name: string, bytes = 100, etag = `e-${name}`): StoredFile => ({
  key: `${prefix}${name}`,
  bytes,
  etag,
});
const LATER = new Date('2026-03-01T05:00:00Z');

function manifestOf(outputs: StoredFile[], pending: StoredFile[], deleteAfter: string): CompactionManifest {
  return {
    ...HOUR,
    generation: '0123456789abcdef',
    compacted_at: '2026-03-01T04:40:00Z',
    target_bytes: 1,
    sort_by: [],
    inputs: pending,
    outputs: outputs.map((o) => ({ ...o, rows: 1 })),
    rows_in: 2,
    rows_out: 1,
    duplicates_removed: 1,
    pending_delete: pending,
    delete_after: deleteAfter,
    kept_rewritten: [],
  };
}

describe('compaction planning', () => {
  it('leaves an hour alone until it is closed, then compacts every file in it', () => {
    // Prepare
    const files = [file('b-s0000.parquet'), file('a-s0000.parquet')];
    // Act
    const early = planHour({
      hour: HOUR,
      files,
      manifest: undefined,
      now: new Date('2026-03-01T04:29:59Z'),
      settleMinutes: 30,
    });
    const closed = planHour({
      hour: HOUR,
      files,
      manifest: undefined,
      now: new Date('2026-03-01T04:30:00Z'),
      settleMinutes: 30,
    });
    // Assess
    expect(early.action).toBe('open');
    expect(closed).toEqual({
      action: 'compact',
      hour: HOUR,
      inputs: [file('a-s0000.parquet'), file('b-s0000.parquet')],
      markers: [],
      rewritten: [],
      generation: generationOf(files),
      bytes: 200,
    });
  });

  it('finds nothing to do in an hour as its compaction left it, and deletes its inputs once the grace period is over', () => {
    // Prepare
    const out = file('compacted-0123456789abcdef-0.parquet');
    const input = file('a-s0000.parquet');
    const manifest = manifestOf([out], [input], '2026-03-01T05:40:00Z');
    // Act
    const waiting = planHour({ hour: HOUR, files: [out, input], manifest, now: LATER, settleMinutes: 30 });
    const due = planHour({
      hour: HOUR,
      files: [out, input],
      manifest,
      now: new Date('2026-03-01T05:40:00Z'),
      settleMinutes: 30,
    });
    const done = planHour({
      hour: HOUR,
      files: [out],
      manifest: { ...manifest, pending_delete: [] },
      now: LATER,
      settleMinutes: 30,
    });
    // Assess
    expect(waiting.action).toBe('none');
    expect(due).toEqual({ action: 'delete', hour: HOUR, files: [input], manifest });
    expect(done.action).toBe('none');
  });

  it('compacts a compacted hour again when the formatter wrote into it since (a redelivery, a backfill, a rewritten input)', () => {
    // Prepare
    const out = file('compacted-0123456789abcdef-0.parquet');
    const input = file('a-s0000.parquet');
    const manifest = manifestOf([out], [input], '2026-03-01T05:40:00Z');
    // Act
    const delta = planHour({
      hour: HOUR,
      files: [out, file('z-s0000.parquet')],
      manifest: { ...manifest, pending_delete: [] },
      now: LATER,
      settleMinutes: 30,
    });
    const rewritten = planHour({
      hour: HOUR,
      files: [out, { ...input, etag: 'other' }],
      manifest,
      now: LATER,
      settleMinutes: 30,
    });
    // Assess
    expect(delta.action).toBe('compact');
    expect(delta.action === 'compact' && delta.inputs.map((f) => f.key)).toEqual([
      out.key,
      `${prefix}z-s0000.parquet`,
    ]);
    expect(rewritten.action).toBe('compact');
    expect(rewritten.action === 'compact' && rewritten.rewritten).toEqual([input.key]);
    expect(delta.action === 'compact' && delta.rewritten).toEqual([]);
  });

  it('compacts a compacted hour again when a re-format left its marker there, and not once that marker is applied', () => {
    // Prepare
    const out = file('compacted-0123456789abcdef-0.parquet');
    const marker = file('_reformatted-a-1234abcd.json', 80);
    const manifest = manifestOf([out], [], '2026-03-01T05:40:00Z');
    const plan = (markers: StoredFile[], m: CompactionManifest) =>
      planHour({ hour: HOUR, files: [out], markers, manifest: m, now: LATER, settleMinutes: 30 });
    // Act
    const marked = plan([marker], manifest);
    const applied = plan([marker], { ...manifest, markers: [marker] });
    const rewritten = plan([{ ...marker, etag: 'other' }], { ...manifest, markers: [marker] });
    // Assess
    expect(marked).toMatchObject({ action: 'compact', inputs: [out], markers: [marker] });
    expect(marked.action === 'compact' && marked.generation).not.toBe(generationOf([out]));
    expect(applied.action).toBe('none');
    expect(rewritten.action).toBe('compact');
  });

  it('gives the same inputs the same generation and other inputs another one', () => {
    // Act / Assess
    expect(generationOf([file('a'), file('b')])).toBe(generationOf([file('b'), file('a')]));
    expect(generationOf([file('a'), file('b')])).not.toBe(generationOf([file('a'), file('b', 101)]));
    expect(generationOf([file('a')])).toMatch(/^[0-9a-f]{16}$/);
    expect(isCompactedKey(`${prefix}compacted-${generationOf([file('a')])}-3.parquet`)).toBe(true);
    expect(isCompactedKey(`${prefix}compacted-x-s0000.parquet`)).toBe(false);
  });

  it('bounds a run by hours and bytes, oldest first, always running deletes and at least one hour', () => {
    // Prepare
    const compactPlan = (hour: string, bytes: number): HourPlan => ({
      action: 'compact',
      hour: { ...HOUR, hour },
      inputs: [],
      markers: [],
      rewritten: [],
      generation: hour,
      bytes,
    });
    const del: HourPlan = { action: 'delete', hour: HOUR, files: [], manifest: manifestOf([], [], '') };
    // Act
    const { run, deferred } = boundRun(
      [compactPlan('01', 900), del, compactPlan('02', 200), compactPlan('03', 50)],
      {
        maxHours: 2,
        maxBytes: 1000,
      },
    );
    const big = boundRun([compactPlan('01', 5000)], { maxHours: 2, maxBytes: 1000 });
    // Assess
    expect(run.map((p) => `${p.action} ${p.hour.hour}`)).toEqual(['compact 01', 'delete 03', 'compact 03']);
    expect(deferred.map((p) => p.hour.hour)).toEqual(['02']);
    expect(big.run).toHaveLength(1);
  });

  it('keeps an input that was rewritten since compaction read it, and skips one already gone', () => {
    // Prepare
    const pending = [file('a'), file('b'), file('c')];
    const current = new Map([
      [file('a').key, file('a')],
      [file('b').key, { ...file('b'), etag: 'new' }],
    ]);
    // Act
    const split = splitDeletes(pending, current);
    // Assess
    expect(split.remove).toEqual([file('a')]);
    expect(split.rewritten).toEqual([file('b')]);
    expect(split.gone).toEqual([file('c')]);
  });

  it('lists the closed hours of the lookback window, oldest first, and names the manifest by hour', () => {
    // Act
    const hours = recentClosedHours(new Date('2026-03-01T02:20:00Z'), 3, 30);
    // Assess
    expect(hours).toEqual([
      { dt: '2026-02-28', hour: '23' },
      { dt: '2026-03-01', hour: '00' },
    ]);
    expect(compactionManifestKey(HOUR)).toBe('lake/_compaction/click/v1/dt=2026-03-01/hour=03.json');
  });
});

describe('the dedup rule', () => {
  it('keeps the first received copy of an event, a formatter copy before a compacted one, then the lowest path', async () => {
    // Prepare
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const rows = [
      // event e1: resent by the client later; the first delivery is kept
      ["'e1'", "'2026-03-01 03:00:02'", "'r2'", "'lake/x/b-s0000.parquet'", "'late'"],
      ["'e1'", "'2026-03-01 03:00:01'", "'r1'", "'lake/x/c-s0000.parquet'", "'first'"],
      // event e2: one delivery, in a compacted file and again in a formatter's (a backfill): the formatter's is kept
      [
        "'e2'",
        "'2026-03-01 03:00:01'",
        "'r1'",
        "'lake/x/compacted-0123456789abcdef-0.parquet'",
        "'compacted'",
      ],
      ["'e2'", "'2026-03-01 03:00:01'", "'r1'", "'lake/x/z-s0000.parquet'", "'backfilled'"],
      // event e3: two identical copies of one delivery: the lowest path
      ["'e3'", "'2026-03-01 03:00:01'", "'r1'", "'lake/x/b-s0000.parquet'", "'b'"],
      ["'e3'", "'2026-03-01 03:00:01'", "'r1'", "'lake/x/a-s0000.parquet'", "'a'"],
    ];
    const values = rows.map((r) => `(${r.join(', ')})`).join(', ');
    // Act
    const kept = await c.runAndReadAll(
      `SELECT event_id, v FROM (VALUES ${values}) t(event_id, received_at, request_id, path, v)
       QUALIFY ${rowNumberSql(duckDbDedup('path', []))} = 1 ORDER BY event_id`,
    );
    c.closeSync();
    db.closeSync();
    // Assess
    expect(kept.getRowsJS()).toEqual([
      ['e1', 'first'],
      ['e2', 'backfilled'],
      ['e3', 'a'],
    ]);
  });
});

describe('a deduplicated hour', () => {
  it('is one whose files are all one compaction output, so a reader may skip the rule there', () => {
    // Prepare
    const out = (g: string, i: number) =>
      `lake/click/v1/dt=2026-03-01/hour=03/compacted-${g}-${i}.parquet._S3rver_object`;
    const g1 = '0123456789abcdef';
    const g2 = 'fedcba9876543210';
    // Act / Assess
    expect(isDeduplicatedHour([out(g1, 0), out(g1, 1)])).toBe(true);
    expect(isDeduplicatedHour([out(g1, 0), out(g2, 0)])).toBe(false);
    expect(isDeduplicatedHour([out(g1, 0), 'lake/click/v1/dt=2026-03-01/hour=03/raw-1-s0000.parquet'])).toBe(
      false,
    );
    expect(isDeduplicatedHour([])).toBe(false);
  });
});

describe('the lake layout compaction works over', () => {
  it("names an hour's files, its label in the summary and its manifest where the formatter's layout puts them", () => {
    // Prepare
    const hour: TableHour = { type: 'click', version: 1, dt: '2026-03-01', hour: '03' };

    // Act / Assess
    expect(hourPrefix(hour)).toBe('lake/click/v1/dt=2026-03-01/hour=03/');
    expect(hourLabel(hour)).toBe('click_v1 2026-03-01T03');
    expect(compactionManifestKey(hour)).toBe('lake/_compaction/click/v1/dt=2026-03-01/hour=03.json');
  });

  it("lists every registry table, or one type's versions only", () => {
    // Act
    const all = lakeTableRefs();
    const clicks = lakeTableRefs('click');

    // Assess
    expect(all).toEqual(listSchemas().map((s) => ({ type: s.type, version: s.version })));
    expect(clicks.length).toBeGreaterThan(0);
    expect(clicks.every((t) => t.type === 'click')).toBe(true);
    expect(lakeTableRefs('no-such-type')).toEqual([]);
  });

  it('orders copies on Athena exactly as on DuckDB, over the "$path" pseudo column', () => {
    // Act
    const athena = athenaDedup();
    const duck = duckDbDedup('filename');

    // Assess: the same keys in the same order; only the regex function and the path column differ
    expect(athena.partitionBy).toBe(duck.partitionBy);
    expect(athena.orderBy.replace('regexp_like', 'regexp_matches').replaceAll('"$path"', 'filename')).toBe(
      duck.orderBy,
    );
  });
});
