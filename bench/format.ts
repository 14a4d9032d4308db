/**
 * Formatter benchmark (a script that prints figures; not a test). Run: `npm run bench:format`.
 *
 * 1. Throughput, on one generated raw object (FORMAT_BENCH_EVENTS lines as collect writes them,
 *    gzip, FORMAT_BENCH_BAD_SHARE of them bad, spread over every bad-line kind): the formatter
 *    core (lib/format/format-object.ts: gunzip, validate, segments, DuckDB COPY to zstd Parquet,
 *    quarantine; no S3) with the text-pattern fast path and with JSON.parse only, against the
 *    DuckDB reference (one COPY of read_json with typed columns to partitioned zstd Parquet,
 *    validating nothing) on the same object with the bad lines removed, at 1 and 2 threads.
 *    Median of FORMAT_BENCH_ROUNDS interleaved rounds, each run in its own child process (so its
 *    peak RSS is its own). Plus one core run pinned to one core (`taskset -c 0`) when available.
 * 2. Peak RSS of the core with the V8 heap capped at 256 MB on a 128 MiB raw object (Firehose's
 *    largest buffer) and on a 128 MiB gzip object (FORMAT_BENCH_RSS_MIB, 0 skips).
 * 3. Seconds from a raw object's creation to its Parquet being readable on the local stack
 *    (s3rver notification, serverless-offline, formatParquet), cold and warm (FORMAT_BENCH_STACK=0 skips).
 *
 * Generated objects are kept under bench/out/ (ignored by git) and reused by later runs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { createGzip, gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { BAD_LINE_KINDS, rawLines } from '../cli/traffic/raw-objects';
import { s3Client } from '../lib/aws/clients';
import { manifestKey } from '../lib/domain/format/records';
import { ParsedLineCheck, PatternLineCheck } from '../lib/domain/format/stored-lines';
import { ParquetWriter } from '../lib/format/duckdb';
import { formatObject } from '../lib/format/format-object';
import { type Column, listSchemas } from '../lib/schemas';
import { silentLog } from '../local/log';
import { startLocalStack } from '../local/stack';

const ROOT = resolve(__dirname, '..');
const OUT = join(ROOT, 'bench', 'out');
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const EVENTS = num('FORMAT_BENCH_EVENTS', 1_000_000);
const BAD_SHARE = num('FORMAT_BENCH_BAD_SHARE', 0.005);
const ROUNDS = num('FORMAT_BENCH_ROUNDS', 3);
const RSS_MIB = num('FORMAT_BENCH_RSS_MIB', 128);
const STACK = process.env.FORMAT_BENCH_STACK !== '0';
const HEAP_MB = 256;

interface RunResult {
  lines: number;
  rows: number;
  quarantined: number;
  wallMs: number;
  cpuMs: number;
  maxRssMiB: number;
}

// ------------------------------------------------------------------ children (one measurement each)

const DUCKDB_TYPE: Record<Column['type'], string> = {
  string: 'VARCHAR',
  int: 'INTEGER',
  bigint: 'BIGINT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMPTZ',
  'map<string,string>': 'MAP(VARCHAR, VARCHAR)',
};

/** The reference: one DuckDB COPY of the clean object, every type's columns, partitioned by type and UTC hour. */
async function reference(
  file: string,
  threads: number,
  work: string,
): Promise<Omit<RunResult, 'wallMs' | 'cpuMs' | 'maxRssMiB'>> {
  const writer = await ParquetWriter.open({ tempDirectory: join(work, 'spill'), threads });
  const union = new Map<string, string>();
  for (const s of listSchemas()) for (const c of s.fields) union.set(c.name, DUCKDB_TYPE[c.type]);
  const columns = [...union].map(([n, t]) => `'${n}': '${t}'`).join(', ');
  const utc = "(occurred_at AT TIME ZONE 'UTC')";
  const connection = (
    writer as unknown as { connection: { runAndReadAll(sql: string): Promise<{ getRowsJS(): unknown[][] }> } }
  ).connection;
  const result = await connection.runAndReadAll(`COPY (
      SELECT *, strftime(${utc}, '%Y-%m-%d') AS dt, strftime(${utc}, '%H') AS hour
      FROM read_json('${file}', format = 'newline_delimited', columns = {${columns}})
    ) TO '${join(work, 'parquet')}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (event_type, dt, hour), RETURN_STATS true)`);
  const rows = result.getRowsJS().reduce((n, r) => n + Number(r[1]), 0);
  writer.close();
  return { lines: rows, rows, quarantined: 0 };
}

