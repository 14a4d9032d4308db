import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { createGunzip, createGzip, gzip } from 'node:zlib';
import { MultiBar, Presets } from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { DefectKind } from '../traffic/defects';
import { steadyClock, TrafficGenerator, type TrafficOptions } from '../traffic/generator';
import { TokenBucket } from '../traffic/pacer';
import { formatSummary, SendStats, type SendSummary } from '../traffic/stats';
import type { RegisterCommand } from './index';

/** The endpoint `logbase dev` serves. */
export const DEFAULT_ENDPOINT = 'http://127.0.0.1:3000';
/** Collect's route. */
export const EVENTS_PATH = '/v1/events';
/** Collect's default decoded body limit (serverless.yml params.default.collectMaxBytes). */
export const DEFAULT_MAX_BODY_BYTES = 1_048_576;

const gzipAsync = promisify(gzip);
const BODY_HEAD = '{"events":[';
const BODY_TAIL = ']}';

/** Raised when a send cannot start: bad input file, no API key, an unusable endpoint. */
export class SendSetupError extends Error {
  override name = 'SendSetupError';
}

/** Raised (and reported as the reason the run stopped) when the server refuses the requests or cannot be reached. */
export class SendStoppedError extends Error {
  override name = 'SendStoppedError';
}

/** Raised under --strict for the first input line that cannot be sent. */
export class BadLineError extends Error {
  override name = 'BadLineError';
}

/** Where the events come from: a JSON-lines file (optionally .gz), or the traffic generator. */
export type SendInput = { file: string; strict?: boolean } | { generate: number; traffic?: TrafficOptions };

/** Everything `sendEvents` needs; only endpoint, apiKey and input are required. */
export interface SendOptions {
  /** Full URL of the events route, e.g. http://127.0.0.1:3000/v1/events (see `eventsUrl`). */
  endpoint: string;
  apiKey: string;
  input: SendInput;
  /** Events per request (default 500, collect's limit). */
  batchSize?: number;
  /** Send gzip bodies (Content-Encoding: gzip). */
  gzip?: boolean;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Events per second at most (token bucket); unlimited when undefined. */
  rate?: number;
  /** Largest request body before gzip; batches are cut to stay under it (default 1 MiB). */
  maxBodyBytes?: number;
  /** Time allowed for one request (default 30 s). */
  requestTimeoutMs?: number;
  /** Resending after a 503 or a network error: attempts per event (first included) and backoff. */
  retry?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** Aborting stops taking new batches; requests in flight finish and are counted. */
  signal?: AbortSignal;
}

/** Counts so far, for progress displays. */
export interface SendProgress {
  /** Events with a final outcome: accepted, rejected or failed. */
  done: number;
  sent: number;
  accepted: number;
  rejected: number;
  failed: number;
  total: number | undefined;
  elapsedMs: number;
}

/** Callbacks of a send run; all optional. */
export interface SendReporter {
  /** Before the first request; `total` is the number of events to send when known. */
  start?(info: { url: string; total: number | undefined }): void;
  /** After every answered (or failed) request. */
  progress?(progress: SendProgress): void;
  /** Skipped input lines, retries and other things worth a line on stderr. */
  warn?(message: string): void;
}

/** One event on its way: its JSON text and where it came from. */
interface Item {
  json: string;
  line?: number;
  defect?: DefectKind;
}

/** Collect's answer body (202 or 503), read defensively. */
interface CollectAnswer {
  message?: string;
  accepted?: number;
  rejected?: { index?: number; errors?: { path?: string; message?: string }[] }[];
  failed?: { index?: number; reason?: string }[];
}

/** The URL to POST to: `/v1/events` is appended when the endpoint has no path. */
export function eventsUrl(endpoint: string): string {
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new SendSetupError(
      `--endpoint must be an http(s) URL such as ${DEFAULT_ENDPOINT}, got "${endpoint}"`,
    );
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = EVENTS_PATH;
  return url.toString();
}

