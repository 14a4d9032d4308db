import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import {
  dynamoDbClient,
  firehoseClient,
  kinesisClient,
  s3Client,
  snsClient,
  sqsClient,
} from '../../../lib/aws/clients';
import { InProcessInvoker, type Invoker, type LocalHandler } from '../../../local/invoker';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../../local/stack';

/** The wiring fixture: a tiny service whose serverless.yml is loaded through the same `sls print` loader. */
export const FIXTURE_DIR = resolve(__dirname, '../../fixtures/wiring');

/** Physical names the fixture's serverless.yml resolves to at stage `local`. */
export const FIXTURE = {
  bucket: 'wiring-local-data',
  stream: 'wiring-local-records',
  table: 'wiring-local-Seen',
  direct: 'wiring-local-direct',
  bulk: 'wiring-local-bulk',
  fromStream: 'wiring-local-from-stream',
  guardedStream: 'wiring-local-guarded',
  onFailureQueue: 'wiring-local-on-failure',
  alertsTopic: 'wiring-local-alerts',
  alertsInbox: 'wiring-local-alerts-inbox',
} as const;

/** A fresh temp folder for a stack's data dir. */
export async function tempDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'logbase-local-'));
}

export const removeDir = (dir: string) => rm(dir, { recursive: true, force: true });

/** Starts the fixture service on free ports, polling fast, with the given invoker. */
export function startFixtureStack(
  options: { dataDir: string; invoker?: Invoker } & Partial<LocalStackOptions>,
): Promise<LocalStack> {
  return startLocalStack({
    serviceDir: FIXTURE_DIR,
    ports: { s3: 0, kinesis: 0, dynamodb: 0, firehose: 0, sqs: 0, http: 0, lambda: 0 },
    pollIntervalMs: 50,
    retryDelayMs: 20,
    s3RetryDelayMs: 20,
    ...options,
  });
}

/** SDK clients for a running stack, configured exactly as handlers get them (lib/aws/clients.ts). */
export function clientsFor(stack: LocalStack) {
  const env = { ...process.env, ...stack.env };
  return {
    s3: s3Client(env),
    kinesis: kinesisClient(env),
    firehose: firehoseClient(env),
    dynamodb: dynamoDbClient(env),
    sqs: sqsClient(env),
    sns: snsClient(env),
  };
}

/** Closes a set of clients. */
export function destroyClients(clients: Record<string, { destroy(): void }>): void {
  for (const client of Object.values(clients)) client.destroy();
}

/** The stack of a test file, its clients and its data dir (see useFixtureStack). */
export interface FixtureStackHandle {
  readonly stack: LocalStack;
  readonly clients: ReturnType<typeof clientsFor>;
  readonly dataDir: string;
}

/**
 * Starts a fixture stack on a fresh data dir before the file's tests, with clients for it, and
 * stops the clients, the stack and the data dir after them. The handle's fields are there from
 * beforeAll on.
 */
export function useFixtureStack(
  options: Omit<Parameters<typeof startFixtureStack>[0], 'dataDir'> = {},
  startTimeoutMs?: number,
): FixtureStackHandle {
  const handle = {} as { -readonly [K in keyof FixtureStackHandle]: FixtureStackHandle[K] };
  beforeAll(async () => {
    handle.dataDir = await tempDataDir();
    handle.stack = await startFixtureStack({ ...options, dataDir: handle.dataDir });
    handle.clients = clientsFor(handle.stack);
  }, startTimeoutMs);
  afterAll(async () => {
    if (handle.clients !== undefined) destroyClients(handle.clients);
    await handle.stack?.stop();
    if (handle.dataDir !== undefined) await removeDir(handle.dataDir);
  }, 30_000);
  return handle;
}

/** Every invocation an in-process function received, in order. */
export class Invocations<E = any> {
  readonly events: E[] = [];
  /** What the function does with each event (default: nothing, success). */
  behaviour: (event: E) => unknown = () => undefined;

  readonly handler: LocalHandler = (event: E) => {
    this.events.push(event);
    return this.behaviour(event);
  };
}

/**
 * An in-process invoker for the fixture's functions (the two with on-failure destinations are given only
 * when a test needs them; without a handler they fail with HandlerNotFound).
 */
export function fixtureInvoker(
  onRawObject: Invocations,
  onRecords: Invocations,
  guarded: { onGuardedObject?: Invocations; onGuardedRecords?: Invocations } = {},
): InProcessInvoker {
  const handlers: Record<string, LocalHandler> = {
    onRawObject: onRawObject.handler,
    onRecords: onRecords.handler,
  };
  if (guarded.onGuardedObject) handlers.onGuardedObject = guarded.onGuardedObject.handler;
  if (guarded.onGuardedRecords) handlers.onGuardedRecords = guarded.onGuardedRecords.handler;
  return new InProcessInvoker(handlers);
}

/**
 * Polls `probe` until it returns something other than undefined (or false), or fails after `timeoutMs`
 * with `what` in the message.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Keys under a prefix, sorted. */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key as string).sort();
}

/** An object's bytes. */
export async function readObject(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(
    await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

/** A gzip object's text. */
export async function readGzipText(s3: S3Client, bucket: string, key: string): Promise<string> {
  return gunzipSync(await readObject(s3, bucket, key)).toString('utf8');
}

/** The text of a Kinesis event record's data. */
export const recordText = (record: { kinesis: { data: string } }) =>
  Buffer.from(record.kinesis.data, 'base64').toString('utf8');
