import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { runBackfill } from '../../../cli/commands/backfill';
import { runRedriveFormat } from '../../../cli/commands/redrive';
import { loadFixtures, type ReplayTarget, replay } from '../../../cli/ops/replay';
import { rawObjectLines } from '../../../cli/traffic/raw-objects';
import { lambdaClient } from '../../../lib/aws/clients';
import { type FormatManifest, manifestKey } from '../../../lib/domain/format/records';
import { API_KEY, BUCKET, usePlatform } from '../collect/platform';
import { eventually, listKeys, readObject } from '../local/harness';

/**
 * The operations commands on the whole local platform (serverless-offline running the functions):
 * fixtures replayed as their sources deliver them, and the formatter re-run over raw hours.
 */
const platform = usePlatform();
const EVENTS = resolve(__dirname, '../../../events');

function target(invoke: boolean): ReplayTarget {
  const { stack, clients } = platform;
  return {
    wiring: stack.wiring,
    config: stack.config,
    bucket: BUCKET,
    httpEndpoint: stack.endpoints.http as string,
    apiKey: API_KEY,
    s3: clients.s3,
    kinesis: clients.kinesis,
    lambda: lambdaClient({ ...process.env, ...stack.env }),
    invoke,
    waitMs: 20_000,
  };
}

async function manifestOf(rawKey: string): Promise<FormatManifest | undefined> {
  const keys = await listKeys(platform.clients.s3, BUCKET, manifestKey(rawKey));
  if (!keys.includes(manifestKey(rawKey))) return undefined;
  return JSON.parse((await readObject(platform.clients.s3, BUCKET, manifestKey(rawKey))).toString('utf8'));
}

/**
 * Every object of the lake and the formatter's quarantine in the days of this file's raw objects
 * (2026-03-01: their hours and their events' times), with a hash of its bytes (a manifest without
 * its run time). The replayed HTTP fixtures' events (2026-11-20) land through Firehose whenever it flushes.
 */
async function lakeState(): Promise<Record<string, string>> {
  const state: Record<string, string> = {};
  for (const prefix of ['lake/', 'quarantine/format/']) {
    for (const key of await listKeys(platform.clients.s3, BUCKET, prefix)) {
      if (!key.includes('/dt=2026-03-01/')) continue;
      let bytes = await readObject(platform.clients.s3, BUCKET, key);
      if (key.startsWith('lake/_manifests/')) {
        const { formatted_at: _ignored, ...rest } = JSON.parse(bytes.toString('utf8'));
        bytes = Buffer.from(JSON.stringify(rest));
      }
      state[key] = createHash('sha256').update(bytes).digest('hex');
    }
  }
  return state;
}

const HOUR_A = 'raw/events/dt=2026-03-01/hour=03/';
const HOUR_B = 'raw/events/dt=2026-03-01/hour=04/';

describe('logbase replay on the local stack', () => {
  it('sends an HTTP fixture to the API and prints what collect accepted and rejected', async () => {
    // Prepare
    const fixtures = await loadFixtures(join(EVENTS, 'http', 'mixed-valid-invalid.json'));
    // Act
    const [outcome] = await replay(fixtures, target(false));
    // Assess
    expect(outcome?.delivered).toBe(`POST ${platform.stack.endpoints.http}/v1/events`);
    expect(outcome?.stages[0]).toMatch(/^logbase-local-collect: HTTP 202: accepted 3, rejected 7 /);
    expect(outcome?.ok).toBe(true);
  });

  it('hands a Kinesis fixture to the function reading the stream with --invoke and prints the records it failed', async () => {
    // Prepare
    const fixtures = await loadFixtures(join(EVENTS, 'kinesis', 'poison.json'));
    // Act
    const [outcome] = await replay(fixtures, target(true));
    // Assess
    expect(outcome?.stages).toEqual([
      'logbase-local-updateUserVectors: 2 records processed, 1 reported as failed',
    ]);
  });

  it('writes the object an S3 fixture names again and prints what the formatter made of it', async () => {
    // Prepare
    const fixtures = await loadFixtures(join(EVENTS, 's3', 'object-created-clicks.json'));
    const key =
      'raw/clicks/dt=2026-03-01/hour=03/logbase-local-clicks-1-2026-03-01-03-05-11-0b6a5c1e-8f3d-4a9b-9c1d-2e7f4a6b8c90.gz';
    const raw = rawObjectLines({ lines: 40, badShare: 0.1, seed: 21 });
    await platform.clients.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: gzipSync(Buffer.concat(raw.lines)) }),
    );
    await eventually('the first manifest', () => manifestOf(key), 20_000);
    // Act
    const [outcome] = await replay(fixtures, target(false));
    // Assess
    const bad = 40 - raw.valid.length;
    expect(outcome?.delivered).toBe(`wrote s3://${BUCKET}/${key} again`);
    expect(outcome?.stages[0]).toMatch(
      new RegExp(
        `^formatParquet: 40 lines read = ${raw.valid.length} rows written \\+ ${bad} quarantined \\(`,
      ),
    );
  });

  it('says an S3 fixture cannot be written when the bucket does not hold its object', async () => {
    // Prepare
    const fixtures = await loadFixtures(join(EVENTS, 's3', 'object-created-spaces-plus.json'));
    // Act
    const [outcome] = await replay(fixtures, target(false));
    // Assess
    expect(outcome?.ok).toBe(false);
    expect(outcome?.stages[0]).toMatch(/is not in the bucket, and a fixture holds no object bytes/);
  });
});

