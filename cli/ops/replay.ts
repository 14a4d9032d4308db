import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type FormatManifest, manifestKey } from '../../lib/domain/format/records';
import type { PrintedService } from '../../local/service-config';
import type { Wiring } from '../../local/wiring';
import { readManifestOf } from './lake';
import { recordedObject } from './record';
import { replaySfn } from './replay-sfn';

/**
 * `logbase replay`: delivers real-shaped fixtures (events/<source>/<variant>.json) to a running
 * stack the way their source would, and says what each stage did with them.
 */

export type FixtureSource = 'http' | 'kinesis' | 's3' | 'sfn';

/** A Kinesis or S3 record of a fixture, as far as replay reads it. */
export interface FixtureRecord {
  eventSource?: string;
  eventSourceARN?: string;
  kinesis?: { data?: string; partitionKey?: string };
  s3?: {
    configurationId?: string;
    bucket?: { name?: string; arn?: string };
    object?: { key?: string; size?: number };
  };
  [field: string]: unknown;
}

/** A fixture's event as read from its JSON: an HTTP API (payload 2.0) event or a Records event. */
export interface FixtureEvent {
  routeKey?: string;
  rawPath?: string;
  rawQueryString?: string;
  headers?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
  requestContext?: { http?: { method?: string; path?: string } };
  Records?: FixtureRecord[];
  [field: string]: unknown;
}

export interface Fixture {
  file: string;
  source: FixtureSource;
  event: FixtureEvent;
}

/** Raised for a fixture that cannot be replayed (unknown shape, nothing to deliver it to). */
export class ReplayError extends Error {
  override name = 'ReplayError';
}

/** The source of a fixture: its folder (events/<source>/) when it names one, else its shape. */
export function fixtureSource(file: string, json: unknown): FixtureSource {
  const event = (json ?? {}) as FixtureEvent;
  const folder = basename(dirname(file));
  if (folder === 'http' || folder === 'kinesis' || folder === 's3' || folder === 'sfn') return folder;
  const first = event?.Records?.[0];
  if (first?.eventSource === 'aws:kinesis') return 'kinesis';
  if (first?.eventSource === 'aws:s3') return 's3';
  if (typeof event?.routeKey === 'string' || typeof event?.rawPath === 'string') return 'http';
  throw new ReplayError(
    `${file}: not an HTTP API (payload 2.0), Kinesis or S3 event; put it under events/http|kinesis|s3|sfn/`,
  );
}

/** The fixtures of a file, or of every `.json` under a folder (sorted, recursively). */
export async function loadFixtures(path: string): Promise<Fixture[]> {
  const files: string[] = [];
  const walk = async (p: string) => {
    if ((await stat(p)).isDirectory()) {
      for (const entry of (await readdir(p)).sort()) await walk(join(p, entry));
    } else if (extname(p) === '.json') files.push(p);
  };
  await walk(path);
  if (files.length === 0) throw new ReplayError(`${path}: no .json fixture here`);
  const fixtures: Fixture[] = [];
  for (const file of files) {
    let event: FixtureEvent;
    try {
      event = JSON.parse(await readFile(file, 'utf8')) as FixtureEvent;
    } catch (error) {
      throw new ReplayError(`${file}: not JSON (${(error as Error).message})`);
    }
    fixtures.push({ file, source: fixtureSource(file, event), event });
  }
  return fixtures;
}

/** Where fixtures go: the stage's resources (from serverless.yml) and clients for them. */
export interface ReplayTarget {
  wiring: Pick<
    Wiring,
    'service' | 'stage' | 'streams' | 's3Subscriptions' | 'streamSubscriptions' | 'functions'
  > &
    Partial<Pick<Wiring, 'stateMachines'>>;
  /** False for a deployed stage (Step Functions fixtures need the local runner there); default true. */
  local?: boolean;
  config: Pick<PrintedService, 'functions'>;
  /** The stage's data bucket (the S3 fixtures' bucket is replaced by it). */
  bucket: string;
  /** The HTTP API's base URL (local: http://127.0.0.1:3000). */
  httpEndpoint?: string;
  /** Replaces the fixture's x-api-key (a deployed stage has its own keys). */
  apiKey?: string;
  s3: S3Client;
  kinesis: KinesisClient;
  lambda: LambdaClient;
  /** Hand events to the functions through Lambda Invoke instead of through their source. */
  invoke: boolean;
  /** How long to wait for a formatter manifest after an S3 object is written (ms). */
  waitMs: number;
  sleep?: (ms: number) => Promise<void>;
}

