import { AsyncLocalStorage } from 'node:async_hooks';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';
import S3rver from 's3rver';
import accounts from 's3rver/lib/models/account';
import type { DataDirLayout } from './data-dir';
import { LocalStackStartError } from './errors';
import { KinesisFaultHook } from './kinesis/faults';
import { type FilesystemStoreLike, makeObjectWritesAtomic } from './s3/atomic-puts';
import { AwsChunkedDecoder, isAwsChunked } from './s3/aws-chunked';
import type { ObjectChange } from './s3/events';
import { S3FaultHook } from './s3/faults';

export interface EmulatorPorts {
  s3: number;
  kinesis: number;
  dynamodb: number;
}

export interface StartEmulatorsOptions {
  host: string;
  ports: EmulatorPorts;
  layout: DataDirLayout;
  /** Called for every object created or removed in the S3 emulator. */
  onObjectChange: (change: ObjectChange) => void;
}

/** The three emulators, listening; `ports` are the real bound ports (port 0 asks the OS for a free one). */
export interface Emulators {
  ports: EmulatorPorts;
  /** Call counts and injected faults of the Kinesis API (tests). */
  kinesisFaults: KinesisFaultHook;
  /** Requests refused on purpose by the S3 emulator (tests). */
  s3Faults: S3FaultHook;
  stop(): Promise<void>;
}

/** How long kinesalite/dynalite keep a new stream/table in CREATING: short, so start-up is fast. */
const CREATE_MS = 50;

