/**
 * Collect benchmark (a script that prints figures; not a test). Run: `npm run bench`.
 *
 * 1. Throughput: validation plus serialization of 500-event requests, as the collect issue
 *    defines the figure (bench/handler-path.ts validateAndSerialize: event.body to the records
 *    ready for the streams and the rejections ready for quarantine), against the floor,
 *    JSON.parse of the same bodies, median of several rounds. Target: >= 0.5x the floor. Info:
 *    the whole handler path to its last SDK call (handleRequest), JSON and gzip bodies.
 * 2. Bundle size: functions/collect/handler.ts built with serverless.yml custom.esbuild, read the
 *    way serverless-esbuild reads it (exclude -> external), so the size is the deployed one.
 *    Target: <= 300 KB.
 * 3. Load time: `node -e "require(bundle)"` minus `node -e ""`, median of alternating runs, with the
 *    externals resolved from node_modules as Lambda resolves them from its runtime. Target: <= 150 ms.
 *
 * Exits non-zero only when something breaks; a missed target is printed loudly instead.
 * Tune with BENCH_BODIES, BENCH_EVENTS, BENCH_ROUNDS, BENCH_LOAD_RUNS, BENCH_INVALID_SHARE.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join, relative, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { type BuildOptions, build } from 'esbuild';
import { parse as parseYaml } from 'yaml';
import { type GeneratedEvent, TrafficGenerator } from '../cli/traffic';
import { intEnv } from '../lib/config';
import type { CollectLimits } from '../lib/domain/collect';
import type { ApiRequest, handleRequest, validateAndSerialize } from './handler-path';

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

/** One pass over all the bodies: the events seen and, when the pass timed itself, its ms. */
type Pass = () => number | Promise<{ events: number; ms: number }>;

/** Events per second of one pass; throws when it did not see every event. */
async function timed(run: Pass, events: number): Promise<number> {
  const t0 = performance.now();
  const done = await run();
  const elapsed = performance.now() - t0;
  const [n, ms] = typeof done === 'number' ? [done, elapsed] : [done.events, done.ms];
  if (n !== events) throw new Error(`benchmark saw ${n} events, expected ${events}`);
  return n / (ms / 1000);
}

/** Median events/s of the floor and of collect over the same input, alternating which goes first per round. */
async function compare(
  floorOnce: () => number,
  collectOnce: Pass,
  events: number,
): Promise<{ floor: number; collect: number }> {
  // Warm-up: let the JIT settle on both paths.
  for (let i = 0; i < 2; i++) {
    await timed(floorOnce, events);
    await timed(collectOnce, events);
  }
  const floor: number[] = [];
  const collect: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      floor.push(await timed(floorOnce, events));
      collect.push(await timed(collectOnce, events));
    } else {
      collect.push(await timed(collectOnce, events));
      floor.push(await timed(floorOnce, events));
    }
  }
  return { floor: median(floor), collect: median(collect) };
}

/** The bodies as API Gateway hands them to the Lambda: JSON as text, gzip as base64. */
function apiRequests(bodies: Buffer[], gzipped: boolean): ApiRequest[] {
  return bodies.map((body, i) =>
    gzipped
      ? {
          body: gzipSync(body).toString('base64'),
          isBase64Encoded: true,
          contentEncoding: 'gzip',
          requestId: `bench-${i}`,
        }
      : { body: body.toString('utf8'), isBase64Encoded: false, requestId: `bench-${i}` },
  );
}

/** The handler's path on every request against JSON.parse of the same bodies (gzip: + base64 and gunzip). */
async function handlerThroughput(
  handle: typeof handleRequest,
  requests: ApiRequest[],
  events: number,
): Promise<Throughput> {
  let rejected = 0;
  const floorOnce = () => {
    let n = 0;
    for (const r of requests) {
      const text = r.isBase64Encoded ? gunzipSync(Buffer.from(r.body, 'base64')).toString('utf8') : r.body;
      n += (JSON.parse(text) as { events: unknown[] }).events.length;
    }
    return n;
  };
  const collectOnce = async () => {
    let n = 0;
    let ms = 0;
    rejected = 0;
    const receivedAt = new Date();
    for (const r of requests) {
      const done = await handle(r, LIMITS, receivedAt);
      n += done.events;
      ms += done.ms;
      rejected += done.rejected;
    }
    return { events: n, ms };
  };
  return { ...(await compare(floorOnce, collectOnce, events)), rejected };
}