/** What one fixture did: how it was delivered, then one line per stage that reacted. */
export interface ReplayOutcome {
  file: string;
  source: FixtureSource;
  delivered: string;
  stages: string[];
  ok: boolean;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Replays fixtures one after the other, in order. */
export async function replay(fixtures: readonly Fixture[], target: ReplayTarget): Promise<ReplayOutcome[]> {
  const out: ReplayOutcome[] = [];
  for (const fixture of fixtures) {
    try {
      out.push(await replayOne(fixture, target));
    } catch (error) {
      out.push({
        file: fixture.file,
        source: fixture.source,
        delivered: 'not delivered',
        stages: [(error as Error).message],
        ok: false,
      });
    }
  }
  return out;
}

function replayOne(fixture: Fixture, target: ReplayTarget): Promise<ReplayOutcome> {
  if (fixture.source === 'http') return replayHttp(fixture, target);
  if (fixture.source === 'kinesis') return replayKinesis(fixture, target);
  if (fixture.source === 'sfn') return replaySfn(fixture, target);
  return replayS3(fixture, target);
}

/** The function whose httpApi event answers `METHOD /path`. */
function httpFunction(target: ReplayTarget, method: string, path: string): string {
  for (const [key, fn] of Object.entries(target.config.functions ?? {})) {
    for (const event of fn.events ?? []) {
      const api = (event as { httpApi?: { method?: string; path?: string } }).httpApi;
      if (api && api.method?.toUpperCase() === method && api.path === path) {
        return target.wiring.functions.find((f) => f.key === key)?.name ?? key;
      }
    }
  }
  throw new ReplayError(`no function of ${target.wiring.service} answers ${method} ${path}`);
}

/** A collect or articles answer in a few words: accepted, rejected (with the first reasons), failed. */
export function describeAnswer(status: number, answer: unknown): string {
  if (answer === null || typeof answer !== 'object') return `HTTP ${status}`;
  const body = answer as {
    accepted?: unknown;
    rejected?: { index?: number; errors?: { path?: string; message?: string }[] }[];
    failed?: unknown[];
    message?: string;
  };
  if (typeof body.accepted === 'number') {
    const rejected = Array.isArray(body.rejected) ? body.rejected : [];
    const failed = Array.isArray(body.failed) ? body.failed : [];
    const reasons = rejected
      .slice(0, 3)
      .map((r) => `#${r.index} ${r.errors?.[0]?.path ?? ''} ${r.errors?.[0]?.message ?? ''}`.trim());
    return [
      `HTTP ${status}: accepted ${body.accepted}, rejected ${rejected.length}${failed.length ? `, failed ${failed.length}` : ''}`,
      ...(reasons.length ? [`(${reasons.join('; ')})`] : []),
    ].join(' ');
  }
  return `HTTP ${status}: ${body.message ?? JSON.stringify(body)}`;
}

async function replayHttp(fixture: Fixture, target: ReplayTarget): Promise<ReplayOutcome> {
  const e = fixture.event;
  const method = String(e.requestContext?.http?.method ?? 'POST').toUpperCase();
  const path = String(e.rawPath ?? e.requestContext?.http?.path ?? '/');
  const headers: Record<string, string> = { ...(e.headers ?? {}) };
  if (target.apiKey !== undefined) headers['x-api-key'] = target.apiKey;
  const base = { file: fixture.file, source: fixture.source };
  if (target.invoke) {
    const name = httpFunction(target, method, path);
    const invoked = await invokeFunction(target.lambda, name, { ...e, headers });
    const answer = invoked.payload as { statusCode?: number; body?: string } | undefined;
    let body: unknown;
    try {
      body = JSON.parse(answer?.body ?? 'null');
    } catch {
      body = answer?.body;
    }
    return {
      ...base,
      delivered: `invoked ${name} with the event`,
      stages: [invoked.error ?? `${name}: ${describeAnswer(answer?.statusCode ?? 0, body)}`],
      ok: invoked.error === undefined && (answer?.statusCode ?? 500) < 500,
    };
  }
  if (target.httpEndpoint === undefined) {
    throw new ReplayError(
      'an HTTP fixture needs the API: pass --endpoint <url> (a stage) or start the local stack',
    );
  }
  // Hop-by-hop and length headers are the client's to set; the body is sent as the fixture holds it.
  for (const h of ['content-length', 'host', 'connection', 'transfer-encoding']) delete headers[h];
  const body = e.body === undefined ? undefined : Buffer.from(e.body, e.isBase64Encoded ? 'base64' : 'utf8');
  const url = new URL(path + (e.rawQueryString ? `?${e.rawQueryString}` : ''), target.httpEndpoint);
  const res = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: shown as text
  }
  return {
    ...base,
    delivered: `${method} ${url.toString()}`,
    stages: [`${httpFunction(target, method, path)}: ${describeAnswer(res.status, parsed)}`],
    ok: res.status < 500,
  };
}

