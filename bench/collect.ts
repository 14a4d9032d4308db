/**
 * Collect benchmark (a script that prints figures; not a test). Run: `npm run bench`.
 *
 * 1. Throughput: collect's validation + serialization (prepareRequest) against the floor
 *    (JSON.parse of the same bodies), median of several rounds. Target: >= 0.5x the floor.
 * 2. Bundle size: functions/collect/handler.ts built as serverless.yml custom.esbuild does.
 *    Target: <= 300 KB.
 * 3. Load time: `node -e "require(bundle)"` minus `node -e ""`, median of alternating runs.
 *    Target: <= 150 ms.
 *
 * Exits non-zero only when something breaks; a missed target is printed loudly instead.
 * Tune with BENCH_BODIES, BENCH_EVENTS, BENCH_ROUNDS, BENCH_LOAD_RUNS, BENCH_INVALID_SHARE.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { intEnv } from '../lib/config';
import type { CollectLimits, prepareRequest } from '../lib/domain/collect';
import { type GeneratedEvent, TrafficGenerator } from '../lib/traffic';

const ROOT = resolve(__dirname, '..');
const BODIES = intEnv('BENCH_BODIES', 200);
const EVENTS_PER_BODY = intEnv('BENCH_EVENTS', 500);
const ROUNDS = intEnv('BENCH_ROUNDS', 7);
const LOAD_RUNS = intEnv('BENCH_LOAD_RUNS', 21);
const INVALID_SHARE = Number(process.env.BENCH_INVALID_SHARE ?? '0.01');
const TARGET_RATIO = 0.5;
const TARGET_BUNDLE_KB = 300;
const TARGET_LOAD_MS = 150;
const LIMITS: CollectLimits = { maxEvents: EVENTS_PER_BODY, maxBytes: 1_048_576, futureSkewSeconds: 300 };

/** The environment collect reads at load time (serverless.yml provider + function environment, local stage). */
const HANDLER_ENV: NodeJS.ProcessEnv = {
  STAGE: 'local',
  LOGBASE_LOCAL: 'true',
  AWS_REGION: 'ap-northeast-1',
  NODE_OPTIONS: '--enable-source-maps',
  POWERTOOLS_SERVICE_NAME: 'logbase',
  POWERTOOLS_METRICS_NAMESPACE: 'logbase',
  POWERTOOLS_LOG_LEVEL: 'INFO',
  DATA_BUCKET: 'logbase-local-data',
  EVENTS_DELIVERY_STREAM: 'logbase-local-events',
  CLICKS_STREAM: 'logbase-local-clicks',
  USER_VECTORS_TABLE: 'logbase-local-UserVectors',
  ARTICLE_VECTORS_TABLE: 'logbase-local-ArticleVectors',
  RECOMMENDATIONS_TABLE: 'logbase-local-Recommendations',
  GLUE_DATABASE: 'logbase_local',
  COLLECT_MAX_EVENTS: '500',
  COLLECT_MAX_BYTES: '1048576',
  COLLECT_FUTURE_SKEW_SECONDS: '300',
  API_KEYS_PARAMETER: '',
  API_KEYS: 'lb_local_0123456789abcdef',
};

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function fmt(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function verdict(ok: boolean): string {
  return ok ? 'PASS' : 'FAIL <<<<<<<<<<';
}

/** N request bodies of generated traffic; a body never starts with a duplicate, so collect sees each pair. */
function makeBodies(): { bodies: Buffer[]; events: number } {
  const generator = new TrafficGenerator({ seed: 'bench', invalidShare: INVALID_SHARE });
  const stream: GeneratedEvent[] = [];
  const at = (i: number): GeneratedEvent => {
    while (stream.length <= i) stream.push(generator.next());
    return stream[i] as GeneratedEvent;
  };
  const bodies: Buffer[] = [];
  let start = 0;
  for (let b = 0; b < BODIES; b++) {
    let end = start + EVENTS_PER_BODY;
    if (at(end).defect === 'duplicate_event_id') end -= 1;
    bodies.push(Buffer.from(JSON.stringify({ events: stream.slice(start, end).map((g) => g.event) })));
    start = end;
  }
  return { bodies, events: start };
}

interface Throughput {
  floor: number;
  collect: number;
  rejected: number;
}

/** Median events/s of the floor and of prepareRequest over the same bodies, alternating per round. */
function throughput(
  prepare: typeof prepareRequest,
  bodies: Buffer[],
  events: number,
  gzipped: boolean,
): Throughput {
  const input = gzipped ? bodies.map((b) => gzipSync(b)) : bodies;
  const floorOnce = () => {
    let n = 0;
    for (const body of input) {
      const text = (gzipped ? gunzipSync(body) : body).toString('utf8');
      n += (JSON.parse(text) as { events: unknown[] }).events.length;
    }
    return n;
  };
  let rejected = 0;
  const collectOnce = () => {
    let n = 0;
    rejected = 0;
    const receivedAt = new Date();
    for (const [i, body] of input.entries()) {
      const prepared = prepare(
        {
          body,
          contentType: 'application/json',
          contentEncoding: gzipped ? 'gzip' : undefined,
          receivedAt,
          requestId: `bench-${i}`,
        },
        LIMITS,
      );
      n += prepared.eventCount;
      rejected += prepared.rejected.length;
    }
    return n;
  };
  const timed = (run: () => number) => {
    const t0 = performance.now();
    const n = run();
    const seconds = (performance.now() - t0) / 1000;
    if (n !== events) throw new Error(`benchmark saw ${n} events, expected ${events}`);
    return n / seconds;
  };
  // Warm-up: let the JIT settle on both paths.
  for (let i = 0; i < 2; i++) {
    timed(floorOnce);
    timed(collectOnce);
  }
  const floor: number[] = [];
  const collect: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      floor.push(timed(floorOnce));
      collect.push(timed(collectOnce));
    } else {
      collect.push(timed(collectOnce));
      floor.push(timed(floorOnce));
    }
  }
  return { floor: median(floor), collect: median(collect), rejected };
}

