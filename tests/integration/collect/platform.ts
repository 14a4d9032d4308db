import { resolve } from 'node:path';
import { eventsUrl } from '../../../cli/commands/send';
import { silentLog } from '../../../local/log';
import { type LocalStack, startLocalStack } from '../../../local/stack';
import { clientsFor, destroyClients, listKeys, readGzipText, removeDir, tempDataDir } from '../local/harness';

/** The project's own service, as `npm start` runs it. */
const ROOT = resolve(__dirname, '../../..');
/** The local stage's API key and bucket (serverless.yml params.local). */
export const API_KEY = 'lb_local_0123456789abcdef';
export const BUCKET = 'logbase-local-data';

/** The whole platform on free ports: emulators, the local Firehose and serverless-offline running collect. */
export interface Platform {
  stack: LocalStack;
  clients: ReturnType<typeof clientsFor>;
  /** POST /v1/events of this platform. */
  url: string;
  /** Every JSON line of every gzip object under a prefix of the data bucket. */
  jsonLines(prefix: string): Promise<any[]>;
  /**
   * The same, once nothing more can arrive: after the Kinesis-sourced Firehose has polled the stream
   * a few times and every Firehose buffer has been delivered, so a late duplicate would be counted.
   */
  settledLines(prefix: string): Promise<any[]>;
  stop(): Promise<void>;
}

/** Four polls of the stack's Kinesis readers (250 ms each): a record put before is read by then. */
const SETTLE_MS = 1_000;

/** Starts the project's service on the local stack in a fresh temp data dir. */
export async function startPlatform(): Promise<Platform> {
  const dataDir = await tempDataDir();
  // serverless-offline's last lines, shown when the stack reports an error (e.g. the child exiting).
  const recent: string[] = [];
  const stack = await startLocalStack({
    serviceDir: ROOT,
    dataDir,
    fresh: true,
    offline: true,
    ports: { s3: 0, kinesis: 0, dynamodb: 0, firehose: 0, sqs: 0, http: 0, lambda: 0 },
    log: {
      ...silentLog,
      error: (m) => console.error(`${m}\nserverless-offline's last output:\n${recent.join('\n')}`),
    },
    onOfflineOutput: (line) => {
      recent.push(line);
      if (recent.length > 30) recent.shift();
    },
  });
  const clients = clientsFor(stack);
  const jsonLines = async (prefix: string) => {
    const lines: any[] = [];
    for (const key of await listKeys(clients.s3, BUCKET, prefix)) {
      for (const line of (await readGzipText(clients.s3, BUCKET, key)).split('\n')) {
        if (line.trim()) lines.push(JSON.parse(line));
      }
    }
    return lines;
  };
  return {
    stack,
    clients,
    url: eventsUrl(stack.endpoints.http ?? ''),
    jsonLines,
    async settledLines(prefix) {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      await stack.firehose.flush();
      return jsonLines(prefix);
    },
    async stop() {
      destroyClients(clients);
      await stack.stop();
      await removeDir(dataDir);
    },
  };
}

/**
 * The platform of a test file: started before its tests, stopped after them. The answer reads
 * through to the started platform, so it is usable from beforeAll on.
 */
export function usePlatform(): Platform {
  let started: Platform | undefined;
  beforeAll(async () => {
    started = await startPlatform();
  }, 180_000);
  afterAll(async () => {
    await started?.stop();
  });
  const get = (): Platform => {
    if (started === undefined) throw new Error('the platform is started in beforeAll');
    return started;
  };
  return {
    get stack() {
      return get().stack;
    },
    get clients() {
      return get().clients;
    },
    get url() {
      return get().url;
    },
    jsonLines: (prefix) => get().jsonLines(prefix),
    settledLines: (prefix) => get().settledLines(prefix),
    stop: () => get().stop(),
  };
}