/**
 * The local stage's API key: the first of params.local.apiKeys in serverless.yml.
 * CloudFormation tags (!GetAtt, !Sub, !Ref, ...) are read as plain values.
 */
export function localApiKey(serverlessYml: string): string | undefined {
  if (!existsSync(serverlessYml)) return undefined;
  const doc = parseYaml(readFileSync(serverlessYml, 'utf8'), { logLevel: 'error' }) as {
    params?: { local?: { apiKeys?: unknown } };
  };
  const keys = doc?.params?.local?.apiKeys;
  if (typeof keys !== 'string') return undefined;
  return keys
    .split(',')
    .map((k) => k.trim())
    .find((k) => k !== '');
}

/** Picks the API key: the flag, else LOGBASE_API_KEY, else the local stage's key from serverless.yml. */
export function resolveApiKey(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  serverlessYml: string[] = [resolve('serverless.yml'), resolve(__dirname, '../../serverless.yml')],
): string {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = env.LOGBASE_API_KEY;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  for (const file of serverlessYml) {
    const key = localApiKey(file);
    if (key !== undefined) return key;
  }
  throw new SendSetupError(
    'no API key: pass --api-key, set LOGBASE_API_KEY, or run from the project (serverless.yml params.local.apiKeys)',
  );
}

function bodyBytes(items: readonly Item[]): number {
  let bytes = BODY_HEAD.length + BODY_TAIL.length + Math.max(0, items.length - 1);
  for (const item of items) bytes += Buffer.byteLength(item.json);
  return bytes;
}

function openText(path: string): Readable {
  const stream = createReadStream(path);
  return path.endsWith('.gz') ? stream.pipe(createGunzip()) : stream;
}