/** serverless.yml custom.esbuild, as serverless-esbuild applies it. */
const ESBUILD = {
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  target: 'node22',
  platform: 'node',
  format: 'cjs',
  keepNames: true,
  metafile: true,
  logLevel: 'silent',
} as const;

/** prepareRequest as deployed: lib/domain/collect.ts bundled with the same esbuild settings as the handler. */
async function deployedPrepare(outdir: string): Promise<typeof prepareRequest> {
  const outfile = join(outdir, 'domain-collect.js');
  await build({ ...ESBUILD, entryPoints: [join(ROOT, 'lib/domain/collect.ts')], outfile });
  return (require(outfile) as { prepareRequest: typeof prepareRequest }).prepareRequest;
}

/** Builds the collect bundle like serverless-esbuild with serverless.yml custom.esbuild. */
async function bundle(outdir: string) {
  const file = join(outdir, 'handler.js');
  const result = await build({
    ...ESBUILD,
    entryPoints: [join(ROOT, 'functions/collect/handler.ts')],
    outfile: file,
  });
  const bytes = statSync(file).size;
  const gzipBytes = gzipSync(readFileSync(file)).length;
  const packages = new Map<string, number>();
  const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined);
  for (const [path, info] of Object.entries(output?.inputs ?? {})) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    const name = match?.[1] ?? '(project code)';
    packages.set(name, (packages.get(name) ?? 0) + info.bytesInOutput);
  }
  const top = [...packages.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6);
  return { file, bytes, gzipBytes, top };
}

