import { resolve } from 'node:path';
import {
  dynamoDbClient,
  kinesisClient,
  lambdaClient,
  s3Client,
  snsClient,
  sqsClient,
} from '../lib/aws/clients';
import { endpointEnvName, LOCAL_DEFAULTS } from '../lib/aws/endpoints';
import { type DataDirLayout, prepareDataDir } from './data-dir';
import { SqsSnsDestinations } from './destinations';
import { type Emulators, startEmulators } from './emulators';
import type { FirehoseFaults } from './firehose/server';
import { LocalFirehose } from './firehose/server';
import { type HealthReport, httpAnswers, type ServiceStatus, StackHealth } from './health';
import { HttpFront } from './http-front';
import { type Invoker, LambdaInvoker } from './invoker';
import { CheckpointStore } from './kinesis/checkpoints';
import type { KinesisFaults } from './kinesis/faults';
import { SubscriptionRunner } from './kinesis/subscriptions';
import { errorMessage, type StackLog, silentLog } from './log';
import { type OfflineProcess, startOffline } from './offline';
import { endpointUrl, freePort } from './ports';
import { provision } from './provision';
import { Recorder, RecordingInvoker } from './recorder';
import { reportPages } from './reports';
import type { ObjectChange } from './s3/events';
import type { S3Fault } from './s3/faults';
import { S3Notifier } from './s3/notifier';
import { loadServiceConfig, type PrintedService } from './service-config';
import { type LocalSqsSns, startSqsSns } from './sqs/server';
import { LocalStepFunctions, type StartedExecution, type StateMachineInfo } from './stepfunctions';
import { deriveWiring, type Wiring } from './wiring';

/** Ports of the local stack; 0 asks the OS for a free one (the bound port is in `endpoints`). */
export interface LocalPorts {
  s3: number;
  kinesis: number;
  dynamodb: number;
  firehose: number;
  /** SQS and SNS: one server (fauxqs). */
  sqs: number;
  /** The HTTP API: the stack's front, which forwards to serverless-offline on an internal port. */
  http: number;
  /** serverless-offline's Lambda invoke endpoint. */
  lambda: number;
}

export interface LocalStackOptions {
  /** Folder holding serverless.yml (default: the current directory). */
  serviceDir?: string;
  /** Default `local`. */
  stage?: string;
  region?: string;
  /** Interface every server binds to (default 127.0.0.1). */
  host?: string;
  ports?: Partial<LocalPorts>;
  /** Default `<serviceDir>/.logbase/data`. */
  dataDir?: string;
  /** Wipe the data dir first. */
  fresh?: boolean;
  /** Start `sls offline start` (HTTP API + Lambda invoke) as a child process. */
  offline?: boolean;
  /**
   * Decoded size past which the HTTP API answers 413 to a `Content-Encoding: gzip` body (default 10 MiB,
   * serverless-offline's own payload limit). See local/README.md.
   */
  maxInflatedBodyBytes?: number;
  /**
   * How functions are invoked for S3 and Kinesis events. Default: the Lambda Invoke API at the `lambda`
   * port (serverless-offline's endpoint).
   */
  invoker?: Invoker;
  log?: StackLog;
  /** Each line serverless-offline prints. */
  onOfflineOutput?: (line: string) => void;
  /** How often an idle shard is polled (default 250 ms; Lambda polls about once a second). */
  pollIntervalMs?: number;
  /** First delay before a failed Kinesis batch is retried (doubles per attempt, up to 10 s; default 500 ms). */
  retryDelayMs?: number;
  /** First delay before a failed S3-triggered invocation is retried (doubles; default 1 s). */
  s3RetryDelayMs?: number;
  /** Reuse `sls print` output cached under `<serviceDir>/.logbase/cache` (default true). */
  configCache?: boolean;
}

/** Where each local service listens. */
export interface LocalEndpoints {
  s3: string;
  kinesis: string;
  dynamodb: string;
  firehose: string;
  /** SQS (fauxqs); the same server as `sns`. */
  sqs: string;
  sns: string;
  lambda: string;
  /** Only when serverless-offline runs: the front that inflates gzip bodies (see local/README.md). */
  http?: string;
  /** serverless-offline's own HTTP API behind the front (bodies as serverless-offline passes them). */
  offlineHttp?: string;
}