describe('logbase backfill on the local stack', () => {
  const keys = [`${HOUR_A}a-1.gz`, `${HOUR_A}a-2.gz`, `${HOUR_B}b-1.gz`];

  beforeAll(async () => {
    for (const [i, key] of keys.entries()) {
      const raw = rawObjectLines({ lines: 60, badShare: 0.05, seed: 30 + i });
      await platform.clients.s3.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: gzipSync(Buffer.concat(raw.lines)) }),
      );
    }
    await eventually(
      'the formatter ran on every object',
      async () => ((await Promise.all(keys.map(manifestOf))).every(Boolean) ? true : undefined),
      30_000,
    );
  });

  const run = (dryRun: boolean, out: string[]) =>
    runBackfill(
      {
        s3: platform.clients.s3,
        lambda: lambdaClient({ ...process.env, ...platform.stack.env }),
        bucket: BUCKET,
        formatter: 'logbase-local-formatParquet',
        region: 'ap-northeast-1',
        stage: 'local',
      },
      { from: '2026-03-01T03', to: '2026-03-01T04', dryRun, concurrency: 2, progress: false },
      (line) => out.push(line),
    );

  it('lists the objects of the hours and their sizes on --dry-run, and changes nothing', async () => {
    // Prepare
    const before = await lakeState();
    const out: string[] = [];
    // Act
    const code = await run(true, out);
    // Assess
    expect(code).toBe(0);
    // The clicks object of the replay test is in hour 03 too.
    expect(out.filter((l) => l.includes('s3://'))).toHaveLength(4);
    expect(out.at(-1)).toMatch(/^4 object\(s\), \d+ bytes would be re-formatted \(dry run: nothing ran\)$/);
    expect(await lakeState()).toEqual(before);
  });

  it('rebuilds lost Parquet files, reconciles every hour, and a second run leaves the lake as the first', async () => {
    // Prepare
    const before = await lakeState();
    const lost = (await manifestOf(keys[0] as string))?.outputs[0]?.key as string;
    await platform.clients.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: lost }));
    const first: string[] = [];
    const second: string[] = [];
    // Act
    const code = await run(false, first);
    const afterOne = await lakeState();
    await run(false, second);
    const afterTwo = await lakeState();
    // Assess
    expect(code).toBe(0);
    expect(afterOne).toEqual(before);
    expect(afterTwo).toEqual(afterOne);
    const hourB = first.find((l) => l.startsWith('2026-03-01T04'));
    const b = (await manifestOf(keys[2] as string)) as FormatManifest;
    expect(hourB).toBe(
      `2026-03-01T04  1 object(s)  60 lines read = ${b.rows_written} rows written + ${b.lines_quarantined} quarantined (${Object.entries(
        b.quarantined_by_reason,
      )
        .map(([r, n]) => `${r} ${n}`)
        .join(', ')})`,
    );
    expect(first.at(-2)).toMatch(/^4 object\(s\), \d+ bytes re-formatted; 0 failed; every hour reconciles$/);
  });

  it('records every run under ops/runs/backfill/ with who, when, what and the counts', async () => {
    // Prepare
    const out: string[] = [];
    // Act
    await run(false, out);
    // Assess
    const recorded = out.at(-1)?.replace(`recorded: s3://${BUCKET}/`, '') as string;
    expect(recorded).toMatch(/^ops\/runs\/backfill\/dt=\d{4}-\d{2}-\d{2}\/.+\.json$/);
    const record = JSON.parse((await readObject(platform.clients.s3, BUCKET, recorded)).toString('utf8'));
    expect(record).toMatchObject({
      command: 'backfill',
      stage: 'local',
      arguments: { from: '2026-03-01T03', to: '2026-03-01T04', type: null, concurrency: 2 },
      counts: { objects: 4, failed: 0, reconciled: true },
    });
    expect(typeof record.user).toBe('string');
    expect(Date.parse(record.finished_at)).toBeGreaterThanOrEqual(Date.parse(record.started_at));
  });
});