/** Wall time of one `node -e <code>` run, in ms; throws with its stderr when it fails. */
function nodeRun(code: string, env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const run = spawnSync(process.execPath, ['-e', code], { env, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (run.status !== 0) throw new Error(`node -e ${JSON.stringify(code)} failed:\n${run.stderr}`);
  return ms;
}

/** Median load time of the bundle over an empty start, runs alternating. */
function loadTime(file: string, env: NodeJS.ProcessEnv): { empty: number; loaded: number; delta: number } {
  const code = `require(${JSON.stringify(file)})`;
  nodeRun(code, env); // warm the file cache
  nodeRun('', env);
  const empty: number[] = [];
  const loaded: number[] = [];
  for (let i = 0; i < LOAD_RUNS; i++) {
    empty.push(nodeRun('', env));
    loaded.push(nodeRun(code, env));
  }
  const deltas = loaded.map((l, i) => l - (empty[i] as number));
  return { empty: median(empty), loaded: median(loaded), delta: median(deltas) };
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function main(): Promise<void> {
  const cpus = os.cpus();
  console.log(
    `collect benchmark: node ${process.version}, ${cpus.length} x ${cpus[0]?.model.trim() ?? 'cpu'}, ${ROUNDS} rounds (median)`,
  );
  const { bodies, events } = makeBodies();
  const mb = bodies.reduce((n, b) => n + b.length, 0) / 1_048_576;
  console.log(
    `input: ${bodies.length} bodies, ${fmt(events)} events, ${fmt(mb, 1)} MiB, invalid share ${INVALID_SHARE}\n`,
  );

  const outdir = mkdtempSync(join(tmpdir(), 'logbase-bench-'));
  try {
    const prepare = await deployedPrepare(outdir);
    const plain = throughput(prepare, bodies, events, false);
    const gz = throughput(prepare, bodies, events, true);
    const ratio = plain.collect / plain.floor;
    console.log(
      table([
        ['throughput (events/s)', 'floor', 'collect', 'ratio', 'target', ''],
        [
          'JSON bodies',
          fmt(plain.floor),
          fmt(plain.collect),
          `${fmt(ratio, 2)}x`,
          `>= ${TARGET_RATIO}x`,
          verdict(ratio >= TARGET_RATIO),
        ],
        ['gzip bodies (info)', fmt(gz.floor), fmt(gz.collect), `${fmt(gz.collect / gz.floor, 2)}x`, '', ''],
      ]),
    );
    console.log(
      `  floor = JSON.parse (gzip: + gunzip); collect = prepareRequest (bundled as deployed): decode, parse, validate, serialize; ` +
        `${fmt(plain.rejected)} events rejected per pass\n`,
    );

    const b = await bundle(outdir);
    const kb = b.bytes / 1024;
    const withMaps = loadTime(b.file, { ...HANDLER_ENV, PATH: process.env.PATH });
    const withoutMaps = loadTime(b.file, { ...HANDLER_ENV, NODE_OPTIONS: '', PATH: process.env.PATH });
    console.log(
      table([
        ['collect bundle', 'measured', 'target', ''],
        ['size (minified)', `${fmt(kb, 1)} KB`, `<= ${TARGET_BUNDLE_KB} KB`, verdict(kb <= TARGET_BUNDLE_KB)],
        ['size (gzip, info)', `${fmt(b.gzipBytes / 1024, 1)} KB`, '', ''],
        [
          'load time (--enable-source-maps, as deployed)',
          `${fmt(withMaps.delta, 1)} ms`,
          `<= ${TARGET_LOAD_MS} ms`,
          verdict(withMaps.delta <= TARGET_LOAD_MS),
        ],
        ['load time (no source maps, info)', `${fmt(withoutMaps.delta, 1)} ms`, '', ''],
      ]),
    );
    console.log(
      `  load = median over ${LOAD_RUNS} alternating runs of node -e "require(bundle)" (${fmt(withMaps.loaded, 1)} ms) ` +
        `minus node -e "" (${fmt(withMaps.empty, 1)} ms)`,
    );
    console.log(
      `  largest parts: ${b.top.map(([name, bytes]) => `${name} ${fmt(bytes / 1024, 1)} KB`).join(', ')}`,
    );
    console.log(`  built from ${relative(process.cwd(), join(ROOT, 'functions/collect/handler.ts'))}`);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