/** A running local stack. */
export interface LocalStack {
  config: PrintedService;
  wiring: Wiring;
  endpoints: LocalEndpoints;
  dataDir: DataDirLayout;
  /**
   * The environment a process needs to use the stack through lib/aws/clients.ts: LOGBASE_LOCAL, region,
   * dummy credentials and AWS_ENDPOINT_URL_<SERVICE> for each service.
   */
  env: Record<string, string>;
  firehose: {
    /** Fault injection for tests: the next N records or calls put fail (ServiceUnavailableException by default). */
    injectFaults(faults: FirehoseFaults): void;
    /** Calls of an operation (e.g. PutRecordBatch) so far, failed ones included. */
    calls(operation: string): number;
    /** Delivers every Firehose buffer now. */
    flush(): Promise<void>;
  };
  kinesis: {
    /** Fault injection for tests: the next N calls or PutRecords records fail (throttled by default). */
    injectFaults(faults: KinesisFaults): void;
    /** Calls of an operation (e.g. PutRecords) so far, failed ones included. */
    calls(operation: string): number;
  };
  s3: {
    /** Fault injection for tests: the next N requests of a method on a key are refused (403 AccessDenied by default). */
    injectFaults(...faults: S3Fault[]): void;
    /** Requests refused so far for a method and key. */
    refused(method: string, key: string): number;
  };
  /** The state machines of `stepFunctions.stateMachines`; Task states invoke the functions through the invoker. */
  stepFunctions: {
    list(): StateMachineInfo[];
    /** Starts an execution (state machine by name, key or ARN); `result` resolves with status and output or error. */
    start(nameOrArn: string, input?: unknown): StartedExecution;
  };
  /**
   * What is up: each emulator, serverless-offline, the pollers (what `GET /health` on the HTTP API answers).
   * `status` is `ready` once the stack has started and every service answers.
   */
  health(): Promise<HealthReport>;
  /** serverless-offline's pid, when it runs. */
  offlinePid?: number;
  /** Stops everything: pollers, Firehose (flushed), S3 deliveries in flight, serverless-offline, emulators. */
  stop(): Promise<void>;
}

/** Dummy credentials of the local stack (every emulator accepts any). */
/** How many times a serverless-offline that exits on its own is started again. */
const MAX_OFFLINE_RESTARTS = 3;