/** `logbase-dev-clicks` (the fixture's stage) -> the target stage's stream of the same role. */
function stageStream(target: ReplayTarget, fixtureArn: string | undefined): string {
  const fixtureName =
    String(fixtureArn ?? '')
      .split('/')
      .pop() ?? '';
  const exact = target.wiring.streams.find((s) => s.name === fixtureName);
  if (exact) return exact.name;
  const role = fixtureName.replace(new RegExp(`^${target.wiring.service}-[^-]+-`), '');
  const found = target.wiring.streams.find(
    (s) => s.name === `${target.wiring.service}-${target.wiring.stage}-${role}`,
  );
  if (found) return found.name;
  if (target.wiring.streams.length === 1) return (target.wiring.streams[0] as { name: string }).name;
  throw new ReplayError(`no stream of the stage matches ${fixtureName || 'the fixture'}`);
}

async function replayKinesis(fixture: Fixture, target: ReplayTarget): Promise<ReplayOutcome> {
  const records: FixtureRecord[] = fixture.event.Records ?? [];
  const base = { file: fixture.file, source: fixture.source };
  const stream = stageStream(target, records[0]?.eventSourceARN);
  if (target.invoke) {
    const sub = target.wiring.streamSubscriptions.find((s) => s.streamName === stream);
    if (!sub) throw new ReplayError(`no function reads the stream ${stream}`);
    const arn = target.wiring.streams.find((s) => s.name === stream)?.arn ?? sub.streamArn;
    const event = { Records: records.map((r) => ({ ...r, eventSourceARN: arn })) };
    const invoked = await invokeFunction(target.lambda, sub.functionName, event);
    const failures: unknown[] =
      (invoked.payload as { batchItemFailures?: unknown[] })?.batchItemFailures ?? [];
    return {
      ...base,
      delivered: `invoked ${sub.functionName} with ${records.length} records`,
      stages: [
        invoked.error ??
          `${sub.functionName}: ${records.length - failures.length} records processed, ${failures.length} reported as failed`,
      ],
      ok: invoked.error === undefined,
    };
  }
  const put = await target.kinesis.send(
    new PutRecordsCommand({
      StreamName: stream,
      Records: records.map((r) => ({
        Data: Buffer.from(String(r.kinesis?.data ?? ''), 'base64'),
        PartitionKey: String(r.kinesis?.partitionKey ?? 'replay'),
      })),
    }),
  );
  const failed = put.FailedRecordCount ?? 0;
  const readers = target.wiring.streamSubscriptions
    .filter((s) => s.streamName === stream)
    .map((s) => s.functionName);
  return {
    ...base,
    delivered: `PutRecords ${stream}: ${records.length - failed} put, ${failed} refused`,
    stages: readers.map((r) => `${r}: reads the stream (asynchronously; its logs say what it did)`),
    ok: failed === 0,
  };
}

