import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { runCompact } from '../../../cli/commands/compact';
import { runLocalQuery } from '../../../cli/commands/query';
import { objectCreatedEvent } from '../../../cli/ops/backfill';
import { rawObjectLines } from '../../../cli/traffic/raw-objects';
import { runScheduledCompaction } from '../../../functions/compact-lake/compact';
import { formatS3Event } from '../../../functions/format-parquet/format';
import { HourMerger } from '../../../lib/compact/merge';
import { PatternLineCheck } from '../../../lib/domain/format/stored-lines';
import { ParquetWriter } from '../../../lib/format/duckdb';
import { silentLog } from '../../../local/log';
import { type LocalStack, startLocalStack } from '../../../local/stack';
import { readParquet } from '../../helpers/parquet';
import { clientsFor, destroyClients, listKeys, readObject, tempDataDir } from '../local/harness';

/**
 * `logbase compact` on the local stack's bucket: raw objects formatted by the real formatter (in process,
 * real DuckDB), the hours compacted, and the lake read through `logbase query` (the path users take).
 */
const ROOT = resolve(__dirname, '../../..');
const BUCKET = 'logbase-local-data';

let stack: LocalStack;
let clients: ReturnType<typeof clientsFor>;
let dataDir: string;
let work: string;
let writer: ParquetWriter;

beforeAll(async () => {
  dataDir = await tempDataDir();
  work = await mkdtemp(join(tmpdir(), 'logbase-compact-test-'));
  stack = await startLocalStack({
    serviceDir: ROOT,
    dataDir,
    fresh: true,
    offline: false,
    ports: { s3: 0, kinesis: 0, dynamodb: 0, firehose: 0, sqs: 0 },
    log: silentLog,
  });
  clients = clientsFor(stack);
  writer = await ParquetWriter.open({ tempDirectory: join(work, 'spill') });
}, 120_000);

afterAll(async () => {
  writer?.close();
  destroyClients(clients);
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
});

/** Delivers a raw object (as Firehose lands it) and runs the formatter on it, as S3's event would. */
async function deliver(key: string, body: Buffer): Promise<void> {
  await clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  await formatS3Event(objectCreatedEvent(BUCKET, key, body.length, 'ap-northeast-1') as never, {
    config: {
      dataBucket: BUCKET,
      segmentBytes: 32 * 1024 * 1024,
      workDir: join(work, 'format'),
      duckDbMemoryLimit: undefined,
    },
    s3: clients.s3,
    writer: async () => writer,
    check: () => new PatternLineCheck(),
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'test', serviceName: 'test' }),
    now: () => new Date(),
  });
}

/** A raw object of `lines` generated events starting at `hour`:`minute` on 2026-03-01 (all valid). */
function rawObject(hour: number, minute: number, seed: number, lines = 40): Buffer {
  const raw = rawObjectLines({ lines, seed, startMs: Date.UTC(2026, 2, 1, hour, minute, 0) });
  return gzipSync(Buffer.concat(raw.lines));
}

const rawKey = (hour: string, n: number) =>
  `raw/events/dt=2026-03-01/hour=${hour}/logbase-local-events-1-2026-03-01-${hour}-${String(n).padStart(2, '0')}-00-test.gz`;

/** `logbase query` in process; its JSON rows. */
async function query(sql: string): Promise<Record<string, unknown>[]> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runLocalQuery(
    sql,
    {
      format: 'json',
      allowFullScan: false,
      dryRun: false,
      bucketDir: join(stack.dataDir.s3, BUCKET),
      database: 'logbase_local',
      queryLog: stack.dataDir.queryLog,
      user: 'test',
    },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
  );
  if (code !== 0) throw new Error(`logbase query failed: ${err.join('\n')}`);
  return JSON.parse(out.join('\n'));
}

/** `logbase compact` in process, what it prints and its exit code. */
async function compact(flags: { hour?: string; from?: string; to?: string; dryRun?: boolean }) {
  const out: string[] = [];
  const code = await runCompact(
    { s3: clients.s3, bucket: BUCKET, stage: 'local' },
    {
      ...flags,
      dryRun: flags.dryRun ?? false,
      targetBytes: 128 * 1024 * 1024,
      settleMinutes: 30,
      graceMinutes: 0,
      maxHours: 1000,
      lookbackHours: 48,
      progress: false,
    },
    (l) => out.push(l),
  );
  return { code, out };
}