/** Validation plus serialization of every request (from event.body) against JSON.parse of the same bodies. */
async function validationThroughput(
  validate: typeof validateAndSerialize,
  requests: ApiRequest[],
  events: number,
): Promise<{ floor: number; collect: number }> {
  const floorOnce = () => {
    let n = 0;
    for (const r of requests) n += (JSON.parse(r.body) as { events: unknown[] }).events.length;
    return n;
  };
  const collectOnce = () => {
    let n = 0;
    const receivedAt = new Date();
    for (const r of requests) n += validate(r, LIMITS, receivedAt);
    return n;
  };
  return compare(floorOnce, collectOnce, events);
}

// serverless-esbuild's own settings, which it removes before calling esbuild (its dist/bundle.js).
const PLUGIN_ONLY = [
  'concurrency',
  'zipConcurrency',
  'exclude',
  'nativeZip',
  'packager',
  'packagePath',
  'watch',
  'keepOutputDirectory',
  'packagerOptions',
  'installExtraArgs',
  'outputFileExtension',
  'outputBuildFolder',
  'outputWorkFolder',
  'nodeExternals',
  'skipBuild',
  'skipRebuild',
  'skipBuildExcludeFns',
  'stripEntryResolveExtensions',
  'disposeContext',
];

function strings(value: unknown): string[] {
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}

/**
 * serverless.yml custom.esbuild as serverless-esbuild turns it into esbuild options: its
 * defaults (bundle, platform node, target from provider.runtime, exclude aws-sdk) under the
 * file's settings, its own keys removed, and `exclude` added to `external`. CloudFormation tags
 * elsewhere in the file are read as plain values.
 */
function deployedEsbuildOptions(): BuildOptions {
  const file = join(ROOT, 'serverless.yml');
  const doc = parseYaml(readFileSync(file, 'utf8'), { logLevel: 'error' }) as {
    provider?: { runtime?: unknown };
    custom?: { esbuild?: Record<string, unknown> };
  };
  const custom = doc.custom?.esbuild ?? {};
  if ('config' in custom)
    throw new Error(`${file}: custom.esbuild.config (a JS config file) is not read by the bench`);
  if (JSON.stringify(custom).includes('${')) {
    throw new Error(
      `${file}: custom.esbuild uses \${...} variables; the bench reads the file without resolving them`,
    );
  }
  const runtime = /^nodejs(\d+)\.x$/.exec(String(doc.provider?.runtime ?? ''));
  const merged: Record<string, unknown> = {
    bundle: true,
    platform: 'node',
    target: runtime ? `node${runtime[1]}` : 'node18',
    external: [],
    exclude: ['aws-sdk'],
    ...custom,
  };
  const exclude = strings(merged.exclude);
  const options = Object.fromEntries(Object.entries(merged).filter(([key]) => !PLUGIN_ONLY.includes(key)));
  return {
    ...options,
    external: [...strings(merged.external), ...(exclude.includes('*') ? [] : exclude)],
    metafile: true,
    logLevel: 'silent',
  } as BuildOptions;
}

/** The handler path (bench/handler-path.ts) as deployed: bundled with the same options as the handler. */
async function deployedHandlerPath(
  esbuild: BuildOptions,
  outdir: string,
): Promise<{ handleRequest: typeof handleRequest; validateAndSerialize: typeof validateAndSerialize }> {
  const outfile = join(outdir, 'handler-path.js');
  await build({ ...esbuild, entryPoints: [join(ROOT, 'bench/handler-path.ts')], outfile });
  return require(outfile) as {
    handleRequest: typeof handleRequest;
    validateAndSerialize: typeof validateAndSerialize;
  };
}

