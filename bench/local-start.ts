/**
 * `npm run bench:local-start`: how long `logbase dev` takes to be usable, and what a client that waits for
 * the HTTP port sees meanwhile. Each round starts `bin/logbase.cjs dev` (this checkout, and with
 * `--reference <dir>` another checkout of the project, alternating) on free ports and a fresh data dir, and
 * from the spawn measures: when the HTTP port accepts a connection, when POST /v1/events first gets an answer
 * other than 502 (polled every 250 ms, each poll waiting for its answer, as the issue measured), how many polls
 * got 502, and when the banner says ready. Then Ctrl-C (SIGINT) and the time until it has stopped. Prints the
 * median of each figure per checkout.
 *
 *   npm run bench:local-start -- [--rounds 5] [--reference /path/to/other/checkout ...]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../local/ports';

interface Round {
  portMs: number;
  answerMs: number;
  polls502: number;
  bannerMs: number;
  stopMs: number;
}

const args = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const rounds = Number(option('--rounds') ?? 5);
const references = args.flatMap((a, i) =>
  a === '--reference' && args[i + 1] ? [resolve(args[i + 1] as string)] : [],
);
const checkouts = [resolve(__dirname, '..'), ...references];
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

async function round(checkout: string): Promise<Round> {
  const dataDir = await mkdtemp(join(tmpdir(), 'logbase-bench-start-'));
  const ports = { http: await freePort(), lambda: await freePort() };
  const node = join(checkout, 'node_modules', '.bin', 'node');
  // An older checkout has no SQS: pass only the port options its `logbase dev` knows.
  const dev = await readFile(join(checkout, 'cli', 'commands', 'dev.ts'), 'utf8');
  const flags = ['s3', 'kinesis', 'dynamodb', 'firehose', 'sqs']
    .filter((p) => dev.includes(`--${p}-port`))
    .flatMap((p) => [`--${p}-port`, '0']);
  const started = performance.now();
  const child: ChildProcess = spawn(
    node,
    [
      join(checkout, 'bin', 'logbase.cjs'),
      'dev',
      '--service-dir',
      checkout,
      '--data-dir',
      dataDir,
      '--http-port',
      String(ports.http),
      '--lambda-port',
      String(ports.lambda),
      ...flags,
    ],
    { cwd: checkout, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let bannerMs = Number.NaN;
  child.stdout?.on('data', (chunk: Buffer) => {
    if (Number.isNaN(bannerMs) && chunk.toString().includes(', ready'))
      bannerMs = performance.now() - started;
  });
  child.stderr?.resume();
  const deadline = started + 120_000;
  while (!(await portOpen(ports.http))) {
    if (performance.now() > deadline || child.exitCode !== null) throw new Error(`${checkout}: no HTTP port`);
    await pause(20);
  }
  const portMs = performance.now() - started;
  let polls502 = 0;
  let answerMs = Number.NaN;
  while (Number.isNaN(answerMs)) {
    if (performance.now() > deadline) throw new Error(`${checkout}: no answer but 502`);
    const res = await fetch(`http://127.0.0.1:${ports.http}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"events":[]}',
    }).catch(() => undefined);
    await res?.arrayBuffer();
    if (res && res.status !== 502) answerMs = performance.now() - started;
    else {
      if (res?.status === 502) polls502++;
      await pause(250);
    }
  }
  while (Number.isNaN(bannerMs) && performance.now() < deadline) await pause(20);
  const stopping = performance.now();
  child.kill('SIGINT');
  await exited;
  const stopMs = performance.now() - stopping;
  await rm(dataDir, { recursive: true, force: true });
  return { portMs, answerMs, polls502, bannerMs, stopMs };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

async function main() {
  const results = new Map<string, Round[]>(checkouts.map((c) => [c, []]));
  console.log(`logbase dev start-up: ${rounds} round(s), checkouts alternating: ${checkouts.join(', ')}`);
  for (let i = 0; i < rounds; i++) {
    for (const checkout of i % 2 ? [...checkouts].reverse() : checkouts) {
      const r = await round(checkout);
      results.get(checkout)?.push(r);
      console.log(
        `  round ${i + 1} ${checkout}: port ${r.portMs.toFixed(0)} ms, first non-502 answer ${r.answerMs.toFixed(0)} ms, ` +
          `502 polls ${r.polls502}, banner ${r.bannerMs.toFixed(0)} ms, stop ${r.stopMs.toFixed(0)} ms`,
      );
    }
  }
  console.log('\nmedians (ms from spawn; 502 polls at 250 ms):');
  console.log('  checkout | port open | first non-502 answer | 502 polls | banner | stop');
  for (const [checkout, rs] of results) {
    const m = (pick: (r: Round) => number) => median(rs.map(pick)).toFixed(0);
    console.log(
      `  ${checkout} | ${m((r) => r.portMs)} | ${m((r) => r.answerMs)} | ${m((r) => r.polls502)} | ${m((r) => r.bannerMs)} | ${m((r) => r.stopMs)}`,
    );
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
