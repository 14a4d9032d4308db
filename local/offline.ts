import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { LocalStackStartError } from './errors';
import { sleep } from './kinesis/shard-reader';
import { NODE_BIN_DIR } from './service-config';

export interface StartOfflineOptions {
  serviceDir: string;
  stage: string;
  host: string;
  httpPort: number;
  lambdaPort: number;
  /** Wait for the HTTP port too (only served when some function has http/httpApi events). */
  waitForHttp: boolean;
  /** Extra environment (the emulator endpoints); serverless-offline copies every AWS_* into handlers. */
  env: Record<string, string>;
  /** Each line serverless-offline prints. */
  onOutput?: (line: string) => void;
  /**
   * Called when serverless-offline exits on its own after it was ready (a crash, or a kill from outside), with
   * its last lines of output.
   */
  onUnexpectedExit?: (code: number | null, lastOutput: string[]) => void;
  readyTimeoutMs?: number;
}

/** A running `sls offline start` child. */
export interface OfflineProcess {
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts `sls offline start` (HTTP API + Lambda invoke endpoint; serverless-esbuild builds the handlers) as a
 * child in its own process group, and resolves once its ports accept connections. Ctrl-C in a terminal
 * reaches only the parent, which stops the child last (after the Firehose flush, whose S3 events may still
 * invoke functions).
 */
export async function startOffline(options: StartOfflineOptions): Promise<OfflineProcess> {
  const { serviceDir, stage, host, httpPort, lambdaPort } = options;
  const args = [
    'offline',
    'start',
    '--stage',
    stage,
    '--host',
    host,
    '--httpPort',
    String(httpPort),
    '--lambdaPort',
    String(lambdaPort),
    '--noSponsor',
  ];
  const env: NodeJS.ProcessEnv = {
    ...withoutRealCredentials(process.env),
    PATH: `${NODE_BIN_DIR}${delimiter}${process.env.PATH ?? ''}`,
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    ...options.env,
  };
  const child = spawn(join(NODE_BIN_DIR, 'sls'), args, {
    cwd: serviceDir,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const recent: string[] = [];
  const onLine = (line: string) => {
    recent.push(line);
    if (recent.length > 40) recent.shift();
    options.onOutput?.(line);
  };
  if (child.stdout) createInterface({ input: child.stdout }).on('line', onLine);
  if (child.stderr) createInterface({ input: child.stderr }).on('line', onLine);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  let ready = false;
  let stopping = false;
  void exited.then((code) => {
    exitCode = code;
    if (ready && !stopping) options.onUnexpectedExit?.(code, recent.slice(-15));
  });
  const killOnExit = () => killGroup(child, 'SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    stopping = true;
    process.off('exit', killOnExit);
    if (exitCode !== undefined) return;
    killGroup(child, 'SIGTERM');
    const grace = new AbortController();
    const stopped = await Promise.race([
      exited.then(() => true),
      sleep(10_000, grace.signal).then(() => false),
    ]);
    grace.abort();
    if (!stopped) {
      killGroup(child, 'SIGKILL');
      await exited;
    }
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  const ports = options.waitForHttp ? [lambdaPort, httpPort] : [lambdaPort];
  for (const port of ports) {
    while (!(await canConnect(host, port))) {
      if (exitCode !== undefined || Date.now() > deadline) {
        await stop();
        const why = exitCode !== undefined ? `exited with code ${exitCode}` : 'was not ready in time';
        throw new LocalStackStartError(
          `serverless-offline (sls offline start --stage ${stage}) ${why}; its last output:\n${recent.join('\n')}`,
        );
      }
      await sleep(200);
    }
  }
  ready = true;
  return { pid: child.pid as number, stop };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: host === '0.0.0.0' ? '127.0.0.1' : host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The environment without a developer's real AWS credentials: local handlers must never reach AWS. */
function withoutRealCredentials(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_SECURITY_TOKEN', 'AWS_DEFAULT_PROFILE'])
    delete copy[name];
  for (const name of Object.keys(copy)) if (name.startsWith('AWS_ENDPOINT_URL')) delete copy[name];
  return copy;
}