/** Builds the collect bundle like serverless-esbuild with serverless.yml custom.esbuild. */
async function bundle(esbuild: BuildOptions, outdir: string) {
  const file = join(outdir, 'handler.js');
  const result = await build({
    ...esbuild,
    entryPoints: [join(ROOT, 'functions/collect/handler.ts')],
    outfile: file,
  });
  const bytes = statSync(file).size;
  const gzipBytes = gzipSync(readFileSync(file)).length;
  const mapBytes = statSync(`${file}.map`, { throwIfNoEntry: false })?.size;
  const packages = new Map<string, number>();
  const output = Object.values(result.metafile?.outputs ?? {}).find((o) => o.entryPoint !== undefined);
  for (const [path, info] of Object.entries(output?.inputs ?? {})) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    const name = match?.[1] ?? '(project code)';
    packages.set(name, (packages.get(name) ?? 0) + info.bytesInOutput);
  }
  const top = [...packages.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6);
  return { file, bytes, gzipBytes, mapBytes, top };
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

  const esbuild = deployedEsbuildOptions();
  // Under the project, so the externals (the SDK) resolve from node_modules as on Lambda from the runtime.
  const outdir = join(ROOT, 'bench/out', `collect-${process.pid}`);
  mkdirSync(outdir, { recursive: true });
  try {
    const path = await deployedHandlerPath(esbuild, outdir);
    const jsonRequests = apiRequests(bodies, false);
    const checked = await validationThroughput(path.validateAndSerialize, jsonRequests, events);
    const plain = await handlerThroughput(path.handleRequest, jsonRequests, events);
    const gz = await handlerThroughput(path.handleRequest, apiRequests(bodies, true), events);
    const ratio = checked.collect / checked.floor;
    const info = (name: string, t: { floor: number; collect: number }) => [
      name,
      fmt(t.floor),
      fmt(t.collect),
      `${fmt(t.collect / t.floor, 2)}x`,
      '',
      '',
    ];
    console.log(
      table([
        ['throughput (events/s)', 'floor', 'collect', 'ratio', 'target', ''],
        [
          'validation + serialization',
          fmt(checked.floor),
          fmt(checked.collect),
          `${fmt(ratio, 2)}x`,
          `>= ${TARGET_RATIO}x`,
          verdict(ratio >= TARGET_RATIO),
        ],
        info('whole handler path, JSON (info)', plain),
        info('whole handler path, gzip (info)', gz),
      ]),
    );
    console.log(
      '  floor = JSON.parse of the body as the Lambda receives it (gzip: + base64 decode, gunzip), bundled as deployed.\n' +
        '  validation + serialization = event.body to the records ready for the streams and the rejections ready for\n' +
        '  quarantine (requestBody + prepareRequest). whole handler path = event.body to its last SDK call: that plus the\n' +
        '  batches, the SDK inputs and the gzip quarantine object (bench/handler-path.ts).\n' +
        `  ${fmt(plain.rejected)} events rejected per pass\n`,
    );

    const b = await bundle(esbuild, outdir);
    const kb = b.bytes / 1024;
    const withMaps = loadTime(b.file, { ...HANDLER_ENV, PATH: process.env.PATH });
    const withoutMaps = loadTime(b.file, { ...HANDLER_ENV, NODE_OPTIONS: '', PATH: process.env.PATH });
    console.log(
      table([
        ['collect bundle', 'measured', 'target', ''],
        ['size (minified)', `${fmt(kb, 1)} KB`, `<= ${TARGET_BUNDLE_KB} KB`, verdict(kb <= TARGET_BUNDLE_KB)],
        ['size (gzip, info)', `${fmt(b.gzipBytes / 1024, 1)} KB`, '', ''],
        ['source map (info)', b.mapBytes === undefined ? 'none' : `${fmt(b.mapBytes / 1024, 1)} KB`, '', ''],
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
        `minus node -e "" (${fmt(withMaps.empty, 1)} ms); externals load from node_modules`,
    );
    console.log(
      `  largest parts: ${b.top.map(([name, bytes]) => `${name} ${fmt(bytes / 1024, 1)} KB`).join(', ')}`,
    );
    const flags = Object.entries(esbuild)
      .filter(([key]) => key !== 'metafile' && key !== 'logLevel')
      .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('|') : String(value)}`);
    console.log(
      `  built from ${relative(process.cwd(), join(ROOT, 'functions/collect/handler.ts'))} with serverless.yml custom.esbuild: ${flags.join(' ')}`,
    );
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
