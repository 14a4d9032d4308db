import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { LocalStackStartError } from '../errors';
import { sleep } from '../kinesis/shard-reader';
import { NODE_BIN_DIR } from '../service-config';

const CHILD = join(__dirname, 'fauxqs-child.mjs');

export interface StartSqsSnsOptions {
  host: string;
  port: number;
  /** Where fauxqs keeps queues, messages, topics and subscriptions (SQLite). */
  dataDir: string;
  region: string;
  /** Called when the server exits on its own after it was ready, with its last lines of output. */
  onUnexpectedExit?: (code: number | null, lastOutput: string[]) => void;
  readyTimeoutMs?: number;
}

/** The running SQS + SNS server (fauxqs, in a child process). */
export interface LocalSqsSns {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts fauxqs (SQS's JSON protocol and SNS's query protocol on one port, persisted under `dataDir`) as a
 * child process on the project's Node (fauxqs is ESM-only and needs node:sqlite), and resolves once it
 * listens. The child stops with the stack, and with this process if it dies.
 */
export async function startSqsSns(options: StartSqsSnsOptions): Promise<LocalSqsSns> {
  await mkdir(options.dataDir, { recursive: true });
  const projectNode = join(NODE_BIN_DIR, 'node');
  const child: ChildProcess = fork(
    CHILD,
    [
      JSON.stringify({
        host: options.host,
        port: options.port,
        dataDir: options.dataDir,
        region: options.region,
      }),
    ],
    {
      execPath: existsSync(projectNode) ? projectNode : process.execPath,
      // node:sqlite warns that it is experimental on every start.
      execArgv: ['--disable-warning=ExperimentalWarning'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Its own process group: a Ctrl-C in the terminal reaches only the stack, which stops the child after
      // the last on-failure records are sent (a parent that dies still takes it along: IPC disconnect).
      detached: true,
    },
  );
  const recent: string[] = [];
  const onLine = (line: string) => {
    recent.push(line);
    if (recent.length > 40) recent.shift();
  };
  if (child.stdout) createInterface({ input: child.stdout }).on('line', onLine);
  if (child.stderr) createInterface({ input: child.stderr }).on('line', onLine);

  let ready = false;
  let stopping = false;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then((code) => {
    if (ready && !stopping) options.onUnexpectedExit?.(code, recent.slice(-15));
  });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);

  const stop = async () => {
    stopping = true;
    process.off('exit', kill);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const grace = new AbortController();
    const stopped = await Promise.race([
      exited.then(() => true),
      sleep(5_000, grace.signal).then(() => false),
    ]);
    grace.abort();
    if (!stopped) {
      child.kill('SIGKILL');
      await exited;
    }
  };

  const where = `SQS/SNS (fauxqs) on ${options.host}:${options.port}`;
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const started = await new Promise<{ port?: number; error?: string }>((resolve) => {
    const timer = setTimeout(() => resolve({ error: `not listening after ${timeoutMs} ms` }), timeoutMs);
    child.once('message', (message: { port?: number; error?: string }) => {
      clearTimeout(timer);
      resolve(message);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      resolve({ error: `exited with code ${code}` });
    });
  });
  if (started.port === undefined) {
    await stop();
    // Let the last lines of output arrive before they are quoted.
    await sleep(20);
    throw new LocalStackStartError(
      `${where} could not start: ${started.error}${recent.length ? `; its output:\n${recent.join('\n')}` : ''}`,
    );
  }
  ready = true;
  return { port: started.port, pid: child.pid as number, stop };
}