describe('logbase redrive format on the local stack', () => {
  const key = 'raw/events/dt=2026-03-01/hour=05/r-1.gz';
  const out = (lines: string[]) => (line: string) => lines.push(line);
  const redrive = (lines: string[]) =>
    runRedriveFormat(
      {
        s3: platform.clients.s3,
        lambda: lambdaClient({ ...process.env, ...platform.stack.env }),
        bucket: BUCKET,
        formatter: 'logbase-local-formatParquet',
        region: 'ap-northeast-1',
        stage: 'local',
      },
      { from: '2026-03-01T05', to: '2026-03-01T05', dryRun: false, concurrency: 2 },
      out(lines),
    );

  /**
   * The state an earlier formatter would have left with a bug that quarantined every `action` line
   * as an unknown version: their Parquet files gone, their lines in the quarantine object, the
   * manifest counting them there.
   */
  async function simulateBug(actionLines: string[]): Promise<void> {
    const s3 = platform.clients.s3;
    const manifest = (await manifestOf(key)) as FormatManifest;
    const gone = manifest.outputs.filter((f) => f.type === 'action');
    for (const f of gone) await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: f.key }));
    const qKey = manifest.quarantine?.key as string;
    const kept = gunzipSync(await readObject(s3, BUCKET, qKey)).toString('utf8');
    const added = actionLines.map((raw, i) =>
      JSON.stringify({
        reason: 'unknown_version',
        errors: [{ path: '/schema_version', message: 'unknown version 1 of action' }],
        source: { bucket: BUCKET, key, line: 1000 + i, byte_offset: null },
        raw,
        raw_encoding: 'utf8',
        raw_bytes: Buffer.byteLength(raw),
        raw_truncated: false,
      }),
    );
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: qKey, Body: gzipSync(`${kept}${added.join('\n')}\n`) }),
    );
    const rows = gone.reduce((n, f) => n + f.rows, 0);
    const buggy = {
      ...manifest,
      rows_written: manifest.rows_written - rows,
      lines_quarantined: manifest.lines_quarantined + rows,
      quarantined_by_reason: { ...manifest.quarantined_by_reason, unknown_version: rows },
      outputs: manifest.outputs.filter((f) => f.type !== 'action'),
      quarantine: { key: qKey, records: (manifest.quarantine?.records ?? 0) + rows },
    };
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: manifestKey(key), Body: JSON.stringify(buggy) }),
    );
  }

  it('writes the lines a fixed registry now passes to the lake once, keeps the rest, and a second run moves nothing', async () => {
    // Prepare
    const raw = rawObjectLines({ lines: 80, badShare: 0.05, seed: 40 });
    await platform.clients.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: gzipSync(Buffer.concat(raw.lines)) }),
    );
    const good = (await eventually('the first manifest', () => manifestOf(key), 20_000)) as FormatManifest;
    const correct = await lakeState();
    const actionLines = raw.validLines
      .filter((l) => l.includes('"event_type":"action"'))
      .map((l) => l.trimEnd());
    expect(actionLines.length).toBeGreaterThan(0);
    await simulateBug(actionLines);
    const first: string[] = [];
    const second: string[] = [];
    // Act
    const code = await redrive(first);
    const afterOne = await lakeState();
    await redrive(second);
    const afterTwo = await lakeState();
    // Assess
    expect(code).toBe(0);
    expect(afterOne).toEqual(correct);
    expect(afterTwo).toEqual(afterOne);
    const n = actionLines.length;
    // The object's own lines of an unknown version (genuinely bad) stay.
    const stays = good.quarantined_by_reason.unknown_version ?? 0;
    expect(first).toContainEqual(
      expect.stringMatching(
        new RegExp(`^unknown_version +${n + stays} quarantined +${n} redriven to the lake +${stays} stay$`),
      ),
    );
    const genuine = good.lines_quarantined;
    expect(first.at(-2)).toBe(
      `1 quarantine object(s), ${n + genuine} line(s): ${n} redriven (1 raw object(s) formatted again), ${genuine} stay`,
    );
    expect(second.at(-2)).toBe(
      `1 quarantine object(s), ${genuine} line(s): 0 redriven (0 raw object(s) formatted again), ${genuine} stay`,
    );
  });
});