/** Every object under lake/ for the day, with a hash of its bytes (manifests without their run times). */
async function lakeState(): Promise<Record<string, string>> {
  const state: Record<string, string> = {};
  for (const key of await listKeys(clients.s3, BUCKET, 'lake/')) {
    if (!key.includes('dt=2026-03-01')) continue;
    state[key] = createHash('sha256')
      .update(await readObject(clients.s3, BUCKET, key))
      .digest('hex');
  }
  return state;
}

const parquetKeys = async (prefix: string) =>
  (await listKeys(clients.s3, BUCKET, prefix)).filter((k) => k.endsWith('.parquet'));

const TYPES = ['click', 'impression', 'ad_impression', 'action'];
/** Every row of every table in the hour, by event id (what a user reads). */
async function rowsOf(hour: string): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of TYPES) {
    out[t] = await query(`SELECT * FROM ${t} WHERE dt = '2026-03-01' AND hour = '${hour}' ORDER BY event_id`);
  }
  return out;
}
async function storedCount(hour: string): Promise<number> {
  let n = 0;
  for (const t of TYPES) {
    const [row] = await query(
      `SELECT count(*) AS n FROM ${t}_v1_stored WHERE dt = '2026-03-01' AND hour = '${hour}'`,
    );
    n += Number(row?.n);
  }
  return n;
}

/**
 * An hour compacted from two raw objects, then the first re-formatted by a "fixed" formatter that now
 * rejects its first 10 lines: what the hour held, the events the re-format no longer writes, and those
 * rows without them (what the hour should hold once compaction took them out).
 */
async function compactedHourThenFixed(hour: number, seed: number) {
  const hh = String(hour).padStart(2, '0');
  await deliver(rawKey(hh, 1), rawObject(hour, 5, seed));
  await deliver(rawKey(hh, 2), rawObject(hour, 20, seed + 1));
  expect((await compact({ hour: `2026-03-01T${hh}` })).code).toBe(0);
  const before = await rowsOf(hh);
  const lines = rawObjectLines({ lines: 40, seed, startMs: Date.UTC(2026, 2, 1, hour, 5, 0) }).lines;
  const idOf = (line: Buffer) => String(JSON.parse(line.toString('utf8')).event_id);
  const kept = new Set(lines.slice(10).map(idOf));
  const gone = new Set(
    lines
      .slice(0, 10)
      .map(idOf)
      .filter((id) => !kept.has(id)),
  );
  const fixed = gzipSync(
    Buffer.concat([...lines.slice(0, 10).map(() => Buffer.from('{"broken\n')), ...lines.slice(10)]),
  );
  const expected = Object.fromEntries(
    Object.entries(before).map(([t, rows]) => [
      t,
      (rows as { event_id: unknown }[]).filter((r) => !gone.has(String(r.event_id))),
    ]),
  );
  return { gone, expected, reformat: () => deliver(rawKey(hh, 1), fixed) };
}

