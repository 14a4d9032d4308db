import { connect } from 'node:net';
import { resolve } from 'node:path';
import type { HealthReport } from '../../../local/health';
import { freePort } from '../../../local/ports';
import { type LocalStack, startLocalStack } from '../../../local/stack';
import { eventually, removeDir, tempDataDir } from './harness';

/** The HTTP front test's one-function service: serverless-offline runs `echo` (POST /echo). */
const FIXTURE_DIR = resolve(__dirname, '../../fixtures/http-front');
const SERVICES = ['s3', 'kinesis', 'dynamodb', 'firehose', 'sqs', 'sns', 'offline', 'pollers'];

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

describe('the local stack answers on its HTTP port only what the whole stack is ready to answer', () => {
  let dataDir: string;
  let stack: LocalStack | undefined;

  afterAll(async () => {
    await stack?.stop();
    await removeDir(dataDir);
  }, 30_000);

  it('never answers 502 to a client polling from the moment the port opens, and /health goes from 503 to 200', async () => {
    // Prepare
    dataDir = await tempDataDir();
    const http = await freePort();
    const base = `http://127.0.0.1:${http}`;

    // Act: start the stack, and from the moment its port opens send a request every 100 ms (without waiting
    // for the previous one, as a poller with its own timeout does) until some time after it is up.
    let readyAt: number | undefined;
    const starting = startLocalStack({
      serviceDir: FIXTURE_DIR,
      dataDir,
      offline: true,
      ports: { s3: 0, kinesis: 0, dynamodb: 0, firehose: 0, sqs: 0, lambda: 0, http },
    }).finally(() => {
      readyAt = Date.now();
    });
    while (!(await portOpen(http)) && readyAt === undefined) await pause(20);
    const polls: Promise<{ sentAt: number; status: number }>[] = [];
    const healthDuringStart: { status: number; body: HealthReport }[] = [];
    const until = () => readyAt !== undefined && Date.now() > readyAt + 500;
    while (!until()) {
      const sentAt = Date.now();
      polls.push(
        fetch(`${base}/echo`, { method: 'POST', body: 'ping' }).then((r) => ({ sentAt, status: r.status })),
      );
      if (readyAt === undefined) {
        const res = await fetch(`${base}/health`);
        healthDuringStart.push({ status: res.status, body: (await res.json()) as HealthReport });
      }
      await pause(100);
    }
    stack = await starting;
    const answers = await Promise.all(polls);
    const healthAfter = await fetch(`${base}/health`);
    const reportAfter = (await healthAfter.json()) as HealthReport;

    // Assess
    const sentBeforeReady = answers.filter((a) => a.sentAt < (readyAt as number));
    expect(sentBeforeReady.length).toBeGreaterThan(3);
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([200]));
    const first = healthDuringStart[0];
    expect(first?.status).toBe(503);
    expect(first?.body.status).toBe('starting');
    expect(first?.body.services.offline?.state).toBe('starting');
    expect(healthAfter.status).toBe(200);
    expect(reportAfter.status).toBe('ready');
    expect(Object.keys(reportAfter.services)).toEqual(SERVICES);
    for (const name of SERVICES) expect(reportAfter.services[name]?.state).toBe('up');
    expect(reportAfter.services.sqs?.endpoint).toBe(stack.endpoints.sqs);
  }, 120_000);

  it('holds requests while serverless-offline is started again after a crash, and answers them once it is back', async () => {
    // Prepare: the stack of the first test
    const running = stack as LocalStack;
    const first = running.offlinePid as number;
    const url = running.endpoints.http as string;

    // Act: kill serverless-offline from outside; once the stack has seen it go, send a request
    process.kill(-first, 'SIGKILL');
    await eventually('the stack to see serverless-offline go', async () => {
      const report = await running.health();
      return report.services.offline?.state === 'starting';
    });
    const health = await fetch(`${url}/health`);
    const report = (await health.json()) as HealthReport;
    const res = await fetch(`${url}/echo`, { method: 'POST', body: 'after the crash' });

    // Assess
    expect(health.status).toBe(503);
    expect(report.status).toBe('degraded');
    expect(res.status).toBe(200);
    expect(running.offlinePid).not.toBe(first);
    expect((await running.health()).status).toBe('ready');
  }, 90_000);
});
