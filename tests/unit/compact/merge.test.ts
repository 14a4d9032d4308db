import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { HourMerger, type MergeInput } from '../../../lib/compact/merge';
import { type ReformatMarker, sourceOf, stemOfName } from '../../../lib/domain/compact/reformat';

/**
 * The merge of an hour on real DuckDB, for a raw object re-formatted after its hour was compacted:
 * the compacted file is the only copy of its old rows, so the marker is what takes them out.
 */

let dir: string;
let merger: HourMerger;
let writer: DuckDBInstance;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'logbase-merge-test-'));
  merger = await HourMerger.open({ tempDirectory: join(dir, 'spill'), threads: 1 });
  writer = await DuckDBInstance.create(':memory:');
});
afterAll(async () => {
  merger.close();
  writer.closeSync();
  await rm(dir, { recursive: true, force: true });
});

const STEM_A = 'events-a-1234abcd';
const A = `${STEM_A}-s0000.parquet`;
const B = 'events-b-5678abcd-s0000.parquet';

/** A formatter-like file with the envelope columns the dedup rule and the sort read. */
async function formatterFile(name: string, events: string[]): Promise<string> {
  const path = join(dir, name);
  const values = events
    .map(
      (e, i) =>
        `('${e}', 'u${i % 2}', TIMESTAMPTZ '2026-03-01 03:0${i}:00+00', TIMESTAMPTZ '2026-03-01 03:1${i}:00+00', 'r-${e}')`,
    )
    .join(', ');
  const connection = await writer.connect();
  await connection.run(
    `COPY (SELECT * FROM (VALUES ${values}) t(event_id, user_id, occurred_at, received_at, request_id)) TO '${path}' (FORMAT parquet)`,
  );
  connection.closeSync();
  return path;
}

let run = 0;
/** One merge as compact-lake runs it: inputs renamed in key order, a compacted input without an origin. */
async function merge(
  inputs: { path: string; name: string; etag?: string }[],
  reformatted: ReformatMarker[] = [],
) {
  run += 1;
  const local: MergeInput[] = [];
  for (const [i, f] of inputs.entries()) {
    const file = join(dir, `in-${run}-${String(i).padStart(6, '0')}-${f.name}`);
    await copyFile(f.path, file);
    local.push({ file, ...(f.name.startsWith('compacted-') ? {} : { origin: sourceOf(f.name, f.etag) }) });
  }
  const generation = String(run).padStart(16, '0');
  const result = await merger.merge({
    inputs: local,
    outDir: join(dir, `out-${run}`),
    generation,
    targetBytes: 128 * 1024 * 1024,
    sortBy: ['user_id', 'occurred_at', 'event_id'],
    reformatted,
  });
  const [file] = result.files;
  const connection = await writer.connect();
  const rows = (
    await connection.runAndReadAll(`SELECT event_id, lb_source FROM '${file?.file}' ORDER BY event_id`)
  ).getRowsJS();
  connection.closeSync();
  return {
    result,
    rows,
    compacted: { path: file?.file as string, name: `compacted-${generation}-0.parquet` },
  };
}

describe('compaction of an hour with a re-formatted raw object', () => {
  it('names the stem of a formatter file and nothing else', () => {
    expect(stemOfName(A)).toBe(STEM_A);
    expect(stemOfName(`${STEM_A}-s0003-2.parquet`)).toBe(STEM_A);
    expect(stemOfName('compacted-0123456789abcdef-0.parquet')).toBeUndefined();
  });

  it("keeps each row's origin, drops the compacted rows a re-format no longer writes, and counts those events apart from the copies it replaced", async () => {
    // Prepare: object A (e1..e3) and B (e4) compacted; then A re-formatted by a fixed formatter into e1, e2
    const a = await formatterFile(A, ['e1', 'e2', 'e3']);
    const b = await formatterFile(B, ['e4']);
    const first = await merge([
      { path: a, name: A, etag: 'old' },
      { path: b, name: B, etag: 'b1' },
    ]);
    const reformattedA = await formatterFile(`new-${A}`, ['e1', 'e2']);
    const marker: ReformatMarker = { source: 'raw/a.gz', stem: STEM_A, current: [sourceOf(A, 'new')] };
    // Act
    const second = await merge([first.compacted, { path: reformattedA, name: A, etag: 'new' }], [marker]);
    // Assess
    expect(first.rows).toEqual([
      ['e1', `${A}@old`],
      ['e2', `${A}@old`],
      ['e3', `${A}@old`],
      ['e4', `${B}@b1`],
    ]);
    expect(second.rows).toEqual([
      ['e1', `${A}@new`],
      ['e2', `${A}@new`],
      ['e4', `${B}@b1`],
    ]);
    expect(second.result).toMatchObject({ rowsIn: 6, rowsOut: 3, duplicates: 2, reformatRemoved: 1 });
  });

  it('takes out the old rows when a compaction merged the re-format before its marker landed, and keeps the new ones', async () => {
    // Prepare: a compaction ran between the re-format's files and its marker, mixing old and new rows of A
    const a = await formatterFile(A, ['e1', 'e2', 'e3']);
    const first = await merge([{ path: a, name: A, etag: 'old' }]);
    const reformattedA = await formatterFile(`new2-${A}`, ['e1', 'e2']);
    const mixed = await merge([first.compacted, { path: reformattedA, name: A, etag: 'new' }]);
    // Act
    const marked = await merge(
      [mixed.compacted],
      [{ source: 'raw/a.gz', stem: STEM_A, current: [`${A}@new`] }],
    );
    // Assess
    expect(mixed.rows).toEqual([
      ['e1', `${A}@new`],
      ['e2', `${A}@new`],
      ['e3', `${A}@old`],
    ]);
    expect(marked.rows).toEqual([
      ['e1', `${A}@new`],
      ['e2', `${A}@new`],
    ]);
    expect(marked.result).toMatchObject({ rowsIn: 3, rowsOut: 2, duplicates: 0, reformatRemoved: 1 });
  });

  it('removes nothing when the re-format wrote the same file again, or for an object it was not about', async () => {
    // Prepare
    const a = await formatterFile(A, ['e1', 'e2']);
    const b = await formatterFile(B, ['e4']);
    const first = await merge([
      { path: a, name: A, etag: 'same' },
      { path: b, name: B, etag: 'b1' },
    ]);
    // Act
    const again = await merge(
      [first.compacted, { path: a, name: A, etag: 'same' }],
      [{ source: 'raw/a.gz', stem: STEM_A, current: [`${A}@same`] }],
    );
    // Assess
    expect(again.rows.map((r) => r[0])).toEqual(['e1', 'e2', 'e4']);
    expect(again.result).toMatchObject({ rowsIn: 5, rowsOut: 3, duplicates: 2, reformatRemoved: 0 });
  });
});