describe('logbase compact on the local stack', () => {
  it('merges an hour of small files into one sorted file per table with the same events, a redelivery removed and counted', async () => {
    // Prepare: six raw objects of hour 03, and a Firehose redelivery of the first under another key
    for (let n = 1; n <= 6; n++) await deliver(rawKey('03', n), rawObject(3, n * 5, n));
    await deliver(rawKey('03', 7), rawObject(3, 5, 1));
    const before = await rowsOf('03');
    const storedBefore = await storedCount('03');
    const events = Object.values(before).reduce((n, rows) => n + rows.length, 0);
    const filesBefore = await parquetKeys('lake/click/v1/dt=2026-03-01/hour=03/');
    // Act
    const dry = await compact({ hour: '2026-03-01T03', dryRun: true });
    const stateAfterDryRun = await lakeState();
    const run = await compact({ hour: '2026-03-01T03' });
    // Assess
    expect(storedBefore - events).toBe(40); // the redelivered object's 40 lines are stored twice
    expect(dry.out.at(-1)).toMatch(
      /^4 hour\(s\), \d+ file\(s\), .* would be compacted; 0 unchanged, 0 not closed yet \(dry run: nothing changed\)$/,
    );
    expect(Object.keys(stateAfterDryRun)).toEqual(expect.arrayContaining(filesBefore));
    expect(run.code).toBe(0);
    expect(await rowsOf('03')).toEqual(before);
    expect(await storedCount('03')).toBe(events);
    expect(run.out.at(-2)).toMatch(
      new RegExp(
        `^4 hour\\(s\\) compacted: \\d+ -> 4 file\\(s\\), .*, ${storedBefore} rows -> ${events} \\(40 duplicate\\(s\\) removed\\); \\d+ superseded file\\(s\\) deleted;`,
      ),
    );
    const clicks = await parquetKeys('lake/click/v1/dt=2026-03-01/hour=03/');
    expect(filesBefore.length).toBeGreaterThan(1);
    expect(clicks).toEqual([expect.stringMatching(/\/compacted-[0-9a-f]{16}-0\.parquet$/)]);
    const { rows } = await readParquet(await readObject(clients.s3, BUCKET, clicks[0] as string));
    const order = rows.map((r) => `${r.user_id}|${new Date(r.occurred_at as string).toISOString()}`);
    expect(order).toEqual([...order].sort());
    const manifest = JSON.parse(
      (await readObject(clients.s3, BUCKET, 'lake/_compaction/click/v1/dt=2026-03-01/hour=03.json')).toString(
        'utf8',
      ),
    );
    expect(manifest.rows_in - manifest.rows_out).toBe(manifest.duplicates_removed);
    expect(manifest.pending_delete).toEqual([]);
  });

  it('does nothing when run a second time: the lake is byte for byte as after one run', async () => {
    // Prepare
    const once = await lakeState();
    // Act
    const again = await compact({ hour: '2026-03-01T03' });
    // Assess
    expect(again.out[0]).toBe('nothing to do: 4 hour(s) as the last compaction left them, 0 not closed yet');
    expect(await lakeState()).toEqual(once);
  });

  it('reads a raw object delivered again after its hour was compacted once, and the next compaction removes its copy', async () => {
    // Prepare
    const before = await rowsOf('03');
    const events = Object.values(before).reduce((n, rows) => n + rows.length, 0);
    // Act
    await deliver(rawKey('03', 2), rawObject(3, 10, 2));
    const meanwhile = await rowsOf('03');
    const storedMeanwhile = await storedCount('03');
    const run = await compact({ hour: '2026-03-01T03' });
    // Assess
    expect(meanwhile).toEqual(before);
    expect(storedMeanwhile).toBe(events + 40);
    expect(run.out.at(-2)).toMatch(/\(40 duplicate\(s\) removed\)/);
    expect(await rowsOf('03')).toEqual(before);
    expect(await storedCount('03')).toBe(events);
  });

  it('takes out of a compacted hour the rows a re-format no longer writes (a formatter fix quarantining lines), once', async () => {
    // Prepare: hour 10 from two objects, compacted; then the first formatted again with 10 lines now rejected
    const { gone, expected, reformat } = await compactedHourThenFixed(10, 400);
    // Act
    await reformat();
    const markers = (await listKeys(clients.s3, BUCKET, 'lake/')).filter((k) => k.includes('/_reformatted-'));
    const run = await compact({ hour: '2026-03-01T10' });
    const again = await compact({ hour: '2026-03-01T10' });
    // Assess
    expect(gone.size).toBeGreaterThan(0);
    expect(markers.length).toBeGreaterThan(0);
    expect(markers.every((k) => k.includes('/dt=2026-03-01/hour=10/'))).toBe(true);
    expect(run.code).toBe(0);
    expect(run.out.at(-2)).toContain(`, ${gone.size} event(s) a re-format no longer writes removed)`);
    expect(await rowsOf('10')).toEqual(expected);
    expect(await storedCount('10')).toBe(Object.values(expected).reduce((n, rows) => n + rows.length, 0));
    expect((await listKeys(clients.s3, BUCKET, 'lake/')).filter((k) => k.includes('/_reformatted-'))).toEqual(
      [],
    );
    expect(again.out[0]).toMatch(/^nothing to do: /);
    const manifests = (await listKeys(clients.s3, BUCKET, 'lake/_compaction/')).filter((k) =>
      k.endsWith('/dt=2026-03-01/hour=10.json'),
    );
    expect(manifests.length).toBeGreaterThan(0);
    for (const key of manifests) {
      const m = JSON.parse((await readObject(clients.s3, BUCKET, key)).toString('utf8'));
      expect(m.rows_in).toBe(m.rows_out + m.duplicates_removed + m.reformat_removed);
    }
  });

  it('takes the removed rows out too when the re-format landed while its hour was being merged (no marker from the formatter)', async () => {
    // Prepare: hour 11 compacted; then an object re-formatted with 10 lines rejected, its marker lost as if
    // the formatter had looked for the hour's compaction manifest before that compaction wrote it
    const { gone, expected, reformat } = await compactedHourThenFixed(11, 500);
    await reformat();
    for (const key of (await listKeys(clients.s3, BUCKET, 'lake/')).filter((k) =>
      k.includes('/_reformatted-'),
    ))
      await clients.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    // Act
    const run = await compact({ hour: '2026-03-01T11' });
    // Assess
    expect(gone.size).toBeGreaterThan(0);
    expect(run.out.at(-2)).toContain(`, ${gone.size} event(s) a re-format no longer writes removed)`);
    expect(await rowsOf('11')).toEqual(expected);
  });

  it('answers every query of the hour with the same count while compaction runs', async () => {
    // Prepare: hour 05 in many small objects
    for (let n = 1; n <= 12; n++) await deliver(rawKey('05', n), rawObject(5, n * 4, 100 + n, 30));
    const sql = "SELECT count(*) AS n FROM click WHERE dt = '2026-03-01' AND hour = '05'";
    const [expected] = await query(sql);
    // Act
    const answers: number[] = [];
    let done = false;
    const loop = (async () => {
      while (!done) answers.push(Number((await query(sql))[0]?.n));
    })();
    const run = await compact({ hour: '2026-03-01T05' });
    done = true;
    await loop;
    answers.push(Number((await query(sql))[0]?.n));
    // Assess
    expect(run.code).toBe(0);
    expect(answers.length).toBeGreaterThan(3);
    expect(new Set(answers)).toEqual(new Set([Number(expected?.n)]));
    expect(await parquetKeys('lake/click/v1/dt=2026-03-01/hour=05/')).toHaveLength(1);
  });

  it('compacts on schedule the hours closed since the last run, keeps the inputs for the grace period, and deletes them in a later run', async () => {
    // Prepare: hour 07 closed at 08:30 (30 minutes after its end), hour 08 open until 09:30
    for (let n = 1; n <= 4; n++) await deliver(rawKey('07', n), rawObject(7, n * 10, 200 + n));
    await deliver(rawKey('08', 1), rawObject(8, 10, 300));
    const hour08 = await lakeState();
    const sql = (hour: string) =>
      `SELECT count(*) AS n FROM impression WHERE dt = '2026-03-01' AND hour = '${hour}'`;
    const [expected] = await query(sql('07'));
    const inputs = await parquetKeys('lake/impression/v1/dt=2026-03-01/hour=07/');
    const merger = await HourMerger.open({ tempDirectory: join(work, 'merge-spill') });
    const config = {
      dataBucket: BUCKET,
      stage: 'local',
      targetBytes: 128 * 1024 * 1024,
      settleMinutes: 30,
      graceMinutes: 20,
      lookbackHours: 48,
      maxHours: 24,
      maxBytes: 4 * 1024 ** 3,
      workDir: join(work, 'scheduled'),
      duckDbMemoryLimit: undefined,
    };
    const scheduled = (at: string) =>
      runScheduledCompaction({ config, s3: clients.s3, merger: async () => merger, now: () => new Date(at) });
    // Act
    const first = await scheduled('2026-03-01T09:00:00Z');
    const duringGrace = await query(sql('07'));
    const keptInputs = await parquetKeys('lake/impression/v1/dt=2026-03-01/hour=07/');
    const second = await scheduled('2026-03-01T09:21:00Z');
    merger.close();
    // Assess
    expect(first.hours.filter((h) => h.hour === '2026-03-01T07').map((h) => h.action)).toEqual(
      expect.arrayContaining(['compacted']),
    );
    expect(first.hours.some((h) => h.hour.startsWith('2026-03-01T08'))).toBe(false);
    expect(duringGrace).toEqual([expected]);
    expect(keptInputs).toEqual(expect.arrayContaining(inputs));
    expect(keptInputs).toHaveLength(inputs.length + 1);
    expect(second.totals.compacted).toBe(0);
    expect(second.totals.deleted).toBe(first.hours.reduce((n, h) => n + h.pending_delete, 0));
    expect(await parquetKeys('lake/impression/v1/dt=2026-03-01/hour=07/')).toEqual([
      expect.stringMatching(/\/compacted-[0-9a-f]{16}-0\.parquet$/),
    ]);
    expect(await query(sql('07'))).toEqual([expected]);
    const after = await lakeState();
    for (const [key, hash] of Object.entries(hour08))
      if (key.includes('hour=08')) expect(after[key]).toBe(hash);
    const record = JSON.parse((await readObject(clients.s3, BUCKET, second.record)).toString('utf8'));
    expect(record).toMatchObject({
      command: 'compact',
      user: 'schedule',
      stage: 'local',
      counts: { deleted: second.totals.deleted },
    });
  });
});