async function replayS3(fixture: Fixture, target: ReplayTarget): Promise<ReplayOutcome> {
  const base = { file: fixture.file, source: fixture.source };
  const records: FixtureRecord[] = fixture.event.Records ?? [];
  const keys = records.map((r) => decodeURIComponent(String(r.s3?.object?.key ?? '').replace(/\+/g, ' ')));
  const stages: string[] = [];
  let delivered: string;
  let ok = true;
  if (target.invoke) {
    const key = keys[0] ?? '';
    const sub = target.wiring.s3Subscriptions.find(
      (s) =>
        (s.prefix === undefined || key.startsWith(s.prefix)) &&
        (s.suffix === undefined || key.endsWith(s.suffix)),
    );
    // No rule matches (a fixture of a key the function must skip): the function its configurationId names.
    const named = String(records[0]?.s3?.configurationId ?? '');
    const fn = sub?.functionName ?? target.wiring.functions.find((f) => named.includes(`-${f.key}-`))?.name;
    if (fn === undefined) throw new ReplayError(`no function is notified of s3://${target.bucket}/${key}`);
    const event = {
      Records: records.map((r) => ({
        ...r,
        s3: {
          ...r.s3,
          bucket: { ...r.s3?.bucket, name: target.bucket, arn: `arn:aws:s3:::${target.bucket}` },
        },
      })),
    };
    const invoked = await invokeFunction(target.lambda, fn, event);
    delivered = `invoked ${fn} with ${records.length} object(s)`;
    if (invoked.error) {
      stages.push(`${fn}: ${invoked.error}`);
      ok = false;
    } else if (sub === undefined)
      stages.push(`${fn}: ${JSON.stringify(invoked.payload)} (no notification rule matches this key)`);
  } else {
    for (const [i, key] of keys.entries()) {
      // The bytes recorded with the fixture (logbase replay --record), else the object the bucket holds.
      const existing =
        (await recordedObject(fixture.file, i)) ??
        (await target.s3
          .send(new GetObjectCommand({ Bucket: target.bucket, Key: key }))
          .then(async (o) => Buffer.from((await o.Body?.transformToByteArray()) ?? []))
          .catch(() => undefined));
      if (existing === undefined) {
        throw new ReplayError(
          `s3://${target.bucket}/${key} is not in the bucket, and a fixture holds no object bytes: write it first, or replay with --invoke`,
        );
      }
      // Written again as it is: S3 notifies the functions of the prefix as for a new object.
      await target.s3.send(new PutObjectCommand({ Bucket: target.bucket, Key: key, Body: existing }));
    }
    delivered = `wrote ${keys.map((k) => `s3://${target.bucket}/${k}`).join(', ')} again`;
  }
  for (const key of keys.filter((k) => k.startsWith('raw/events/') || k.startsWith('raw/clicks/'))) {
    const manifest = await waitForManifest(target, key, target.invoke ? 0 : target.waitMs);
    if (manifest === undefined) {
      stages.push(`formatParquet: no manifest ${manifestKey(key)} yet`);
      ok = false;
    } else stages.push(`formatParquet: ${describeManifest(manifest)}`);
  }
  return { ...base, delivered, stages, ok };
}

/** A manifest in one line: lines read = rows written + quarantined, with the reasons. */
export function describeManifest(m: FormatManifest): string {
  const reasons = Object.entries(m.quarantined_by_reason ?? {})
    .map(([r, n]) => `${r} ${n}`)
    .join(', ');
  const faults = (m.faults ?? []).map((f) => f.reason).join(', ');
  return [
    `${m.lines_read} lines read = ${m.rows_written} rows written + ${m.lines_quarantined} quarantined`,
    reasons ? ` (${reasons})` : '',
    faults ? `; object fault: ${faults}` : '',
    `; ${m.outputs.length} Parquet file(s)`,
  ].join('');
}

async function waitForManifest(target: ReplayTarget, key: string, waitMs: number) {
  const sleep = target.sleep ?? sleepFor;
  const since = Date.now();
  const deadline = since + waitMs;
  for (;;) {
    const m = await readManifestOf(target.s3, target.bucket, key);
    // A manifest from before this replay does not count while there is time to wait for a new one.
    if (m !== undefined && (waitMs === 0 || Date.parse(m.formatted_at) >= since - 1000)) return m;
    if (Date.now() >= deadline) return m;
    await sleep(200);
  }
}

/** Invokes a function and waits for its answer; `error` is the function's error, when it threw. */
export async function invokeFunction(
  lambda: LambdaClient,
  name: string,
  event: unknown,
): Promise<{ payload: unknown; error?: string }> {
  const out = await lambda.send(
    new InvokeCommand({
      FunctionName: name,
      InvocationType: 'RequestResponse',
      Payload: JSON.stringify(event),
    }),
  );
  const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
  let payload: unknown;
  try {
    payload = text ? JSON.parse(text) : undefined;
  } catch {
    payload = text;
  }
  if (out.FunctionError) {
    const p = payload as { errorType?: string; errorMessage?: string } | undefined;
    return { payload, error: `failed: ${p?.errorType ?? out.FunctionError}: ${p?.errorMessage ?? text}` };
  }
  return { payload };
}