async function* fileLines(path: string): AsyncGenerator<{ line: number; text: string }> {
  const lines = createInterface({ input: openText(path), crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  for await (const text of lines) {
    line += 1;
    if (text.trim() !== '') yield { line, text: text.trim() };
  }
}

/** Counts the non-blank lines of a JSON-lines file (plain or .gz), for the progress total. */
export async function countLines(path: string): Promise<number> {
  let count = 0;
  for await (const _ of fileLines(path)) count += 1;
  return count;
}

interface BatchSettings {
  batchSize: number;
  maxBodyBytes: number;
  pace: (events: number) => Promise<void>;
  warn: (message: string) => void;
  stats: SendStats;
}

async function* fileBatches(path: string, strict: boolean, s: BatchSettings): AsyncGenerator<Item[]> {
  const room = s.maxBodyBytes - BODY_HEAD.length - BODY_TAIL.length;
  let batch: Item[] = [];
  let bytes = BODY_HEAD.length + BODY_TAIL.length;
  const skip = (message: string) => {
    if (strict) throw new BadLineError(`${message} (--strict: nothing after it was sent)`);
    s.stats.skipped += 1;
    s.warn(`skipped ${message}`);
  };
  for await (const { line, text } of fileLines(path)) {
    try {
      JSON.parse(text);
    } catch (error) {
      skip(`line ${line} of ${path}: not valid JSON (${(error as Error).message})`);
      continue;
    }
    const size = Buffer.byteLength(text);
    if (size > room) {
      skip(`line ${line} of ${path}: ${size} bytes, over the ${s.maxBodyBytes}-byte request limit`);
      continue;
    }
    if (batch.length === s.batchSize || bytes + size + 1 > s.maxBodyBytes) {
      await s.pace(batch.length);
      yield batch;
      batch = [];
      bytes = BODY_HEAD.length + BODY_TAIL.length;
    }
    batch.push({ json: text, line });
    bytes += size + (batch.length > 1 ? 1 : 0);
  }
  if (batch.length > 0) {
    await s.pace(batch.length);
    yield batch;
  }
}

/**
 * Generated events in batches. A duplicate (a client retry of the event just before it) is kept
 * in the same request as its original, so collect sees the pair and drops the copy.
 */
async function* generatedBatches(
  count: number,
  traffic: TrafficOptions,
  s: BatchSettings,
): AsyncGenerator<Item[]> {
  const generator = new TrafficGenerator(traffic);
  const toItem = (g: { event: unknown; defect?: DefectKind }): Item =>
    g.defect === undefined
      ? { json: JSON.stringify(g.event) }
      : { json: JSON.stringify(g.event), defect: g.defect };
  let made = 0;
  let carry: Item[] = [];
  while (made < count || carry.length > 0) {
    const want = Math.max(0, Math.min(s.batchSize - carry.length, count - made));
    await s.pace(want);
    const batch = carry;
    carry = [];
    let bytes = bodyBytes(batch);
    for (let i = 0; i < want; i++) {
      const item = toItem(generator.next());
      made += 1;
      const size = Buffer.byteLength(item.json) + 1;
      if (bytes + size > s.maxBodyBytes && batch.length > 0) {
        if (item.defect === 'duplicate_event_id' && batch.length > 1) carry.push(batch.pop() as Item);
        carry.push(item);
        break;
      }
      batch.push(item);
      bytes += size;
    }
    // Full batch: peek at the next event; a duplicate pulls its original into the next batch.
    if (carry.length === 0 && made < count && batch.length === s.batchSize) {
      const next = toItem(generator.next());
      made += 1;
      if (next.defect === 'duplicate_event_id' && batch.length > 1) carry.push(batch.pop() as Item);
      carry.push(next);
    }
    if (batch.length > 0) yield batch;
  }
}

function retryAfterMs(header: string | null): number {
  const seconds = Number(header);
  return header !== null && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 0;
}

function describeNetworkError(error: unknown): string {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'request timed out';
  const cause = e.cause;
  if (cause?.code !== undefined) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return e.message;
}

function firstError(rejection: NonNullable<CollectAnswer['rejected']>[number]): string {
  const error = rejection.errors?.[0];
  if (error === undefined) return 'rejected (no reason given)';
  return error.path ? `${error.path}: ${error.message}` : String(error.message);
}

/**
 * Sends events to collect in `{"events": [...]}` batches (gzip optional) with `concurrency`
 * requests in flight, paced to `rate`. A 503 resends only the events listed in its `failed`
 * (whole batch when there is no list), as do 429/500/502/504 and network errors, with
 * exponential backoff and jitter, honouring Retry-After. Any other refusal (400, 401, 413, 415,
 * ...) stops the run with the server's message. Resolves with the summary; never throws for
 * what the server says, only for bad setup (SendSetupError).
 */
export async function sendEvents(options: SendOptions, reporter: SendReporter = {}): Promise<SendSummary> {
  const url = eventsUrl(options.endpoint);
  const batchSize = options.batchSize ?? 500;
  const concurrency = options.concurrency ?? 4;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxAttempts = options.retry?.maxAttempts ?? 6;
  const baseDelayMs = options.retry?.baseDelayMs ?? 250;
  const maxDelayMs = options.retry?.maxDelayMs ?? 8000;
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const input = options.input;
  const generated = 'generate' in input;
  if ('file' in input && !existsSync(input.file))
    throw new SendSetupError(`input file ${input.file} does not exist`);

  const stats = new SendStats();
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const warn = (message: string) => reporter.warn?.(message);
  let stoppedBy: string | undefined;
  const stop = (reason: string) => {
    stoppedBy ??= reason;
  };

  const bucket =
    options.rate === undefined
      ? undefined
      : new TokenBucket(options.rate, Math.max(1, Math.min(batchSize, options.rate)));
  const pace = async (events: number) => {
    const wait = bucket?.reserve(events) ?? 0;
    if (wait > 0) await sleep(wait, undefined, { signal: options.signal }).catch(() => undefined);
  };
  const settings: BatchSettings = { batchSize, maxBodyBytes, pace, warn, stats };
  const total = generated ? input.generate : await countLines(input.file);
  reporter.start?.({ url, total });

  const report = () =>
    reporter.progress?.({
      done: stats.accepted + stats.rejected + stats.failed,
      sent: stats.sent,
      accepted: stats.accepted,
      rejected: stats.rejected,
      failed: stats.failed,
      total,
      elapsedMs: elapsed(),
    });

  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-api-key': options.apiKey,
    'user-agent': 'logbase-send',
  };
  if (options.gzip) headers['content-encoding'] = 'gzip';

  const backoff = (attempt: number, retryAfter: number) =>
    Math.min(maxDelayMs, Math.max(retryAfter, Math.random() * baseDelayMs * 2 ** (attempt - 1)));

  /** Counts the answer for `items`; returns the indexes (into items) collect could not store. */
  const account = (items: Item[], answer: CollectAnswer, failedIndexes: Set<number>) => {
    const rejectedIndexes = new Set<number>();
    for (const r of answer.rejected ?? []) {
      if (typeof r.index !== 'number' || failedIndexes.has(r.index)) continue;
      rejectedIndexes.add(r.index);
      stats.reject(firstError(r));
      if (generated && items[r.index] !== undefined && items[r.index]?.defect === undefined)
        stats.validRejected += 1;
    }
    stats.accepted +=
      typeof answer.accepted === 'number'
        ? answer.accepted
        : items.length - rejectedIndexes.size - failedIndexes.size;
    if (generated) {
      items.forEach((item, i) => {
        if (item.defect !== undefined && !rejectedIndexes.has(i) && !failedIndexes.has(i))
          stats.invalidAccepted += 1;
      });
    }
  };

  const sendBatch = async (batch: Item[]) => {
    let pending = batch;
    stats.sent += batch.length;
    // Counted when sent, so a run stopped early compares only what the server saw.
    for (const item of batch) if (item.defect !== undefined) stats.invalidGenerated += 1;
    for (let attempt = 1; ; attempt++) {
      const text = `${BODY_HEAD}${pending.map((i) => i.json).join(',')}${BODY_TAIL}`;
      const body = options.gzip ? await gzipAsync(text) : text;
      const t0 = performance.now();
      let status: number;
      let answer: CollectAnswer = {};
      let retryAfter = 0;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        const raw = await response.text();
        status = response.status;
        retryAfter = retryAfterMs(response.headers.get('retry-after'));
        try {
          answer = JSON.parse(raw) as CollectAnswer;
        } catch {
          answer = { message: raw.slice(0, 300) || response.statusText };
        }
        stats.request(status, performance.now() - t0);
      } catch (error) {
        stats.request('network', performance.now() - t0);
        const problem = describeNetworkError(error);
        if (attempt >= maxAttempts) {
          stats.failed += pending.length;
          stop(`cannot reach ${url}: ${problem} after ${attempt} attempts (is the server running?)`);
          return;
        }
        warn(
          `request failed (${problem}); resending ${pending.length} events (attempt ${attempt + 1}/${maxAttempts})`,
        );
        stats.resent += pending.length;
        await sleep(backoff(attempt, 0));
        continue;
      }

      if (status >= 200 && status < 300) {
        account(pending, answer, new Set());
        return;
      }
      if (status === 503 || status === 429 || status === 500 || status === 502 || status === 504) {
        const listed = status === 503 && Array.isArray(answer.failed);
        const failedIndexes = new Set(
          listed
            ? (answer.failed ?? []).map((f) => f.index).filter((i): i is number => typeof i === 'number')
            : pending.keys(),
        );
        if (listed) account(pending, answer, failedIndexes);
        const again = pending.filter((_, i) => failedIndexes.has(i));
        if (again.length === 0) return;
        if (attempt >= maxAttempts) {
          stats.failed += again.length;
          warn(
            `gave up on ${again.length} events after ${attempt} attempts (HTTP ${status}: ${answer.message ?? ''})`,
          );
          return;
        }
        stats.resent += again.length;
        pending = again;
        await sleep(backoff(attempt, retryAfter));
        continue;
      }
      stats.failed += pending.length;
      stop(`HTTP ${status}: ${answer.message ?? 'no message'}`);
      return;
    }
  };

  const source =
    'file' in input
      ? fileBatches(input.file, input.strict === true, settings)
      : generatedBatches(input.generate, input.traffic ?? {}, settings);
  const worker = async () => {
    while (stoppedBy === undefined && options.signal?.aborted !== true) {
      let next: IteratorResult<Item[]>;
      try {
        next = await source.next();
      } catch (error) {
        stop(error instanceof Error ? error.message : String(error));
        return;
      }
      if (next.done || options.signal?.aborted) return;
      await sendBatch(next.value);
      report();
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await source.return(undefined);
  }
  if (options.signal?.aborted) stop('interrupted');
  return stats.summary(elapsed(), { generated, ...(stoppedBy === undefined ? {} : { stoppedBy }) });
}

/**
 * The exit code of a send run: 1 when it stopped early or events could not be stored; 2 when a
 * file's events were rejected or its lines skipped, or when generated traffic was judged
 * differently than generated (a valid event rejected, a broken one accepted); else 0.
 */
export function exitCodeOf(summary: SendSummary, generated: boolean): number {
  if (summary.stoppedBy !== undefined || summary.failed > 0) return 1;
  if (generated) {
    const e = summary.expectation;
    return e !== undefined && (e.validRejected > 0 || e.invalidAccepted > 0) ? 2 : 0;
  }
  return summary.rejected > 0 || summary.skipped > 0 ? 2 : 0;
}

/**
 * Writes `count` generated events as JSON lines (gzip when the path ends in .gz). Timestamps are
 * spread at `eventsPerSecond`, ending now. Resolves with how many were broken on purpose, per kind.
 */
export async function writeGenerated(
  path: string,
  count: number,
  traffic: TrafficOptions,
  eventsPerSecond: number,
): Promise<Partial<Record<DefectKind, number>>> {
  const start = Date.now() - (count * 1000) / eventsPerSecond;
  const generator = new TrafficGenerator({ ...traffic, clock: steadyClock(start, eventsPerSecond) });
  const file = createWriteStream(path);
  const out: Writable = path.endsWith('.gz') ? createGzip() : file;
  if (out !== file) out.pipe(file);
  const defects: Partial<Record<DefectKind, number>> = {};
  const finished = new Promise<void>((resolveDone, reject) => {
    file.on('finish', resolveDone).on('error', reject);
    out.on('error', reject);
  });
  for (let i = 0; i < count; i++) {
    const g = generator.next();
    if (g.defect !== undefined) defects[g.defect] = (defects[g.defect] ?? 0) + 1;
    if (!out.write(`${JSON.stringify(g.event)}\n`)) await new Promise((r) => out.once('drain', r));
  }
  out.end();
  await finished;
  return defects;
}

// ------------------------------------------------------------------ command line

/** Options of `logbase send` as commander parses them. */
export interface SendCliOptions {
  generate?: number;
  rate?: number;
  invalidShare?: number;
  seed?: string;
  users?: number;
  articles?: number;
  endpoint: string;
  apiKey?: string;
  batchSize: number;
  gzip?: boolean;
  concurrency: number;
  out?: string;
  progress: boolean;
  strict?: boolean;
}

function positiveInt(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1 || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? '>= 1' : `from 1 to ${max}`;
      throw new InvalidArgumentError(`${name} must be a whole number ${range}, got "${raw}"`);
    }
    return value;
  };
}

