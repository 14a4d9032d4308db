import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGunzip } from 'node:zlib';
import { LocalStackStartError } from './errors';
import type { HealthReport } from './health';
import { errorMessage } from './log';
import { endpointUrl } from './ports';
import { RECORD_PATH, type Recorder } from './recorder';
import type { LocalPage } from './reports';

/**
 * The most a gzip request body may inflate to: serverless-offline's own payload limit (10 MiB), so a body the
 * front lets through is never refused by serverless-offline for its size instead.
 */
export const MAX_INFLATED_BYTES = 10 * 1024 * 1024;

/** Headers that describe one connection, not the message: never forwarded (RFC 9110 section 7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export interface HttpFrontOptions {
  /** Interface to bind (the stack's host). */
  host: string;
  /** Public port; 0 asks the OS for a free one (the bound port is `port` after `start`). */
  port: number;
  /** Where serverless-offline's HTTP API listens. */
  upstream: { host: string; port: number };
  /** Decoded size past which a gzip body is answered 413 (default MAX_INFLATED_BYTES). */
  maxInflatedBytes?: number;
  /** Served at `GET /health` (never forwarded): 200 when the report says ready, 503 otherwise. */
  health?: () => Promise<HealthReport>;
  /**
   * Start holding requests (all but /health) until `open()`: what the stack does while it starts, so a client
   * that connects as soon as the port opens gets its answer once the stack is ready, never a 502.
   */
  held?: boolean;
  /** How long a request is held at most before it is answered 503 (default 60 s). */
  holdTimeoutMs?: number;
  /** `logbase replay --record`: serves GET /_logbase/record and is shown every request while it records. */
  recorder?: Recorder;
  /**
   * Pages the front answers itself for GET/HEAD (never forwarded, never held): the KPI report pages of
   * local/reports.ts. Undefined for a path means "not a page": the request is forwarded.
   */
  pages?: (path: string) => Promise<LocalPage | undefined>;
}

/**
 * The stack's HTTP endpoint in front of serverless-offline. serverless-offline 14 turns every request body
 * into UTF-8 text unless its Content-Type says octet-stream or multipart, so a gzip body reaches the handler
 * with its binary bytes replaced by U+FFFD. The front inflates `Content-Encoding: gzip` bodies (streaming,
 * keeping at most `maxInflatedBytes`), drops the Content-Encoding header and sets Content-Length, so the
 * handler gets the decoded body it would inflate itself on AWS. Everything else (status, headers, bodies,
 * errors) passes through unchanged; only hop-by-hop headers are per connection.
 */
export class HttpFront {
  private server?: Server;
  private readonly agent = new Agent({ keepAlive: true });
  private readonly maxInflatedBytes: number;
  private readonly upstreamUrl: string;
  private held: boolean;
  /** Requests waiting for `open()`. */
  private readonly waiting = new Set<() => void>();
  /** The bound port (after `start`). */
  port = 0;

  constructor(private readonly options: HttpFrontOptions) {
    this.maxInflatedBytes = options.maxInflatedBytes ?? MAX_INFLATED_BYTES;
    this.upstreamUrl = endpointUrl(options.upstream.host, options.upstream.port);
    this.held = !!options.held;
  }

  /** Forwards requests from now on, the held ones first. */
  open(): void {
    this.held = false;
    for (const release of [...this.waiting]) release();
  }

  /** Holds new requests until `open()` (serverless-offline is starting again). */
  hold(): void {
    this.held = true;
  }

  /** The URL clients use. */
  get url(): string {
    return endpointUrl(this.options.host, this.port);
  }

  /** Listens on the public port. */
  async start(): Promise<void> {
    const { host, port } = this.options;
    const server = createServer((req, res) => this.handle(req, res));
    this.server = server;
    this.port = await new Promise<number>((resolve, reject) => {
      server.once('error', (error) =>
        reject(new LocalStackStartError(`HTTP API could not listen on ${host}:${port}: ${error.message}`)),
      );
      server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
    });
  }

  /** Stops listening and closes every connection, idle or not. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.agent.destroy();
    this.open(); // held requests get the 502 of a stopped serverless-offline, not a hang
    if (!server?.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (this.options.health && path === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      void this.answerHealth(req, res);
      return;
    }
    // logbase replay --record: the stream of what the stack receives (see pass() for the requests).
    const recorder = this.options.recorder;
    if (recorder && path === RECORD_PATH && req.method === 'GET') {
      recorder.serve(req, res);
      return;
    }
    if (
      this.options.pages &&
      path?.startsWith('/reports/') &&
      (req.method === 'GET' || req.method === 'HEAD')
    ) {
      void this.answerPage(req, res, path);
      return;
    }
    if (this.held) this.holdThenPass(req, res);
    else this.pass(req, res);
  }

  private async answerPage(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    let page: LocalPage | undefined;
    try {
      page = await (this.options.pages as (path: string) => Promise<LocalPage | undefined>)(path);
    } catch (error) {
      answer(res, 502, `the local stack could not read the page ${path}: ${errorMessage(error)}`);
      return;
    }
    if (page === undefined) {
      if (this.held) this.holdThenPass(req, res);
      else this.pass(req, res);
      return;
    }
    res.writeHead(page.status, {
      'Content-Type': page.contentType,
      'Content-Length': Buffer.byteLength(page.body),
      'Cache-Control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : page.body);
  }

  private async answerHealth(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const report = await (this.options.health as () => Promise<HealthReport>)();
    const body = `${JSON.stringify(report, null, 2)}\n`;
    res.writeHead(report.status === 'ready' ? 200 : 503, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** Waits for `open()` (the body stays unread meanwhile), or answers 503 after holdTimeoutMs. */
  private holdThenPass(req: IncomingMessage, res: ServerResponse): void {
    const timeoutMs = this.options.holdTimeoutMs ?? 60_000;
    const release = () => {
      clearTimeout(timer);
      this.waiting.delete(release);
      if (!res.destroyed) this.pass(req, res);
    };
    const timer = setTimeout(async () => {
      this.waiting.delete(release);
      const report = await this.options.health?.().catch(() => undefined);
      const notUp = Object.entries(report?.services ?? {})
        .filter(([, s]) => s.state !== 'up')
        .map(([name, s]) => `${name} ${s.state}`);
      req.resume();
      answer(
        res,
        503,
        `the local stack (logbase dev) was not ready within ${timeoutMs} ms` +
          `${notUp.length ? ` (${notUp.join(', ')})` : ''}; GET /health says what is up`,
      );
    }, timeoutMs);
    this.waiting.add(release);
    res.on('close', () => {
      if (!this.waiting.has(release)) return;
      clearTimeout(timer);
      this.waiting.delete(release);
    });
  }

