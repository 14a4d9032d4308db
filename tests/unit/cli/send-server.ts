import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { prepareRequest } from '../../../lib/domain/collect';
import { CollectRequestError } from '../../../lib/domain/http-body';

/** One request the fake collect received. */
export interface Received {
  headers: IncomingHttpHeaders;
  /** The decoded (gunzipped when needed) body text. */
  text: string;
  events: Record<string, unknown>[];
}

/** A scripted answer that replaces the normal one for a request. */
export type Script = (request: Received, n: number) => { status: number; body: unknown } | undefined;

/** A loopback HTTP server that answers like collect: real validation (prepareRequest), no streams. */
export interface FakeCollect {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

/**
 * Starts a fake collect on 127.0.0.1 and a free port. Without a script it answers 202 with the
 * accepted count and the rejections prepareRequest found, the way functions/collect does.
 */
export async function startFakeCollect(script: Script = () => undefined): Promise<FakeCollect> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const decoded = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const text = decoded.toString('utf8');
      let events: Record<string, unknown>[] = [];
      try {
        events = (JSON.parse(text) as { events: Record<string, unknown>[] }).events;
      } catch {
        events = [];
      }
      const request: Received = { headers: req.headers, text, events };
      received.push(request);
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '0' });
        res.end(JSON.stringify(body));
      };
      const scripted = script(request, received.length);
      if (scripted !== undefined) {
        reply(scripted.status, scripted.body);
        return;
      }
      try {
        const prepared = prepareRequest(
          {
            body: raw,
            contentType: req.headers['content-type'],
            contentEncoding: req.headers['content-encoding'],
            receivedAt: new Date(),
            requestId: `req-${received.length}`,
          },
          { maxEvents: 500, maxBytes: 1_048_576, futureSkewSeconds: 300 },
        );
        const rejected = prepared.rejected.map(({ index, event_id, errors }) => ({
          index,
          event_id,
          errors,
        }));
        reply(202, { accepted: prepared.clicks.length + prepared.events.length, rejected, request_id: 'r' });
      } catch (error) {
        if (!(error instanceof CollectRequestError)) throw error;
        reply(error.statusCode, { message: error.message, request_id: 'r' });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