function positiveNumber(name: string) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) {
      throw new InvalidArgumentError(`${name} must be a number > 0, got "${raw}"`);
    }
    return value;
  };
}

function share(raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new InvalidArgumentError(`--invalid-share must be a number from 0 to 1 (e.g. 0.05), got "${raw}"`);
  }
  return value;
}

/** Checks the combination of arguments; returns the problem or undefined. */
export function checkSendArguments(file: string | undefined, o: SendCliOptions): string | undefined {
  if (file !== undefined && o.generate !== undefined)
    return 'give either a <file> or --generate <n>, not both';
  if (file === undefined && o.generate === undefined) {
    return 'nothing to send: give a JSON-lines <file> or --generate <n> (see logbase send --help)';
  }
  if (file !== undefined) {
    const generatorOnly = (['invalidShare', 'seed', 'users', 'articles', 'out'] as const).filter(
      (k) => o[k] !== undefined,
    );
    if (generatorOnly.length > 0) {
      const flags = generatorOnly.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
      return `${flags.join(', ')} only ${flags.length === 1 ? 'applies' : 'apply'} with --generate`;
    }
  }
  if (o.generate !== undefined && o.strict) return '--strict only applies to a <file>';
  return undefined;
}

function seedOf(raw: string | undefined): number | string | undefined {
  if (raw === undefined) return undefined;
  return /^\d+$/.test(raw) ? Number(raw) : raw;
}