async function child(mode: string, file: string, resultFile: string): Promise<void> {
  const work = join(OUT, `work-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const writer = mode.startsWith('core')
    ? await ParquetWriter.open({ tempDirectory: join(work, 'spill') })
    : undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let counts: Omit<RunResult, 'wallMs' | 'cpuMs' | 'maxRssMiB'>;
  if (writer) {
    const check = mode === 'core-parsed' ? new ParsedLineCheck() : new PatternLineCheck();
    const outcome = await formatObject(createReadStream(file, { highWaterMark: 1 << 20 }), {
      source: { bucket: 'bench', key: 'raw/events/bench.gz' },
      workDir: join(work, 'object'),
      writer,
      check,
    });
    counts = { lines: outcome.linesRead, rows: outcome.rowsWritten, quarantined: outcome.linesQuarantined };
  } else {
    counts = await reference(file, mode === 'ref-2' ? 2 : 1, work);
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const result: RunResult = {
    ...counts,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  };
  writer?.close();
  rmSync(work, { recursive: true, force: true });
  writeFileSync(resultFile, JSON.stringify(result));
}

let runCount = 0;
function run(mode: string, file: string, options: { pin?: boolean } = {}): RunResult {
  const resultFile = join(OUT, `result-${process.pid}-${runCount++}.json`);
  const args = [
    `--max-old-space-size=${HEAP_MB}`,
    '--import',
    'tsx',
    __filename,
    'child',
    mode,
    file,
    resultFile,
  ];
  const [cmd, argv] = options.pin
    ? ['taskset', ['-c', '0', process.execPath, ...args]]
    : [process.execPath, args];
  const out = spawnSync(cmd as string, argv as string[], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (out.status !== 0 || !existsSync(resultFile)) {
    throw new Error(
      `${mode} failed (status ${out.status}, signal ${out.signal}):\n${out.stderr}\n${out.stdout.slice(-2000)}`,
    );
  }
  const result = JSON.parse(readFileSync(resultFile, 'utf8')) as RunResult;
  rmSync(resultFile);
  return result;
}

// ------------------------------------------------------------------ inputs

interface Generated {
  file: string;
  clean: string;
  rawBytes: number;
  cleanRawBytes: number;
  lines: number;
  cleanLines: number;
}

/** Writes (or reuses) a gzip raw object and its clean twin; stops at `lines`, or at a raw or gzip size. */
async function generate(
  name: string,
  limit: { lines?: number; rawBytes?: number; gzipBytes?: number },
): Promise<Generated> {
  mkdirSync(OUT, { recursive: true });
  const file = join(OUT, `${name}.jsonl.gz`);
  const clean = join(OUT, `${name}.clean.jsonl.gz`);
  const meta = join(OUT, `${name}.json`);
  if (existsSync(meta) && existsSync(file) && existsSync(clean))
    return JSON.parse(readFileSync(meta, 'utf8'));
  const gz = createGzip();
  const cleanGz = createGzip();
  const done = Promise.all([
    new Promise<void>((r) => gz.pipe(createWriteStream(file)).on('finish', () => r())),
    new Promise<void>((r) => cleanGz.pipe(createWriteStream(clean)).on('finish', () => r())),
  ]);
  const stats = { file, clean, rawBytes: 0, cleanRawBytes: 0, lines: 0, cleanLines: 0 };
  let compressed = 0;
  gz.on('data', (c: Buffer) => {
    compressed += c.length;
  });
  const max = limit.lines ?? Number.MAX_SAFE_INTEGER;
  for (const line of rawLines({ lines: max, badShare: BAD_SHARE, tooLong: limit.lines ? 2 : 0, seed: 8 })) {
    if (
      (limit.rawBytes && stats.rawBytes >= limit.rawBytes) ||
      (limit.gzipBytes && compressed >= limit.gzipBytes)
    )
      break;
    stats.lines += 1;
    stats.rawBytes += line.bytes.length;
    if (!gz.write(line.bytes)) await new Promise((r) => gz.once('drain', r));
    if (line.kind === undefined) {
      stats.cleanLines += 1;
      stats.cleanRawBytes += line.bytes.length;
      if (!cleanGz.write(line.bytes)) await new Promise((r) => cleanGz.once('drain', r));
    }
  }
  gz.end();
  cleanGz.end();
  await done;
  writeFileSync(meta, JSON.stringify(stats));
  return stats;
}

// ------------------------------------------------------------------ report

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function row(label: string, runs: RunResult[], rawBytes: number, reference?: number[]) {
  const eps = runs.map((r) => (r.lines / r.wallMs) * 1000);
  const cpuPerM = median(runs.map((r) => (r.cpuMs / 1000 / r.lines) * 1e6));
  const mbps = median(runs.map((r) => rawBytes / 1e6 / (r.wallMs / 1000)));
  const rss = Math.max(...runs.map((r) => r.maxRssMiB));
  const ratios = reference ? ` ${reference.map((ref) => `${fmt(median(eps) / ref, 2)}x`).join(' / ')}` : '';
  console.log(
    `${label.padEnd(34)} ${fmt(median(eps)).padStart(9)} ev/s ${fmt(cpuPerM, 2).padStart(6)} CPU-s/M ${fmt(mbps, 1).padStart(7)} MB/s ${fmt(rss).padStart(5)} MiB${ratios}`,
  );
  return median(eps);
}

async function stackLatency(): Promise<void> {
  const dataDir = join(OUT, `stack-${process.pid}`);
  const stack = await startLocalStack({
    serviceDir: ROOT,
    dataDir,
    fresh: true,
    offline: true,
    ports: { s3: 0, kinesis: 0, dynamodb: 0, firehose: 0, sqs: 0, http: 0, lambda: 0 },
    log: silentLog,
  });
  const s3 = s3Client({ ...process.env, ...stack.env });
  try {
    for (const label of ['cold (first object: DuckDB opens)', 'warm']) {
      const key = `raw/events/dt=2026-03-01/hour=03/bench-${label.slice(0, 4)}.gz`;
      const lines = [...rawLines({ lines: 5_000, badShare: BAD_SHARE, seed: 3 })].map((l) => l.bytes);
      const body = gzipSync(Buffer.concat(lines));
      const t0 = performance.now();
      await s3.send(new PutObjectCommand({ Bucket: 'logbase-local-data', Key: key, Body: body }));
      for (;;) {
        const listed = await s3.send(
          new ListObjectsV2Command({ Bucket: 'logbase-local-data', Prefix: manifestKey(key) }),
        );
        if (listed.Contents?.length) {
          const manifest = await s3.send(
            new GetObjectCommand({ Bucket: 'logbase-local-data', Key: manifestKey(key) }),
          );
          const { outputs } = JSON.parse(await (manifest.Body?.transformToString() ?? '{}'));
          await s3.send(new GetObjectCommand({ Bucket: 'logbase-local-data', Key: outputs[0].key }));
          break;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      console.log(
        `creation -> Parquet readable, ${label}: ${fmt((performance.now() - t0) / 1000, 2)} s (5,000 lines, ${fmt(body.length / 1024)} KiB gzip)`,
      );
    }
  } finally {
    s3.destroy();
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === 'child')
    return child(process.argv[3] as string, process.argv[4] as string, process.argv[5] as string);
  console.log(
    `formatter benchmark: ${fmt(EVENTS)} events, ${BAD_SHARE * 100}% bad (${BAD_LINE_KINDS.length} kinds + 2 over-long lines), ${ROUNDS} interleaved rounds, V8 heap ${HEAP_MB} MB`,
  );
  const input = await generate(`format-${EVENTS}-${BAD_SHARE}`, { lines: EVENTS });
  console.log(
    `object: ${fmt(input.lines)} lines, ${fmt(input.rawBytes / 1e6, 1)} MB raw, ${fmt(statSync(input.file).size / 1e6, 1)} MB gzip; clean twin ${fmt(input.cleanLines)} lines`,
  );
  const runs: Record<string, RunResult[]> = {
    'core-pattern': [],
    'core-parsed': [],
    'ref-1': [],
    'ref-2': [],
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of Object.keys(runs)) {
      (runs[mode] as RunResult[]).push(run(mode, mode.startsWith('ref') ? input.clean : input.file));
    }
    process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`);
  }
  const core = runs['core-pattern'] as RunResult[];
  const check = core[0] as RunResult;
  console.log(
    `reconciliation: ${fmt(check.lines)} lines = ${fmt(check.rows)} rows + ${fmt(check.quarantined)} quarantined`,
  );
  console.log(
    `${''.padEnd(34)} ${'median'.padStart(9)}      ${'median'.padStart(6)}         ${'median'.padStart(7)}      ${'peak'.padStart(5)}     vs ref 1 / 2 threads`,
  );
  const ref1 = row('DuckDB reference, 1 thread (clean)', runs['ref-1'] as RunResult[], input.cleanRawBytes);
  const ref2 = row('DuckDB reference, 2 threads (clean)', runs['ref-2'] as RunResult[], input.cleanRawBytes);
  row('core, text patterns (deployed)', core, input.rawBytes, [ref1, ref2]);
  row('core, JSON.parse + TypeBox only', runs['core-parsed'] as RunResult[], input.rawBytes, [ref1, ref2]);
  let pinned = false;
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    pinned = true;
  } catch {
    console.log('(taskset not available: no one-core run)');
  }
  if (pinned)
    row(
      'core, text patterns, taskset -c 0',
      [run('core-pattern', input.file, { pin: true })],
      input.rawBytes,
      [ref1, ref2],
    );
  console.log(
    'targets: >= 0.7x the 1-thread and >= 0.5x the 2-thread reference; <= 8 CPU-s per million events on one core',
  );

  if (RSS_MIB > 0) {
    const bytes = RSS_MIB * 1024 * 1024;
    const rawCase = await generate(`format-raw-${RSS_MIB}MiB`, { rawBytes: bytes });
    const gzCase = await generate(`format-gzip-${RSS_MIB}MiB`, { gzipBytes: bytes });
    for (const [label, c, target] of [
      [`${RSS_MIB} MiB raw object`, rawCase, 600],
      [`${RSS_MIB} MiB gzip object`, gzCase, 800],
    ] as const) {
      const r = run('core-pattern', c.file);
      console.log(
        `peak RSS, ${label} (${fmt(c.lines)} lines, ${fmt(c.rawBytes / 2 ** 20)} MiB raw, ${fmt(statSync(c.file).size / 2 ** 20)} MiB gzip): ${fmt(r.maxRssMiB)} MiB (target <= ${target}), ${fmt(r.wallMs / 1000, 1)} s, ${fmt(r.cpuMs / 1000, 1)} CPU-s`,
      );
    }
  }
  if (STACK) await stackLatency();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
