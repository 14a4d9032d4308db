import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Invoker, InvokeTarget } from './invoker';

/**
 * `logbase replay --record`: while a client holds `GET /_logbase/record` open on the stack's HTTP
 * endpoint, everything the stack receives is streamed to it (JSON lines) as fixtures of the shapes
 * under events/: each HTTP request as the API Gateway HTTP API (payload 2.0) event the function gets,
 * each Kinesis batch a function is invoked with (every record once: a retried or bisected batch adds
 * only records not sent yet), each S3 notification for an object under raw/ or articles/ (with the
 * object's bytes, so the fixture replays on a stack that does not hold it). Nothing is captured, and
 * nothing costs anything, while no client listens.
 */

export const RECORD_PATH = '/_logbase/record';

/** One captured fixture, as streamed. `objects`: the bytes (base64) of an S3 event's objects, in record order. */
export interface RecordedFixture {
  source: 'http' | 'kinesis' | 's3';
  /** A short name for the file: what received it (`collect`, `updateUserVectors`, `raw-events`). */
  name: string;
  event: unknown;
  objects?: (string | null)[];
}

/** The prefixes whose S3 notifications are recorded. */
const RECORDED_PREFIXES = ['raw/', 'articles/'];

export class Recorder {
  private readonly listeners = new Set<(f: RecordedFixture) => void>();
  /** Kinesis records already sent in this recording (function key + eventID). */
  private readonly seen = new Set<string>();

  constructor(private readonly s3?: S3Client) {}

  get active(): boolean {
    return this.listeners.size > 0;
  }

  private emit(f: RecordedFixture): void {
    for (const listener of this.listeners) listener(f);
  }

  /** Streams fixtures to a `GET /_logbase/record` client until it disconnects. */
  serve(_req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store' });
    res.write(`${JSON.stringify({ recording: true })}\n`);
    const listener = (f: RecordedFixture) => res.write(`${JSON.stringify(f)}\n`);
    this.listeners.add(listener);
    res.on('close', () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.seen.clear();
    });
  }

  /** An HTTP request as the HTTP API event its function receives (the body as the client sent it). */
  captureHttp(req: IncomingMessage, body: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://local');
    const method = (req.method ?? 'GET').toUpperCase();
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
    }
    const encoded = headers['content-encoding'] !== undefined || !isUtf8(body);
    const now = new Date();
    const event = {
      version: '2.0',
      routeKey: `${method} ${url.pathname}`,
      rawPath: url.pathname,
      rawQueryString: url.search.replace(/^\?/, ''),
      headers,
      requestContext: {
        accountId: 'offlineContext_accountId',
        apiId: 'local',
        domainName: headers.host ?? 'localhost',
        http: {
          method,
          path: url.pathname,
          protocol: `HTTP/${req.httpVersion}`,
          sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
          userAgent: headers['user-agent'] ?? '',
        },
        requestId: randomUUID(),
        routeKey: `${method} ${url.pathname}`,
        stage: '$default',
        time: now.toUTCString(),
        timeEpoch: now.getTime(),
      },
      ...(body.length > 0
        ? { body: encoded ? body.toString('base64') : body.toString('utf8'), isBase64Encoded: encoded }
        : { isBase64Encoded: false }),
    };
    const name = `${method.toLowerCase()}${url.pathname.replace(/[^A-Za-z0-9]+/g, '-')}`.replace(/-$/, '');
    this.emit({ source: 'http', name, event });
  }

  /** A function invocation: Kinesis batches and S3 notifications of raw/ and articles/ are recorded. */
  async captureInvocation(target: InvokeTarget, event: unknown): Promise<void> {
    const records = (event as { Records?: Record<string, unknown>[] } | null)?.Records;
    if (!Array.isArray(records) || records.length === 0) return;
    const source = records[0]?.eventSource;
    if (source === 'aws:kinesis') {
      const fresh = records.filter((r) => {
        const id = `${target.key}\n${String(r.eventID)}`;
        if (this.seen.has(id)) return false;
        this.seen.add(id);
        return true;
      });
      if (fresh.length > 0) this.emit({ source: 'kinesis', name: target.key, event: { Records: fresh } });
      return;
    }
    if (source !== 'aws:s3') return;
    const keys = records.map((r) => {
      const key = String((r.s3 as { object?: { key?: string } } | undefined)?.object?.key ?? '');
      return decodeURIComponent(key.replace(/\+/g, ' '));
    });
    if (!keys.every((k) => RECORDED_PREFIXES.some((p) => k.startsWith(p)))) return;
    const objects = await Promise.all(
      records.map(async (r, i) => {
        const bucket = (r.s3 as { bucket?: { name?: string } } | undefined)?.bucket?.name;
        if (this.s3 === undefined || bucket === undefined) return null;
        try {
          const out = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: keys[i] }));
          return Buffer.from((await out.Body?.transformToByteArray()) ?? []).toString('base64');
        } catch {
          return null; // gone already: the fixture replays only where the object is
        }
      }),
    );
    const name = (keys[0] ?? '').split('/').slice(0, 2).join('-');
    this.emit({ source: 's3', name, event, objects });
  }
}

/** An invoker that shows each invocation to the recorder first (while it records), then invokes. */
export class RecordingInvoker implements Invoker {
  constructor(
    private readonly inner: Invoker,
    private readonly recorder: Recorder,
  ) {}

  async invoke(target: InvokeTarget, event: unknown): Promise<unknown> {
    if (this.recorder.active) await this.recorder.captureInvocation(target, event).catch(() => undefined);
    return this.inner.invoke(target, event);
  }
}