  private pass(req: IncomingMessage, res: ServerResponse): void {
    const recorder = this.options.recorder;
    if (recorder?.active) {
      // Read alongside the forwarding pipe (both listeners are on before the first chunk flows).
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => recorder.captureHttp(req, Buffer.concat(chunks)));
    }
    const coding = singleCoding(req.headers['content-encoding']);
    if (coding === 'gzip' || coding === 'x-gzip') this.inflateThenForward(req, res);
    else this.forward(req, res, forwardable(req.rawHeaders));
  }

  /** Inflates the body into memory (at most `maxInflatedBytes`), then forwards it with its decoded length. */
  private inflateThenForward(req: IncomingMessage, res: ServerResponse): void {
    const gunzip = createGunzip();
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const refuse = (status: number, message: string) => {
      settled = true;
      req.unpipe(gunzip);
      gunzip.destroy();
      // Read (and drop) the rest of the body, so the client gets the answer rather than a reset.
      req.resume();
      answer(res, status, message, { close: true });
    };
    gunzip.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > this.maxInflatedBytes) {
        refuse(
          413,
          `gzip body inflates to more than ${this.maxInflatedBytes} bytes; the local HTTP API (logbase dev) ` +
            `inflates gzip bodies for serverless-offline and takes at most ${this.maxInflatedBytes} bytes decoded`,
        );
        return;
      }
      chunks.push(chunk);
    });
    gunzip.on('error', (error) => {
      if (settled) return;
      refuse(
        400,
        `body is not valid gzip (Content-Encoding: gzip): ${error.message}; the local HTTP API (logbase dev) ` +
          'inflates gzip bodies before serverless-offline',
      );
    });
    gunzip.on('end', () => {
      if (settled) return;
      settled = true;
      const body = Buffer.concat(chunks, size);
      const headers = forwardable(req.rawHeaders, ['content-encoding', 'content-length']);
      headers.push('Content-Length', String(body.length));
      this.forward(req, res, headers, body);
    });
    req.on('error', () => gunzip.destroy());
    req.pipe(gunzip);
  }

  /** Sends the request to serverless-offline (the body from `req`, or `body` when given) and pipes the answer. */
  private forward(req: IncomingMessage, res: ServerResponse, headers: string[], body?: Buffer): void {
    const upstream = request({
      host: this.options.upstream.host,
      port: this.options.upstream.port,
      method: req.method,
      path: req.url,
      headers,
      agent: this.agent,
    });
    upstream.on('response', (answerFromOffline) => {
      res.writeHead(
        answerFromOffline.statusCode ?? 502,
        answerFromOffline.statusMessage,
        forwardable(answerFromOffline.rawHeaders),
      );
      answerFromOffline.pipe(res);
      // serverless-offline went away half-way through its answer: the client sees a cut connection too.
      answerFromOffline.on('close', () => {
        if (!answerFromOffline.complete) res.destroy();
      });
    });
    upstream.on('error', (error) => {
      if (body === undefined) {
        req.unpipe(upstream);
        req.resume();
      }
      answer(
        res,
        502,
        `serverless-offline's HTTP API (${this.upstreamUrl}) did not answer: ${errorMessage(error)}; ` +
          'it may still be starting or have stopped (logbase dev prints why)',
      );
    });
    // The client went away before its answer was complete: stop the upstream request too.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    if (body !== undefined) upstream.end(body);
    else req.pipe(upstream);
  }
}

/** The one content coding of a Content-Encoding value (identity ignored), or undefined when not exactly one. */
function singleCoding(value: string | undefined): string | undefined {
  const codings = (value ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  return codings.length === 1 ? codings[0] : undefined;
}

/** Raw headers (name, value, name, value, ...) without hop-by-hop ones, those named by Connection, and `drop`. */
function forwardable(raw: readonly string[], drop: readonly string[] = []): string[] {
  const skip = new Set([...HOP_BY_HOP, ...drop]);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() !== 'connection') continue;
    for (const name of (raw[i + 1] ?? '').split(',')) skip.add(name.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!skip.has(name.toLowerCase())) out.push(name, raw[i + 1] as string);
  }
  return out;
}

/** Answers with a JSON `{"message": ...}` body, or cuts the connection when an answer has already begun. */
function answer(
  res: ServerResponse,
  status: number,
  message: string,
  options: { close?: boolean } = {},
): void {
  if (res.destroyed) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ message });
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    ...(options.close ? { Connection: 'close' } : {}),
  });
  res.end(body);
}