/** Progress on a TTY: a bar; elsewhere: a plain line every few seconds. */
function cliReporter(enabled: boolean): SendReporter & { close(): void } {
  const tty = process.stdout.isTTY === true;
  const warnings = { shown: 0, hidden: 0 };
  let bar: ReturnType<MultiBar['create']> | undefined;
  let multi: MultiBar | undefined;
  let lastLine = 0;
  const warnLine = (message: string) => {
    if (warnings.shown >= 20) {
      warnings.hidden += 1;
      return;
    }
    warnings.shown += 1;
    if (multi !== undefined) multi.log(`${message}\n`);
    else process.stderr.write(`${message}\n`);
  };
  const rate = (p: SendProgress) => Math.round((p.sent * 1000) / Math.max(1, p.elapsedMs));
  return {
    start({ url, total }) {
      process.stdout.write(`sending ${total ?? '?'} events to ${url}\n`);
      if (!enabled || !tty) return;
      multi = new MultiBar(
        {
          format:
            ' {bar} {percentage}% | {value}/{total} events | {eps} ev/s | accepted {accepted} rejected {rejected} failed {failed}',
          hideCursor: true,
          stream: process.stdout,
          etaBuffer: 50,
        },
        Presets.shades_classic,
      );
      bar = multi.create(total ?? 0, 0, { eps: 0, accepted: 0, rejected: 0, failed: 0 });
    },
    progress(p) {
      if (!enabled) return;
      if (bar !== undefined) {
        bar.update(p.done, { eps: rate(p), accepted: p.accepted, rejected: p.rejected, failed: p.failed });
        return;
      }
      const now = Date.now();
      if (now - lastLine < 2000 && p.done < (p.total ?? Number.POSITIVE_INFINITY)) return;
      lastLine = now;
      const pct = p.total ? ` (${Math.floor((p.done * 100) / p.total)}%)` : '';
      process.stdout.write(
        `progress: ${p.done}/${p.total ?? '?'} events${pct}, ${rate(p)} ev/s, accepted ${p.accepted}, rejected ${p.rejected}, failed ${p.failed}\n`,
      );
    },
    warn: warnLine,
    close() {
      multi?.stop();
      if (warnings.hidden > 0) process.stderr.write(`(${warnings.hidden} more warnings not shown)\n`);
    },
  };
}

