/**
 * Collect benchmark (a script that prints figures; not a test). Run: `npm run bench`.
 *
 * What a user pays, headline first:
 * 1. CPU milliseconds per 500-event request: collect() as deployed (bundled with serverless.yml
 *    custom.esbuild), with clients that take every record at once, user + system CPU of the process
 *    over a pass of every request, median of rounds; JSON.parse of the same bodies beside it.
 * 2. Wall time of a request against the local stack (the local Firehose, kinesalite, s3rver, with
 *    real SDK clients), p50 and p99.
 * 3. Cold start as Lambda bills it: INIT (loading the bundle) plus the first 500-event request, in a
 *    fresh Node process per run, its SDK calls answered by a stub AWS endpoint; median of runs.
 * Information: the ratio of validation plus serialization to JSON.parse (the figure the collect issue
 * first set, >= 0.5x), the bundle size (<= 300 KB) and the load time alone (<= 150 ms).
 *
 * Exits non-zero only when something breaks; a missed target is printed loudly instead.
 * Tune with BENCH_BODIES, BENCH_EVENTS, BENCH_ROUNDS, BENCH_LOAD_RUNS, BENCH_INVALID_SHARE, BENCH_WALL_REQUESTS.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join, relative, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { type BuildOptions, build } from 'esbuild';
import { parse as parseYaml } from 'yaml';
import { type GeneratedEvent, TrafficGenerator } from '../cli/traffic';
import { loadCollectConfig } from '../functions/collect/config';
import { intEnv } from '../lib/config';
import type { CollectLimits } from '../lib/domain/collect';
import type * as HandlerPath from './handler-path';
import type { ApiRequest } from './handler-path';

const ROOT = resolve(__dirname, '..');
const BODIES = intEnv('BENCH_BODIES', 200);
const EVENTS_PER_BODY = intEnv('BENCH_EVENTS', 500);
const ROUNDS = intEnv('BENCH_ROUNDS', 7);
const LOAD_RUNS = intEnv('BENCH_LOAD_RUNS', 21);
const INVALID_SHARE = Number(process.env.BENCH_INVALID_SHARE ?? '0.01');
const WALL_REQUESTS = intEnv('BENCH_WALL_REQUESTS', 100);
const COLD_RUNS = intEnv('BENCH_COLD_RUNS', 9);
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

/** One pass over all the bodies: the events seen and, when the pass timed itself, its ms. */
type Pass = () => number | Promise<{ events: number; ms: number }>;

/** Events per second of one pass; throws when it did not see every event. */
async function timed(run: Pass, events: number): Promise<number> {
  // CPU time, not wall time: on a shared machine a pass loses the core now and then, and the ratio
  // of two wall times measures the neighbours as much as the code.
  const t0 = process.cpuUsage();
  const done = await run();
  const used = process.cpuUsage(t0);
  const elapsed = (used.user + used.system) / 1000;
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

/** Runs `work` with stdout silenced (the handler logs a line per request, as on Lambda): what is measured stays. */
async function quietly<T>(work: () => Promise<T>): Promise<T> {
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return await work();
  } finally {
    process.stdout.write = write;
  }
}

/** CPU ms (user + system) of `run`, and what it answered. */
async function cpuOf<T>(run: () => T | Promise<T>): Promise<{ ms: number; value: T }> {
  const start = process.cpuUsage();
  const value = await run();
  const used = process.cpuUsage(start);
  return { ms: (used.user + used.system) / 1000, value };
}

/**
 * CPU ms per request of collect() with stub clients, and of JSON.parse of the same bodies (gzip:
 * + base64 and gunzip), median of rounds alternating which goes first.
 */