export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/**
 * Starts the embedded local AWS stack for a service: reads serverless.yml (`sls print`), starts s3rver,
 * kinesalite, dynalite and the local Firehose, creates the buckets, streams and tables, and wires S3
 * notifications and Kinesis subscriptions to the functions; with `offline`, also serverless-offline.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const serviceDir = resolve(options.serviceDir ?? process.cwd());
  const stage = options.stage ?? 'local';
  const host = options.host ?? LOCAL_DEFAULTS.host;
  const log = options.log ?? silentLog;
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const ports: LocalPorts = {
    s3: options.ports?.s3 ?? LOCAL_DEFAULTS.s3,
    kinesis: options.ports?.kinesis ?? LOCAL_DEFAULTS.kinesis,
    dynamodb: options.ports?.dynamodb ?? LOCAL_DEFAULTS.dynamodb,
    firehose: options.ports?.firehose ?? LOCAL_DEFAULTS.firehose,
    sqs: options.ports?.sqs ?? LOCAL_DEFAULTS.sqs,
    http: options.ports?.http ?? LOCAL_DEFAULTS.http,
    lambda: options.ports?.lambda ?? LOCAL_DEFAULTS.lambda,
  };

  const config = await loadServiceConfig({
    serviceDir,
    stage,
    region: options.region,
    diskCache: options.configCache ?? true,
  });
  const wiring = deriveWiring(config);
  for (const warning of wiring.warnings) log.warn(warning);
  // Every service is named from the start (`starting` until it is up), so /health always lists them all.
  const health = new StackHealth([
    's3',
    'kinesis',
    'dynamodb',
    'firehose',
    'sqs',
    'sns',
    ...(options.offline ? ['offline'] : []),
    'pollers',
  ]);

  const cleanup: (() => Promise<unknown>)[] = [];
  const runCleanup = async () => {
    const errors: unknown[] = [];
    for (const step of cleanup.reverse()) await step().catch((e) => errors.push(e));
    cleanup.length = 0;
    if (errors.length) log.error(`while stopping: ${errors.map(errorMessage).join('; ')}`);
  };

  try {
    const prepared = await prepareDataDir(
      options.dataDir ?? resolve(serviceDir, '.logbase', 'data'),
      !!options.fresh,
    );
    cleanup.push(prepared.release);
    const layout = prepared.layout;
    const checkpoints = await CheckpointStore.open(layout.checkpoints);
    cleanup.push(() => checkpoints.flush());

    let notifier: S3Notifier | undefined;
    const onObjectChange = (change: ObjectChange) => notifier?.notify(change);
    // fauxqs starts in a child process meanwhile (about 0.3 s), so it adds nothing to the start-up.
    const sqsStarting = startSqsSns({
      host,
      port: ports.sqs,
      dataDir: layout.sqs,
      region: wiring.region,
      onUnexpectedExit: (code, lastOutput) =>
        log.error(
          `SQS/SNS (fauxqs) exited (code ${code}): on-failure destinations now go to files. Its last output:\n${lastOutput.join('\n')}`,
        ),
    });
    sqsStarting.catch(() => undefined); // awaited below; a failure meanwhile is not an unhandled rejection
    // Stopped when a later step fails, even if the emulators did not start.
    cleanup.push(() => sqsStarting.then((s) => s.stop()).catch(() => undefined));
    const emulators: Emulators = await startEmulators({ host, ports, layout, onObjectChange });
    cleanup.push(() => emulators.stop());
    const sqsSns: LocalSqsSns = await sqsStarting;
    const answers = (url: string, path?: string) => () => httpAnswers(url, path);
    health.set('s3', answers(endpointUrl(host, emulators.ports.s3)));
    health.set('kinesis', answers(endpointUrl(host, emulators.ports.kinesis)));
    health.set('dynamodb', answers(endpointUrl(host, emulators.ports.dynamodb)));
    health.set('sqs', answers(endpointUrl(host, sqsSns.port), '/health'));
    health.set('sns', answers(endpointUrl(host, sqsSns.port), '/health'));

    if (options.offline && ports.lambda === 0) ports.lambda = await freePort(host);
    const endpoints: LocalEndpoints = {
      s3: endpointUrl(host, emulators.ports.s3),
      kinesis: endpointUrl(host, emulators.ports.kinesis),
      dynamodb: endpointUrl(host, emulators.ports.dynamodb),
      firehose: endpointUrl(host, ports.firehose),
      sqs: endpointUrl(host, sqsSns.port),
      sns: endpointUrl(host, sqsSns.port),
      lambda: endpointUrl(host, ports.lambda),
    };
    const env = (): Record<string, string> => ({
      LOGBASE_LOCAL: 'true',
      AWS_REGION: wiring.region,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      [endpointEnvName('s3')]: endpoints.s3,
      [endpointEnvName('kinesis')]: endpoints.kinesis,
      [endpointEnvName('dynamodb')]: endpoints.dynamodb,
      [endpointEnvName('firehose')]: endpoints.firehose,
      [endpointEnvName('lambda')]: endpoints.lambda,
      [endpointEnvName('sqs')]: endpoints.sqs,
      [endpointEnvName('sns')]: endpoints.sns,
    });

    const clientEnv = env();
    const s3 = s3Client(clientEnv);
    const kinesis = kinesisClient(clientEnv);
    const dynamodb = dynamoDbClient(clientEnv);
    const sqs = sqsClient(clientEnv);
    const sns = snsClient(clientEnv);
    cleanup.push(async () => {
      s3.destroy();
      kinesis.destroy();
      dynamodb.destroy();
      sqs.destroy();
      sns.destroy();
    });
    const destinations = new SqsSnsDestinations({ sqs, sns });
    // logbase replay --record: captures what the stack receives while a client listens (local/recorder.ts).
    const recorder = new Recorder(s3);

    const report = await provision(wiring, { s3, kinesis, dynamodb, sqs, sns }, log);
    if (report.created.length) log.info(`created ${report.created.join(', ')}`);

    const firehose = new LocalFirehose({
      host,
      port: ports.firehose,
      streams: wiring.deliveryStreams,
      s3,
      kinesis,
      checkpoints,
      failedDeliveriesDir: layout.failedDeliveries,
      region: wiring.region,
      accountId: wiring.accountId,
      pollIntervalMs,
      log,
    });
    cleanup.push(() => firehose.stop()); // only if a later step fails: a normal stop flushes it earlier
    await firehose.start();
    endpoints.firehose = endpointUrl(host, firehose.port);
    health.set('firehose', answers(endpoints.firehose));

    // The running serverless-offline (replaced when it is started again after a crash).
    let current: OfflineProcess | undefined;
    let openFront = () => {};
    if (options.offline) {
      // Listening first: a taken HTTP port fails the start at once, not after serverless-offline's build.
      const offlineHttpPort = await freePort(host);
      // Requests are held until the whole stack is up (serverless-offline takes seconds to build), so a
      // client that waits for the port never sees a 502; /health answers at once (see local/README.md).
      const front = new HttpFront({
        host,
        port: ports.http,
        upstream: { host: loopbackFor(host), port: offlineHttpPort },
        maxInflatedBytes: options.maxInflatedBodyBytes,
        health: () => health.report(),
        held: true,
        recorder,
        // The KPI report pages (reports/kpi/ in the data bucket), read through the local S3.
        pages: reportPages(() => s3, String(config.provider.environment?.DATA_BUCKET ?? '')),
      });
      openFront = () => front.open();
      await front.start();
      cleanup.push(() => front.stop());
      endpoints.http = front.url;
      endpoints.offlineHttp = endpointUrl(host, offlineHttpPort);
      // A serverless-offline that dies on its own is started again on the same ports (the HTTP front holds
      // requests meanwhile), a few times at most, with its last output logged.
      let offlineStopping = false;
      let restarts = 0;
      let offlineState: ServiceStatus = { state: 'starting', detail: 'esbuild builds the handlers' };
      const offlineChecks = [endpoints.lambda, ...(hasHttpEvents(config) ? [endpoints.offlineHttp] : [])];
      health.set('offline', async () => {
        if (offlineState.state !== 'up') return offlineState;
        const probes = await Promise.all(offlineChecks.map((url) => httpAnswers(url as string)));
        const down = probes.find((p) => p.state !== 'up');
        return down ?? { state: 'up', endpoint: endpoints.lambda, detail: `pid ${current?.pid}` };
      });
      const launch = (): Promise<OfflineProcess> =>
        startOffline({
          serviceDir,
          stage,
          host,
          httpPort: offlineHttpPort,
          lambdaPort: ports.lambda,
          waitForHttp: hasHttpEvents(config),
          env: env(),
          onOutput: options.onOfflineOutput,
          onUnexpectedExit: (code, lastOutput) => {
            if (offlineStopping) return;
            const output = lastOutput.map((line) => `  | ${line}`).join('\n');
            if (restarts >= MAX_OFFLINE_RESTARTS) {
              offlineState = { state: 'down', detail: `exited (code ${code}) after ${restarts} restarts` };
              front.open(); // nothing to wait for: requests get the 502 that names serverless-offline
              log.error(
                `serverless-offline exited (code ${code}) again after ${restarts} restarts: HTTP and function invocations are down; restart logbase dev. Its last output:\n${output}`,
              );
              return;
            }
            restarts += 1;
            log.error(
              `serverless-offline exited (code ${code}); starting it again (${restarts}/${MAX_OFFLINE_RESTARTS}). Its last output:\n${output}`,
            );
            current = undefined;
            offlineState = { state: 'starting', detail: `restart ${restarts}/${MAX_OFFLINE_RESTARTS}` };
            front.hold();
            launch().then(
              (started) => {
                if (offlineStopping) void started.stop();
                else {
                  current = started;
                  offlineState = { state: 'up' };
                  if (health.isReady) front.open();
                }
              },
              (error: unknown) => {
                offlineState = {
                  state: 'down',
                  detail: `could not be started again: ${errorMessage(error)}`,
                };
                front.open();
                log.error(`serverless-offline could not be started again: ${errorMessage(error)}`);
              },
            );
          },
        });
      current = await launch();
      offlineState = { state: 'up' };
      cleanup.push(async () => {
        offlineStopping = true;
        await current?.stop();
      });
    }

    let invoker = options.invoker;
    if (!invoker) {
      const lambda = lambdaClient(env());
      cleanup.push(async () => lambda.destroy());
      invoker = new LambdaInvoker(lambda);
    }
    invoker = new RecordingInvoker(invoker, recorder);

    const startedNotifier = new S3Notifier({
      subscriptions: wiring.s3Subscriptions,
      invoker,
      s3,
      region: wiring.region,
      functions: wiring.functions,
      destinations,
      failedEventsDir: layout.failedEvents,
      retryDelayMs: options.s3RetryDelayMs ?? 1_000,
      log,
    });
    notifier = startedNotifier;
    cleanup.push(() => startedNotifier.stop());
    // Stopped before the notifier: the last deliveries' S3 events still reach the functions.
    cleanup.push(() => firehose.stop());

    const runners = wiring.streamSubscriptions.map(
      (subscription) =>
        new SubscriptionRunner({
          subscription,
          kinesis,
          checkpoints,
          invoker,
          region: wiring.region,
          invokeIdentityArn: `arn:aws:iam::${wiring.accountId}:role/${wiring.service}-${stage}-${wiring.region}-lambdaRole`,
          functionArn: `arn:aws:lambda:${wiring.region}:${wiring.accountId}:function:${subscription.functionName}`,
          destinations,
          failedBatchesDir: layout.failedBatches,
          pollIntervalMs,
          retryDelayMs: options.retryDelayMs ?? 500,
          maxRetryDelayMs: 10_000,
          log,
        }),
    );
    cleanup.push(() => Promise.all(runners.map((r) => r.stop())));
    for (const runner of runners) await runner.start();
    const readers = [...runners.flatMap((r) => r.shardReaders), ...firehose.shardReaders];
    health.set('pollers', async () => {
      const failing = readers.filter((r) => r.lastError !== undefined);
      if (failing.length)
        return {
          state: 'down',
          detail: failing.map((r) => `${r.label}: ${r.lastError}`).join('; '),
        };
      return {
        state: 'up',
        detail: `${readers.length} shard reader(s): ${runners.length} Kinesis subscription(s), Firehose sources`,
      };
    });

    const stepFunctions = new LocalStepFunctions({
      stateMachines: wiring.stateMachines,
      functions: wiring.functions,
      invoker,
    });
    cleanup.push(() => stepFunctions.stop());

    let stopping: Promise<void> | undefined;
    health.markReady();
    openFront();
    return {
      config,
      wiring,
      endpoints,
      dataDir: layout,
      env: env(),
      health: () => health.report(),
      get offlinePid() {
        return current?.pid;
      },
      kinesis: {
        injectFaults: (faults) => emulators.kinesisFaults.inject(faults),
        calls: (operation) => emulators.kinesisFaults.calls(operation),
      },
      s3: {
        injectFaults: (...faults) => emulators.s3Faults.inject(...faults),
        refused: (method, key) => emulators.s3Faults.refusedCount(method, key),
      },
      firehose: {
        injectFaults: (faults) => firehose.injectFaults(faults),
        calls: (operation) => firehose.calls(operation),
        flush: () => firehose.flushAll(),
      },
      stepFunctions: {
        list: () => stepFunctions.list(),
        start: (nameOrArn, input) => stepFunctions.start(nameOrArn, input),
      },
      stop: () => {
        stopping ??= runCleanup();
        return stopping;
      },
    };
  } catch (error) {
    await runCleanup();
    throw error;
  }
}

/** The address a client uses to reach a server bound to `host` (a wildcard bind is reached on loopback). */
function loopbackFor(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

function hasHttpEvents(config: PrintedService): boolean {
  return Object.values(config.functions ?? {}).some((fn) =>
    (fn.events ?? []).some((e) => 'http' in e || 'httpApi' in e),
  );
}