async function runSend(file: string | undefined, o: SendCliOptions, command: Command): Promise<number> {
  const traffic: TrafficOptions = {};
  if (o.invalidShare !== undefined) traffic.invalidShare = o.invalidShare;
  const seed = seedOf(o.seed);
  if (seed !== undefined) traffic.seed = seed;
  if (o.users !== undefined) traffic.users = o.users;
  if (o.articles !== undefined) traffic.articles = o.articles;

  if (o.out !== undefined && o.generate !== undefined) {
    const defects = await writeGenerated(o.out, o.generate, traffic, o.rate ?? 100);
    const broken = Object.values(defects).reduce((a, b) => a + (b ?? 0), 0);
    const kinds = Object.entries(defects)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    process.stdout.write(
      `wrote ${o.generate} events to ${o.out} (${broken} broken on purpose${kinds ? `: ${kinds}` : ''})\n`,
    );
    return 0;
  }

  // With a rate and no explicit --batch-size, smaller batches keep the flow smooth (about 4 requests/s).
  const batchSize =
    o.rate !== undefined && command.getOptionValueSource('batchSize') === 'default'
      ? Math.max(1, Math.min(o.batchSize, Math.ceil(o.rate / 4)))
      : o.batchSize;
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\ninterrupted: finishing the requests in flight (Ctrl-C again to quit now)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const reporter = cliReporter(o.progress);
  try {
    const input: SendInput =
      o.generate !== undefined
        ? { generate: o.generate, traffic }
        : { file: file as string, strict: o.strict === true };
    const summary = await sendEvents(
      {
        endpoint: o.endpoint,
        apiKey: resolveApiKey(o.apiKey),
        input,
        batchSize,
        gzip: o.gzip === true,
        concurrency: o.concurrency,
        ...(o.rate === undefined ? {} : { rate: o.rate }),
        signal: controller.signal,
      },
      reporter,
    );
    reporter.close();
    process.stdout.write(`${formatSummary(summary).join('\n')}\n`);
    return exitCodeOf(summary, o.generate !== undefined);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Registers `logbase send`. */
export const registerSend: RegisterCommand = (program: Command) => {
  program
    .command('send')
    .description('send events to collect: a JSON-lines file, or realistic generated news-app traffic')
    .argument('[file]', 'JSON-lines file of events, one per line (.gz read as gzip)')
    .option(
      '--generate <n>',
      'generate n events of realistic traffic instead of reading a file',
      positiveInt('--generate'),
    )
    .option('--rate <r>', 'send at most r events per second (token bucket)', positiveNumber('--rate'))
    .option('--invalid-share <share>', 'with --generate: share of events broken on purpose, 0..1', share)
    .option('--seed <s>', 'with --generate: seed, so the same seed sends the same traffic')
    .option('--users <u>', 'with --generate: number of users (default 2000)', positiveInt('--users'))
    .option('--articles <a>', 'with --generate: number of articles (default 800)', positiveInt('--articles'))
    .option('--endpoint <url>', 'collect URL; /v1/events is appended when it has no path', DEFAULT_ENDPOINT)
    .option('--api-key <key>', 'API key (default: $LOGBASE_API_KEY, else the local key in serverless.yml)')
    .option('--batch-size <n>', 'events per request', positiveInt('--batch-size', 10_000), 500)
    .option('--gzip', 'gzip request bodies')
    .option('--concurrency <n>', 'requests in flight at once', positiveInt('--concurrency', 256), 4)
    .option(
      '--out <file>',
      'with --generate: write the events to this JSON-lines file (.gz: gzip) instead of sending',
    )
    .option('--strict', 'with a <file>: stop at the first line that cannot be sent instead of skipping it')
    .option('--no-progress', 'no progress bar or progress lines')
    .addHelpText(
      'after',
      `
Examples:
  logbase send --generate 10000 --invalid-share 0.05 --seed 7
  logbase send --generate 100000 --rate 2000 --gzip --concurrency 8
  logbase send events/collect/sample.jsonl --strict
  logbase send --generate 50000 --out traffic.jsonl.gz

Retries: a 503 resends only the events listed in its "failed" (429/500/502/504 and network
errors resend the batch) with exponential backoff, up to 6 attempts. 400, 401, 413 and 415 stop
the run with the server's message.

Exit codes:
  0  every event was accepted (--generate: the server judged every event as generated)
  1  bad arguments, the run stopped early (refused, unreachable, --strict), or events could
     not be stored after retries
  2  a <file>: some events were rejected or lines skipped; --generate: a valid event was
     rejected or a broken one accepted (rejections of the --invalid-share events are expected)`,
    )
    .action(async (file: string | undefined, options: SendCliOptions, command: Command) => {
      const problem = checkSendArguments(file, options);
      if (problem !== undefined)
        command.error(`error: ${problem}`, { exitCode: 1, code: 'logbase.send.arguments' });
      try {
        process.exitCode = await runSend(file, options, command);
      } catch (error) {
        if (error instanceof SendSetupError) command.error(`error: ${error.message}`, { exitCode: 1 });
        throw error;
      }
    });
};