async function cpuPerRequest(
  path: typeof HandlerPath,
  requests: ApiRequest[],
  events: number,
): Promise<{ collect: number; floor: number; rejected: number }> {
  const config = loadCollectConfig(HANDLER_ENV);
  const deps = path.benchDeps(config, 'stub');
  const apiKey = config.apiKeys;
  let rejected = 0;
  const collectOnce = () =>
    quietly(async () => {
      let n = 0;
      rejected = 0;
      for (const r of requests) {
        const response = await path.collect(path.apiEvent(r, apiKey), path.lambdaContext(r.requestId), deps);
        const body = JSON.parse(String(response.body)) as { accepted: number; rejected: unknown[] };
        n += body.accepted + body.rejected.length;
        rejected += body.rejected.length;
      }
      return n;
    });
  const floorOnce = () => {
    let n = 0;
    for (const r of requests) {
      const text = r.isBase64Encoded ? gunzipSync(Buffer.from(r.body, 'base64')).toString('utf8') : r.body;
      n += (JSON.parse(text) as { events: unknown[] }).events.length;
    }
    return n;
  };
  const check = (n: number) => {
    if (n !== events) throw new Error(`benchmark saw ${n} events, expected ${events}`);
  };
  for (let i = 0; i < 2; i++) {
    check(await collectOnce());
    check(floorOnce());
  }
  const collectMs: number[] = [];
  const floorMs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['collect', 'floor'] : ['floor', 'collect'];
    for (const which of order) {
      const { ms, value } = which === 'collect' ? await cpuOf(collectOnce) : await cpuOf(floorOnce);
      check(value);
      (which === 'collect' ? collectMs : floorMs).push(ms / requests.length);
    }
  }
  return { collect: median(collectMs), floor: median(floorMs), rejected };
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Wall ms of each request through collect() with real clients against the local stack (no serverless-offline). */
async function wallAgainstLocalStack(path: typeof HandlerPath, requests: ApiRequest[]): Promise<number[]> {
  // Loaded last, on purpose: aws-local-stepfunctions (through asl-validator) turns off one of V8's
  // RegExp fast paths for the whole process, which halves collect's pattern matching. Lambda never
  // loads it; the CPU figures above are measured before it is loaded.
  const { startLocalStack } = require('../local/stack') as typeof import('../local/stack');
  const dataDir = join(ROOT, 'bench/out', `stack-${process.pid}`);
  const stack = await startLocalStack({
    serviceDir: ROOT,
    dataDir,
    fresh: true,
    offline: false,
    ports: { s3: 0, kinesis: 0, dynamodb: 0, firehose: 0, http: 0, lambda: 0 },
  });
  const saved = { ...process.env };
  Object.assign(process.env, stack.env);
  try {
    const config = loadCollectConfig({ ...HANDLER_ENV, ...stack.env });
    const deps = path.benchDeps(config, 'real');
    const walls: number[] = [];
    await quietly(async () => {
      for (const r of requests) {
        const t0 = performance.now();
        const response = await path.collect(
          path.apiEvent(r, config.apiKeys),
          path.lambdaContext(r.requestId),
          deps,
        );
        walls.push(performance.now() - t0);
        if (response.statusCode !== 202)
          throw new Error(`local stack answered ${response.statusCode}: ${response.body}`);
      }
    });
    deps.firehose.destroy();
    deps.kinesis.destroy();
    deps.s3.destroy();
    return walls;
  } finally {
    process.env = saved;
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A stub AWS endpoint for the cold-start runs: takes every PutRecordBatch, PutRecords and PutObject. */
async function stubAws(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      let body = '';
      if (target.endsWith('PutRecordBatch') || target.endsWith('PutRecords')) {
        const records = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Records: unknown[] })
          .Records;
        body = target.endsWith('PutRecords')
          ? JSON.stringify({
              FailedRecordCount: 0,
              Records: records.map((_, i) => ({ SequenceNumber: `${i}`, ShardId: 'shardId-0' })),
            })
          : JSON.stringify({
              FailedPutCount: 0,
              RequestResponses: records.map((_, i) => ({ RecordId: `r${i}` })),
            });
      }
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', etag: '"0"' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** One fresh Node process: load the handler bundle (INIT), then its first request; ms of each, and the status. */
function coldRun(
  file: string,
  eventFile: string,
  env: NodeJS.ProcessEnv,
): Promise<{ load: number; first: number }> {
  const code = `
    const t0 = performance.now();
    const { handler } = require(${JSON.stringify(file)});
    const t1 = performance.now();
    const event = JSON.parse(require('node:fs').readFileSync(process.env.BENCH_EVENT_FILE, 'utf8'));
    const context = { awsRequestId: 'cold-1', functionName: 'collect', getRemainingTimeInMillis: () => 15000 };
    Promise.resolve(handler(event, context)).then((r) => {
      process.stderr.write(JSON.stringify({ load: t1 - t0, first: performance.now() - t1, status: r.statusCode }));
    });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', code], {
      env: { ...env, BENCH_EVENT_FILE: eventFile },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString('utf8');
    });
    child.on('close', (status) => {
      try {
        const out = JSON.parse(err.slice(err.lastIndexOf('{'))) as {
          load: number;
          first: number;
          status: number;
        };
        if (status !== 0 || out.status !== 202) throw new Error(`status ${status}, answer ${out.status}`);
        resolve(out);
      } catch (error) {
        reject(new Error(`cold start run failed (${(error as Error).message}):\n${err}`));
      }
    });
  });
}

/** Median INIT and first-request ms over fresh processes. */
async function coldStart(
  file: string,
  request: ApiRequest,
): Promise<{ load: number; first: number; total: number }> {
  const aws = await stubAws();
  try {
    const endpoints = Object.fromEntries(
      ['FIREHOSE', 'KINESIS', 'S3', 'SSM'].map((service) => [`AWS_ENDPOINT_URL_${service}`, aws.url]),
    );
    const env = {
      ...HANDLER_ENV,
      ...endpoints,
      AWS_ACCESS_KEY_ID: 'bench',
      AWS_SECRET_ACCESS_KEY: 'bench',
      PATH: process.env.PATH,
    };
    const { apiEvent } = require(
      join(ROOT, 'bench/out', `collect-${process.pid}`, 'handler-path.js'),
    ) as typeof HandlerPath;
    const event = join(ROOT, 'bench/out', `collect-${process.pid}`, 'cold-event.json');
    writeFileSync(event, JSON.stringify(apiEvent(request, String(HANDLER_ENV.API_KEYS))));
    await coldRun(file, event, env); // warm the file cache
    const runs: { load: number; first: number }[] = [];
    for (let i = 0; i < COLD_RUNS; i++) runs.push(await coldRun(file, event, env));
    const load = median(runs.map((r) => r.load));
    const first = median(runs.map((r) => r.first));
    return { load, first, total: median(runs.map((r) => r.load + r.first)) };
  } finally {
    await aws.close();
  }
}

/** Validation plus serialization of every request (from event.body) against JSON.parse of the same bodies. */
async function validationThroughput(
  validate: typeof HandlerPath.validateAndSerialize,
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

/** bench/handler-path.ts (collect() and its parts) as deployed: bundled with the same options as the handler. */
async function deployedHandlerPath(esbuild: BuildOptions, outdir: string): Promise<typeof HandlerPath> {
  const outfile = join(outdir, 'handler-path.js');
  await build({ ...esbuild, entryPoints: [join(ROOT, 'bench/handler-path.ts')], outfile });
  return require(outfile) as typeof HandlerPath;
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

  // The settings the handler reads at load time (Powertools' among them), as on Lambda.
  Object.assign(process.env, HANDLER_ENV);
  const esbuild = deployedEsbuildOptions();
  // Under the project, so the externals (the SDK) resolve from node_modules as on Lambda from the runtime.
  const outdir = join(ROOT, 'bench/out', `collect-${process.pid}`);
  mkdirSync(outdir, { recursive: true });
  try {
    const path = await deployedHandlerPath(esbuild, outdir);
    const jsonRequests = apiRequests(bodies, false);
    const cpu = await cpuPerRequest(path, jsonRequests, events);
    const cpuGz = await cpuPerRequest(path, apiRequests(bodies, true), events);
    const checked = await validationThroughput(path.validateAndSerialize, jsonRequests, events);
    const walls = await wallAgainstLocalStack(path, jsonRequests.slice(0, WALL_REQUESTS));
    const ratio = checked.collect / checked.floor;
    const perRequest = Math.round(events / bodies.length);
    console.log(
      table([
        [`what a ${perRequest}-event request costs`, 'collect', 'JSON.parse', ''],
        ['CPU ms per request, JSON body', `${fmt(cpu.collect, 2)} ms`, `${fmt(cpu.floor, 2)} ms`, ''],
        ['CPU ms per request, gzip body', `${fmt(cpuGz.collect, 2)} ms`, `${fmt(cpuGz.floor, 2)} ms`, ''],
        [
          `wall ms per request against the local stack (${walls.length} requests)`,
          `p50 ${fmt(percentile(walls, 50), 1)} / p99 ${fmt(percentile(walls, 99), 1)} ms`,
          '',
          '',
        ],
      ]),
    );
    console.log(
      '  CPU = user + system CPU of collect() as deployed (bundled), clients answering at once, per request; the\n' +
        '  JSON.parse column parses the same bodies (gzip: + base64 decode, gunzip). At 1024 MB (0.58 vCPU) Lambda\n' +
        '  bills about 1.7x these CPU ms as duration. wall = collect() with real SDK clients against the local\n' +
        `  Firehose, kinesalite and s3rver in this process. ${fmt(cpu.rejected)} events rejected per pass.\n`,
    );
    console.log(
      table([
        ['throughput (events per CPU second, info)', 'floor', 'collect', 'ratio', 'target', ''],
        [
          'validation + serialization',
          fmt(checked.floor),
          fmt(checked.collect),
          `${fmt(ratio, 2)}x`,
          `>= ${TARGET_RATIO}x`,
          verdict(ratio >= TARGET_RATIO),
        ],
      ]),
    );
    console.log(
      '  floor = JSON.parse of the body as the Lambda receives it. validation + serialization = event.body to the\n' +
        '  records ready for the streams and the rejections ready for quarantine (requestBody + prepareRequest).\n',
    );

    const b = await bundle(esbuild, outdir);
    const kb = b.bytes / 1024;
    const withMaps = loadTime(b.file, { ...HANDLER_ENV, PATH: process.env.PATH });
    const cold = await coldStart(b.file, jsonRequests[0] as ApiRequest);
    console.log(
      table([
        ['collect bundle and cold start', 'measured', 'target', ''],
        ['size (minified)', `${fmt(kb, 1)} KB`, `<= ${TARGET_BUNDLE_KB} KB`, verdict(kb <= TARGET_BUNDLE_KB)],
        ['size (gzip, info)', `${fmt(b.gzipBytes / 1024, 1)} KB`, '', ''],
        [
          'load time over an empty node (--enable-source-maps, as deployed)',
          `${fmt(withMaps.delta, 1)} ms`,
          `<= ${TARGET_LOAD_MS} ms`,
          verdict(withMaps.delta <= TARGET_LOAD_MS),
        ],
        ['cold start: INIT (require the bundle)', `${fmt(cold.load, 1)} ms`, '', ''],
        [`cold start: first ${perRequest}-event request`, `${fmt(cold.first, 1)} ms`, '', ''],
        ['cold start billed (INIT + first request)', `${fmt(cold.total, 1)} ms`, '', ''],
      ]),
    );
    console.log(
      `  load = median over ${LOAD_RUNS} alternating runs of node -e "require(bundle)" (${fmt(withMaps.loaded, 1)} ms) ` +
        `minus node -e "" (${fmt(withMaps.empty, 1)} ms); externals load from node_modules\n` +
        `  cold start = median of ${COLD_RUNS} fresh processes, timed inside them: require the bundle, then its first request,\n` +
        "  whose SDK calls a stub AWS endpoint on loopback answers (SigV4 signing, HTTP and the SDK clients' first use included)",
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
