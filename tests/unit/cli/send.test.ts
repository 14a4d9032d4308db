import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SendReporter } from '../../../cli/client/poster';
import { exitCodeOf, type SendOptions, sendEvents } from '../../../cli/client/send-events';
import { generateTraffic } from '../../../cli/traffic';
import { closedPort, type FakeCollect, startFakeCollect } from './send-server';

const API_KEY = 'lb_test_key';
const FAST_RETRY = { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 5 };

describe('logbase send against a collect endpoint', () => {
  let server: FakeCollect | undefined;
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'logbase-send-'));
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  function options(url: string, input: SendOptions['input'], extra: Partial<SendOptions> = {}): SendOptions {
    return { endpoint: url, apiKey: API_KEY, input, retry: FAST_RETRY, ...extra };
  }

  function recorder(): SendReporter & { warnings: string[] } {
    const warnings: string[] = [];
    return { warnings, warn: (message) => warnings.push(message) };
  }

  it('sends generated events in batches of the batch size to /v1/events with the API key', async () => {
    // Prepare
    server = await startFakeCollect();

    // Act
    const summary = await sendEvents(
      options(server.url, { generate: 1200, traffic: { seed: 1 } }, { batchSize: 500, concurrency: 1 }),
    );

    // Assess
    expect(server.received.map((r) => r.events.length)).toEqual([500, 500, 200]);
    for (const request of server.received) {
      expect(request.headers['x-api-key']).toBe(API_KEY);
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['content-encoding']).toBeUndefined();
      expect(Object.keys(JSON.parse(request.text))).toEqual(['events']);
    }
    expect(summary).toMatchObject({ sent: 1200, accepted: 1200, rejected: 0, failed: 0, requests: 3 });
    expect(summary.statuses).toEqual({ '202': 3 });
    expect(exitCodeOf(summary, true)).toBe(0);
  });

  it('sends the same events whatever the concurrency', async () => {
    // Prepare
    server = await startFakeCollect();
    const expected = generateTraffic(900, { seed: 5, clock: () => Date.now() }).map((g) => g.event.event_id);

    // Act
    const summary = await sendEvents(
      options(server.url, { generate: 900, traffic: { seed: 5 } }, { batchSize: 100, concurrency: 4 }),
    );

    // Assess
    const sentIds = server.received.flatMap((r) => r.events.map((e) => e.event_id));
    expect(sentIds.sort()).toEqual([...expected].sort());
    expect(summary.accepted).toBe(900);
  });

  it('gzips the request bodies with --gzip', async () => {
    // Prepare
    server = await startFakeCollect();

    // Act
    const summary = await sendEvents(
      options(server.url, { generate: 300, traffic: { seed: 2 } }, { gzip: true }),
    );

    // Assess
    expect(server.received).toHaveLength(1);
    expect(server.received[0]?.headers['content-encoding']).toBe('gzip');
    expect(server.received[0]?.events).toHaveLength(300);
    expect(summary.accepted).toBe(300);
  });

  it('resends only the events a 503 lists as failed, then counts them as accepted', async () => {
    // Prepare
    server = await startFakeCollect((request, n) =>
      n === 1
        ? {
            status: 503,
            body: {
              accepted: request.events.length - 2,
              rejected: [],
              failed: [
                {
                  index: 3,
                  event_id: request.events[3]?.event_id,
                  reason: 'ServiceUnavailableException: slow down',
                },
                {
                  index: 7,
                  event_id: request.events[7]?.event_id,
                  reason: 'ServiceUnavailableException: slow down',
                },
              ],
              message: '2 of 10 events could not be stored; send the events listed in "failed" again',
            },
          }
        : undefined,
    );

    // Act
    const summary = await sendEvents(options(server.url, { generate: 10, traffic: { seed: 3 } }));

    // Assess
    const [first, retry] = server.received;
    expect(retry?.events.map((e) => e.event_id)).toEqual([
      first?.events[3]?.event_id,
      first?.events[7]?.event_id,
    ]);
    expect(summary).toMatchObject({ sent: 10, accepted: 10, failed: 0, resent: 2, requests: 2 });
    expect(summary.statuses).toEqual({ '202': 1, '503': 1 });
  });

  it('counts events as failed when a 503 keeps coming after the last attempt', async () => {
    // Prepare
    server = await startFakeCollect((request) => ({
      status: 503,
      body: {
        accepted: request.events.length - 1,
        rejected: [],
        failed: [{ index: 0, event_id: request.events[0]?.event_id, reason: 'InternalFailure: down' }],
        message: 'could not be stored',
      },
    }));

    // Act
    const summary = await sendEvents(options(server.url, { generate: 5, traffic: { seed: 3 } }));

    // Assess
    expect(server.received).toHaveLength(FAST_RETRY.maxAttempts);
    expect(summary).toMatchObject({ accepted: 4, failed: 1, resent: 3 });
    expect(exitCodeOf(summary, true)).toBe(1);
  });

  it('reports each broken generated event as rejected, grouped by reason, and none as unexpected', async () => {
    // Prepare
    server = await startFakeCollect();

    // Act
    const summary = await sendEvents(
      options(server.url, { generate: 3000, traffic: { seed: 11, invalidShare: 0.1 } }, { concurrency: 2 }),
    );

    // Assess
    expect(summary.expectation?.invalid).toBeGreaterThan(200);
    expect(summary.rejected).toBe(summary.expectation?.invalid);
    expect(summary.accepted).toBe(3000 - summary.rejected);
    expect(summary.expectation).toMatchObject({ validRejected: 0, invalidAccepted: 0 });
    expect(summary.topRejections.length).toBe(5);
    const counts = summary.topRejections.map((g) => g.count);
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
    expect(summary.topRejections.map((g) => g.example).join('\n')).toMatch(/\/event_id: duplicate event_id/);
    expect(exitCodeOf(summary, true)).toBe(0);
  });

  it('keeps a duplicate in the same request as its original, so small batches still reject every copy', async () => {
    // Prepare
    server = await startFakeCollect();

    // Act
    const summary = await sendEvents(
      options(server.url, { generate: 2000, traffic: { seed: 21, invalidShare: 0.3 } }, { batchSize: 7 }),
    );

    // Assess
    expect(Math.max(...server.received.map((r) => r.events.length))).toBeLessThanOrEqual(7);
    expect(server.received.reduce((n, r) => n + r.events.length, 0)).toBe(2000);
    expect(summary.expectation).toMatchObject({ validRejected: 0, invalidAccepted: 0 });
    expect(summary.rejected).toBe(summary.expectation?.invalid);
  });

  it('cuts batches under the body size limit and still keeps each duplicate with its original', async () => {
    // Prepare
    server = await startFakeCollect();

    // Act
    const summary = await sendEvents(
      options(
        server.url,
        { generate: 1500, traffic: { seed: 22, invalidShare: 0.3 } },
        { maxBodyBytes: 3000 },
      ),
    );

    // Assess
    expect(Math.max(...server.received.map((r) => Buffer.byteLength(r.text)))).toBeLessThanOrEqual(3000);
    expect(server.received.reduce((n, r) => n + r.events.length, 0)).toBe(1500);
    expect(summary.expectation).toMatchObject({ validRejected: 0, invalidAccepted: 0 });
  });

  it('stops at a 401 with the server message and sends nothing more', async () => {
    // Prepare
    server = await startFakeCollect(() => ({
      status: 401,
      body: { message: 'invalid API key', request_id: 'r' },
    }));

    // Act
    const summary = await sendEvents(
      options(server.url, { generate: 5000, traffic: { seed: 1 } }, { batchSize: 100, concurrency: 1 }),
    );

    // Assess
    expect(summary.stoppedBy).toBe('HTTP 401: invalid API key');
    expect(server.received).toHaveLength(1);
    expect(summary).toMatchObject({ sent: 100, accepted: 0, failed: 100 });
    expect(exitCodeOf(summary, true)).toBe(1);
  });

  it('stops with a clear message when nothing listens at the endpoint', async () => {
    // Prepare
    const port = await closedPort();

    // Act
    const summary = await sendEvents(
      options(
        `http://127.0.0.1:${port}`,
        { generate: 10, traffic: { seed: 1 } },
        { retry: { ...FAST_RETRY, maxAttempts: 2 } },
      ),
    );

    // Assess
    expect(summary.stoppedBy).toMatch(
      new RegExp(`^cannot reach http://127.0.0.1:${port}/v1/events: ECONNREFUSED.* after 2 attempts`),
    );
    expect(summary.statuses).toEqual({ network: 2 });
    expect(summary.failed).toBe(10);
  });

  it('skips a file line that is not JSON, naming its line number, and sends the rest', async () => {
    // Prepare
    server = await startFakeCollect();
    const good = generateTraffic(4, { seed: 9 }).map((g) => JSON.stringify(g.event));
    const file = join(dir, 'events.jsonl');
    writeFileSync(file, [good[0], good[1], '{"event_id": oops', '', good[2], good[3]].join('\n'));
    const reporter = recorder();

    // Act
    const summary = await sendEvents(options(server.url, { file }), reporter);

    // Assess
    expect(reporter.warnings).toEqual([
      expect.stringMatching(/^skipped line 3 of .*events\.jsonl: not valid JSON/),
    ]);
    expect(server.received[0]?.events.map((e) => e.event_id)).toEqual(
      good.map((g) => JSON.parse(g).event_id),
    );
    expect(summary).toMatchObject({ sent: 4, accepted: 4, skipped: 1 });
    expect(exitCodeOf(summary, false)).toBe(2);
  });

  it('stops at the first bad line under --strict', async () => {
    // Prepare
    server = await startFakeCollect();
    const good = generateTraffic(2, { seed: 9 }).map((g) => JSON.stringify(g.event));
    const file = join(dir, 'events.jsonl');
    writeFileSync(file, [good[0], 'not json', good[1]].join('\n'));

    // Act
    const summary = await sendEvents(options(server.url, { file, strict: true }));

    // Assess
    expect(summary.stoppedBy).toMatch(/^line 2 of .*events\.jsonl: not valid JSON .*--strict/);
    expect(server.received).toHaveLength(0);
    expect(exitCodeOf(summary, false)).toBe(1);
  });

  it('exits 2 when the server rejects events from a file', async () => {
    // Prepare
    server = await startFakeCollect();
    const [event] = generateTraffic(1, { seed: 4 });
    const broken = { ...event?.event, position: 'first' };
    const file = join(dir, 'events.jsonl');
    writeFileSync(file, `${JSON.stringify(event?.event)}\n${JSON.stringify(broken)}\n`);

    // Act
    const summary = await sendEvents(options(server.url, { file }));

    // Assess
    expect(summary).toMatchObject({ accepted: 1, rejected: 1 });
    expect(summary.topRejections).toEqual([{ example: expect.stringMatching(/^\/position: /), count: 1 }]);
    expect(exitCodeOf(summary, false)).toBe(2);
  });
});
