import { createHash, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { HealthReport } from '../../../local/health';
import { HttpFront } from '../../../local/http-front';
import { freePort } from '../../../local/ports';
import { type LocalStack, startLocalStack } from '../../../local/stack';
import type { Echo } from '../../fixtures/http-front/handlers';
import { removeDir, tempDataDir } from './harness';

/**
 * The stack's HTTP API is a front before serverless-offline: it inflates gzip bodies (serverless-offline
 * would decode their bytes as UTF-8) and passes everything else through. The fixture's `echo` handler, run
 * by serverless-offline, answers with the body and headers it received.
 */
const FIXTURE_DIR = resolve(__dirname, '../../fixtures/http-front');
/** A small cap, so the test needs no large bodies. */
const CAP = 64 * 1024;

describe('the local HTTP API in front of serverless-offline', () => {
  let dataDir: string;
  let stack: LocalStack;
  let url: string;

  beforeAll(async () => {
    dataDir = await tempDataDir();
    stack = await startLocalStack({
      serviceDir: FIXTURE_DIR,
      dataDir,
      offline: true,
      maxInflatedBodyBytes: CAP,
      ports: { s3: 0, kinesis: 0, dynamodb: 0, firehose: 0, sqs: 0, http: 0, lambda: 0 },
    });
    url = `${stack.endpoints.http}/echo`;
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await removeDir(dataDir);
  }, 30_000);

  async function post(body: string | Buffer, headers: Record<string, string>) {
    const res = await fetch(url, { method: 'POST', headers, body });
    return {
      status: res.status,
      headers: res.headers,
      body: (await res.json()) as Echo & { message?: string },
    };
  }

  it('hands the handler a gzip body inflated, without Content-Encoding and with its decoded length', async () => {
    // Prepare
    const text = `${JSON.stringify({ events: [{ note: 'déjà vu ✓' }] })}\n`.repeat(20);

    // Act
    const res = await post(gzipSync(text), {
      'content-type': 'application/x-ndjson',
      'content-encoding': 'gzip',
    });

    // Assess
    expect(res.status).toBe(200);
    expect(res.body.text).toBe(text);
    expect(res.body.contentEncoding).toBeNull();
    expect(res.body.contentLength).toBe(String(Buffer.byteLength(text)));
    expect(res.body.contentType).toBe('application/x-ndjson');
  });

  it('passes a body that inflates to exactly the cap', async () => {
    // Prepare
    const text = 'a'.repeat(CAP);

    // Act
    const res = await post(gzipSync(text), { 'content-type': 'text/plain', 'content-encoding': 'gzip' });

    // Assess
    expect(res.status).toBe(200);
    expect(res.body.bytes).toBe(CAP);
  });

  it('answers 413 with the cap when a gzip body inflates past it, without inflating all of it', async () => {
    // Prepare: 64 MiB of zeros, about 64 KiB gzipped.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));

    // Act
    const res = await post(bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' });

    // Assess
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.body.message).toContain(`more than ${CAP} bytes`);
  });

  it('answers 400 naming gzip when a gzip body is not valid gzip', async () => {
    // Act
    const res = await post('{"events": []}', {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });

    // Assess
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/not valid gzip/);
  });

  it('passes other bodies, statuses and headers through unchanged', async () => {
    // Prepare: binary bytes, which serverless-offline hands over base64 for this content type.
    const bytes = randomBytes(32 * 1024);

    // Act
    const res = await post(bytes, { 'content-type': 'application/octet-stream', 'x-echo-status': '207' });

    // Assess
    expect(res.status).toBe(207);
    expect(res.headers.get('x-echo')).toBe('front-test');
    expect(res.body.isBase64Encoded).toBe(true);
    expect(res.body.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it("passes serverless-offline's own answers through, such as 404 for an unknown route", async () => {
    // Act
    const viaFront = await fetch(`${stack.endpoints.http}/nowhere`, { method: 'POST', body: '{}' });
    const direct = await fetch(`${stack.endpoints.offlineHttp}/nowhere`, { method: 'POST', body: '{}' });

    // Assess
    expect(viaFront.status).toBe(404);
    expect(await viaFront.text()).toBe(await direct.text());
  });
});

describe('the local HTTP API when serverless-offline is not there', () => {
  it('answers 502 with a message naming serverless-offline', async () => {
    // Prepare: a front whose upstream port has nothing listening.
    const front = new HttpFront({
      host: '127.0.0.1',
      port: 0,
      upstream: { host: '127.0.0.1', port: await freePort() },
    });
    await front.start();

    try {
      // Act
      const res = await fetch(`${front.url}/v1/events`, { method: 'POST', body: '{"events": []}' });
      const body = (await res.json()) as { message: string };

      // Assess
      expect(res.status).toBe(502);
      expect(body.message).toMatch(
        /serverless-offline's HTTP API \(http:\/\/127\.0\.0\.1:\d+\) did not answer/,
      );
    } finally {
      await front.stop();
    }
  });
});

describe('the local HTTP API while the stack is not ready', () => {
  const starting = {
    status: 'starting' as const,
    services: { s3: { state: 'up' as const }, offline: { state: 'starting' as const } },
  };

  it('answers 503 naming what is not up when a held request waits longer than holdTimeoutMs', async () => {
    // Prepare
    const front = new HttpFront({
      host: '127.0.0.1',
      port: 0,
      upstream: { host: '127.0.0.1', port: await freePort() },
      health: async () => starting,
      held: true,
      holdTimeoutMs: 200,
    });
    await front.start();

    try {
      // Act
      const res = await fetch(`${front.url}/v1/events`, { method: 'POST', body: '{"events": []}' });
      const body = (await res.json()) as { message: string };

      // Assess
      expect(res.status).toBe(503);
      expect(body.message).toBe(
        'the local stack (logbase dev) was not ready within 200 ms (offline starting); GET /health says what is up',
      );
    } finally {
      await front.stop();
    }
  });

  it('answers GET /health at once while requests are held: 503 until the report says ready, then 200', async () => {
    // Prepare
    let report: HealthReport = starting;
    const front = new HttpFront({
      host: '127.0.0.1',
      port: 0,
      upstream: { host: '127.0.0.1', port: await freePort() },
      health: async () => report,
      held: true,
    });
    await front.start();

    try {
      // Act
      const before = await fetch(`${front.url}/health`);
      report = { status: 'ready', services: { s3: { state: 'up' }, offline: { state: 'up' } } };
      const after = await fetch(`${front.url}/health`);

      // Assess
      expect(before.status).toBe(503);
      expect(await before.json()).toEqual(starting);
      expect(after.status).toBe(200);
      expect(((await after.json()) as HealthReport).status).toBe('ready');
    } finally {
      await front.stop();
    }
  });
});