/** Starts s3rver, kinesalite and dynalite in this process, persisted under the data dir. */
export async function startEmulators(options: StartEmulatorsOptions): Promise<Emulators> {
  const { host, ports, layout } = options;
  acceptAnyS3Credentials();
  const started: (() => Promise<void>)[] = [];
  const stop = async () => {
    const errors: unknown[] = [];
    for (const close of started.reverse()) await close().catch((e) => errors.push(e));
    if (errors.length) throw errors[0];
  };
  try {
    const s3Faults = new S3FaultHook();
    const s3 = await startS3(host, ports.s3, layout.s3, options.onObjectChange, s3Faults);
    started.push(s3.close);
    const kinesisServer = kinesalite({
      path: layout.kinesis,
      createStreamMs: CREATE_MS,
      deleteStreamMs: CREATE_MS,
      updateStreamMs: CREATE_MS,
    });
    const kinesisFaults = new KinesisFaultHook(kinesisServer);
    const kinesis = await listen('Kinesis (kinesalite)', kinesisServer, host, ports.kinesis);
    started.push(kinesis.close);
    const dynamodb = await listen(
      'DynamoDB (dynalite)',
      dynalite({
        path: layout.dynamodb,
        createTableMs: CREATE_MS,
        deleteTableMs: CREATE_MS,
        updateTableMs: CREATE_MS,
      }),
      host,
      ports.dynamodb,
    );
    started.push(dynamodb.close);
    return {
      ports: { s3: s3.port, kinesis: kinesis.port, dynamodb: dynamodb.port },
      kinesisFaults,
      s3Faults,
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

/**
 * s3rver only knows its own dummy key pair; the local stack accepts any credentials (like kinesalite and
 * dynalite do), so SDK clients with `local`/`local` or a developer's own profile both work.
 */
function acceptAnyS3Credentials(): void {
  const registry = accounts.registry as Map<string, unknown> & { permissive?: boolean };
  if (registry.permissive) return;
  const get = registry.get.bind(registry);
  registry.get = (key: string) => (get(key) ?? accounts.DUMMY_ACCOUNT) as never;
  registry.permissive = true;
}

interface RequestInfo {
  query: Record<string, unknown>;
  ip: string;
}

async function startS3(
  host: string,
  port: number,
  directory: string,
  onChange: (c: ObjectChange) => void,
  faults: S3FaultHook,
) {
  const server = new S3rver({ address: host, port, directory, silent: true });
  makeObjectWritesAtomic((server as unknown as { store: FilesystemStoreLike }).store);
  const requests = new AsyncLocalStorage<RequestInfo>();
  // Runs first for every request: remembers what the request was (for the event name), and decodes
  // `aws-chunked` bodies, which s3rver would otherwise store framing and all.
  server.middleware.unshift((ctx, next) => {
    if (isAwsChunked(ctx.headers)) decodeAwsChunkedInPlace(ctx.req);
    return requests.run({ query: { ...ctx.query }, ip: ctx.ip }, next);
  });
  // Runs before that: a refused request (tests' injected faults) never reaches s3rver.
  server.middleware.unshift(faults.middleware);
  server.on('event', (event: S3rverEvent) => {
    const record = event.Records[0];
    if (!record) return;
    const info = requests.getStore();
    let eventName = record.eventName;
    if (eventName === 'ObjectCreated:Post' && info?.query.uploadId !== undefined) {
      eventName = 'ObjectCreated:CompleteMultipartUpload';
    }
    const object = record.s3.object;
    onChange({
      bucket: record.s3.bucket.name,
      key: object.key,
      eventName,
      size: object.size === undefined ? undefined : Number(object.size),
      eTag: object.eTag,
      sourceIp: (info?.ip ?? '127.0.0.1').replace(/^::ffff:/, ''),
    });
  });
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (error) {
    throw new LocalStackStartError(
      `S3 (s3rver) could not listen on ${host}:${port}: ${(error as Error).message}`,
    );
  }
  return { port: address.port, close: () => server.close() };
}

interface S3rverEvent {
  Records: {
    eventName: string;
    s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string } };
  }[];
}

/**
 * Makes an `aws-chunked` request look like a plain one to s3rver: its body (read through `pipe`) is the
 * decoded payload, and content-length is the decoded length.
 */
function decodeAwsChunkedInPlace(req: import('node:http').IncomingMessage): void {
  const decodedLength = req.headers['x-amz-decoded-content-length'];
  if (decodedLength !== undefined) req.headers['content-length'] = String(decodedLength);
  const encodings = String(req.headers['content-encoding'] ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e && e !== 'aws-chunked');
  if (encodings.length) req.headers['content-encoding'] = encodings.join(', ');
  else delete req.headers['content-encoding'];
  const originalPipe = req.pipe.bind(req);
  const decoded = originalPipe(new AwsChunkedDecoder());
  req.pipe = ((destination: NodeJS.WritableStream, opts?: { end?: boolean }) =>
    decoded.pipe(destination, opts)) as typeof req.pipe;
}

/** How long a stop waits for the emulator's requests in flight before it closes the database anyway. */
const DRAIN_MS = 5_000;

/**
 * Counts the requests whose handler has not answered yet. kinesalite and dynalite close their database
 * first when their server closes, so a request still being handled then (a poller's GetRecords that its
 * client already aborted) would throw "cannot call iterator() before open()" from inside the emulator,
 * an uncaught error in whatever process hosts the stack. The stop waits for these to answer first.
 */
function trackHandlers(server: Server): () => Promise<void> {
  let inFlight = 0;
  const waiters: (() => void)[] = [];
  server.prependListener('request', (_req, res) => {
    inFlight++;
    let answered = false;
    const end = res.end.bind(res) as (...args: unknown[]) => typeof res;
    res.end = ((...args: unknown[]) => {
      if (!answered) {
        answered = true;
        inFlight--;
        if (inFlight === 0) for (const wake of waiters.splice(0)) wake();
      }
      return end(...args);
    }) as typeof res.end;
  });
  return () =>
    inFlight === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, DRAIN_MS);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
}

async function listen(label: string, server: Server, host: string, port: number) {
  const drained = trackHandlers(server);
  const close = async () => {
    await drained();
    await new Promise<void>((resolve, reject) => {
      server.close((error?: Error) => (error ? reject(error) : resolve()));
      server.closeIdleConnections();
    });
  };
  try {
    const bound = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
    return { port: bound, close };
  } catch (error) {
    // The emulator opened its database before listening: close it so the data dir is released.
    await close().catch(() => undefined);
    throw new LocalStackStartError(
      `${label} could not listen on ${host}:${port}: ${(error as Error).message}`,
    );
  }
}
