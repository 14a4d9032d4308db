import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { listKeys } from '../../lib/aws/batch';
import { s3Client } from '../../lib/aws/clients';
import { LOCAL_DEFAULTS } from '../../lib/aws/endpoints';
import { quarantineKey } from '../../lib/domain/collect-quarantine';
import { manifestKey } from '../../lib/domain/format/records';
import { reportKeys } from '../../lib/domain/report/kpi';
import { consoleLog, errorMessage } from '../../local/log';
import { LATEST_REPORT_PATH } from '../../local/reports';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { eventsUrl } from '../client/endpoint';
import type { SendProgress } from '../client/poster';
import { articlesUrl, sendArticles } from '../client/send-articles';
import { sendEvents } from '../client/send-events';
import { generateArticles } from '../traffic/articles';
import { formatSummary, type SendSummary } from '../traffic/stats';
import type { RegisterCommand } from './register';

/** The project root: where serverless.yml and `.logbase/` live. */
const PROJECT_ROOT = resolve(__dirname, '..', '..');

interface DevOptions {
  host: string;
  httpPort: number;
  lambdaPort: number;
  s3Port: number;
  kinesisPort: number;
  dynamodbPort: number;
  firehosePort: number;
  sqsPort: number;
  dataDir?: string;
  fresh: boolean;
  stage: string;
  offline: boolean;
  serviceDir: string;
  /** `--demo` alone is `true` (DEMO.events); `--demo <n>` is n. */
  demo?: true | number;
}

/** What `logbase dev --demo` sends: modest, so a laptop stays responsive; a few events broken on purpose. */
export const DEMO = { events: 2000, rate: 200, invalidShare: 0.02 } as const;

/**
 * `--demo` first loads the generated article set of a fresh seed, then sends traffic of the same
 * seed: every click names an article that has a vector.
 */
export async function loadDemoArticles(
  stack: Pick<LocalStack, 'endpoints' | 'config'>,
  apiKey: string,
  seed: number,
  signal: AbortSignal,
): Promise<SendSummary | undefined> {
  if (!stack.endpoints.http || !stack.config.functions?.vectorizeArticle) return undefined;
  const articles = generateArticles({ seed });
  const url = articlesUrl(stack.endpoints.http);
  console.log(
    `logbase dev: demo: loading ${articles.length} generated articles (seed ${seed}) to ${url} ...`,
  );
  const summary = await sendArticles(
    { endpoint: url, apiKey, input: { articles }, signal },
    { warn: (message) => console.warn(`logbase dev: demo: ${message}`) },
  );
  console.log(['logbase dev: demo: articles loaded:', ...formatSummary(summary, 'articles')].join('\n'));
  return summary;
}

function demoEvents(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of events >= 1');
  return n;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

/** `logbase dev`: the whole platform on this machine (what `npm start` runs). */
export const registerDev: RegisterCommand = (program: Command) => {
  program
    .command('dev')
    .description(
      'run the platform locally: S3, Kinesis, DynamoDB, Firehose, SQS and SNS emulators wired from serverless.yml, ' +
        'plus serverless-offline (HTTP API and Lambda invoke)',
    )
    .option('--host <host>', 'interface every server binds to', LOCAL_DEFAULTS.host)
    .addOption(
      new Option('--http-port <port>', 'HTTP API (in front of serverless-offline)')
        .argParser(port)
        .default(LOCAL_DEFAULTS.http),
    )
    .addOption(
      new Option('--lambda-port <port>', 'Lambda invoke endpoint (serverless-offline)')
        .argParser(port)
        .default(LOCAL_DEFAULTS.lambda),
    )
    .addOption(new Option('--s3-port <port>', 'S3 (s3rver)').argParser(port).default(LOCAL_DEFAULTS.s3))
    .addOption(
      new Option('--kinesis-port <port>', 'Kinesis (kinesalite)')
        .argParser(port)
        .default(LOCAL_DEFAULTS.kinesis),
    )
    .addOption(
      new Option('--dynamodb-port <port>', 'DynamoDB (dynalite)')
        .argParser(port)
        .default(LOCAL_DEFAULTS.dynamodb),
    )
    .addOption(
      new Option('--firehose-port <port>', 'Firehose (local delivery streams)')
        .argParser(port)
        .default(LOCAL_DEFAULTS.firehose),
    )
    .addOption(
      new Option('--sqs-port <port>', 'SQS and SNS, one server (fauxqs)')
        .argParser(port)
        .default(LOCAL_DEFAULTS.sqs),
    )
    .option(
      '--data-dir <dir>',
      'where buckets, streams, tables and checkpoints persist (default: <service-dir>/.logbase/data)',
    )
    .option('--fresh', 'wipe the data dir first', false)
    .option('--stage <stage>', 'serverless.yml stage to resolve', 'local')
    .option('--no-offline', 'do not start serverless-offline (emulators and wiring only)')
    .option('--service-dir <dir>', 'folder holding serverless.yml', PROJECT_ROOT)
    .option(
      '--demo [events]',
      'once up, load the generated articles (POST /v1/articles), then send generated traffic clicking on them ' +
        `through the HTTP API (default ${DEMO.events} events at ${DEMO.rate}/s, ` +
        `${DEMO.invalidShare * 100}% broken on purpose), wait for the formatter, run batch-scoring for the day ` +
        'and print the KPI report URL, then keep running',
      demoEvents,
    )
    .addHelpText(
      'after',
      '\nPort 0 picks a free port. Ctrl-C stops everything cleanly: Firehose buffers are flushed first.',
    )
    .action(async (options: DevOptions, command: Command) => {
      if (options.demo !== undefined && !options.offline)
        command.error('error: --demo sends through the HTTP API, which runs on serverless-offline', {
          exitCode: 1,
        });
      await runDev(options);
    });
};

async function runDev(options: DevOptions): Promise<void> {
  const serviceDir = resolve(options.serviceDir);
  // Installed first: a Ctrl-C during start-up stops the stack as soon as it is up, never half-way.
  const signals = onceSignalled();
  try {
    console.log(
      `logbase dev: resolving ${resolve(serviceDir, 'serverless.yml')} (stage ${options.stage}) ...`,
    );
    if (options.offline)
      console.log('logbase dev: serverless-offline starts too (esbuild builds the handlers) ...');
    const stack = await startLocalStack({
      serviceDir,
      stage: options.stage,
      host: options.host,
      ports: {
        http: options.httpPort,
        lambda: options.lambdaPort,
        s3: options.s3Port,
        kinesis: options.kinesisPort,
        dynamodb: options.dynamodbPort,
        firehose: options.firehosePort,
        sqs: options.sqsPort,
      },
      dataDir: options.dataDir ? resolve(options.dataDir) : resolve(serviceDir, '.logbase', 'data'),
      fresh: options.fresh,
      offline: options.offline,
      log: consoleLog(),
      onOfflineOutput: (line) => {
        if (line.trim()) console.log(`offline | ${line}`);
      },
    });
    console.log(devBanner(stack));
    const demoStop = new AbortController();
    const demo =
      options.demo === undefined
        ? undefined
        : runDemo(stack, options.demo === true ? DEMO.events : options.demo, demoStop.signal).catch((error) =>
            console.error(`logbase dev: the demo failed: ${errorMessage(error)}`),
          );
    const signal = await signals.first;
    console.log(
      `\nlogbase dev: ${signal}, stopping (Firehose flush, pollers, servers, serverless-offline) ...`,
    );
    demoStop.abort();
    await demo;
    await stack.stop();
    console.log('logbase dev: stopped');
  } finally {
    signals.dispose();
  }
}

/**
 * `--demo`: sends `events` generated events (DEMO rate and broken share) to collect through the stack's HTTP
 * API with `sendEvents`, prints its summary and where the events went. Aborting stops taking new batches.
 */
async function runDemo(stack: LocalStack, events: number, signal: AbortSignal): Promise<void> {
  const apiKey = localApiKey(stack);
  if (!stack.endpoints.http || !apiKey || !stack.config.functions?.collect) {
    console.error(
      'logbase dev: --demo needs the collect function and its API key (functions.collect.environment.API_KEYS)',
    );
    return;
  }
  const seed = Math.floor(Math.random() * 2 ** 32);
  await loadDemoArticles(stack, apiKey, seed, signal);
  if (signal.aborted) return;
  const url = eventsUrl(stack.endpoints.http);
  console.log(
    `logbase dev: demo: sending ${events} generated events to ${url} at ${DEMO.rate}/s ` +
      `(${DEMO.invalidShare * 100}% broken on purpose) ...`,
  );
  let lastProgress = Date.now();
  const summary = await sendEvents(
    {
      endpoint: url,
      apiKey,
      input: { generate: events, traffic: { invalidShare: DEMO.invalidShare, seed } },
      rate: DEMO.rate,
      // About 4 requests a second, as `logbase send --rate` does.
      batchSize: Math.ceil(DEMO.rate / 4),
      signal,
    },
    {
      progress: (p: SendProgress) => {
        if (Date.now() - lastProgress < 2_000) return;
        lastProgress = Date.now();
        console.log(
          `logbase dev: demo: ${p.done}/${p.total ?? '?'} events, accepted ${p.accepted}, ` +
            `rejected ${p.rejected}, failed ${p.failed}`,
        );
      },
      warn: (message) => console.warn(`logbase dev: demo: ${message}`),
    },
  );
  const lines = ['', 'logbase dev: demo done:', ...formatSummary(summary), '', ...whereToLook(stack)];
  console.log([...lines, ''].join('\n'));
  if (signal.aborted) return;
  const report = await demoReport(stack, new Date().toISOString().slice(0, 10), signal);
  console.log(['', ...report, '', 'Still running: Ctrl-C stops everything.', ''].join('\n'));
}

/** What the demo's report step needs of the stack. */
type ReportStack = Pick<LocalStack, 'config' | 'endpoints' | 'env' | 'firehose' | 'stepFunctions'>;

/**
 * The end of `--demo`: waits until every raw object of the day has its formatter manifest (the Firehose
 * buffers flushed first, a progress line every 2 s), then runs batch-scoring for the day and says where its
 * KPI report is. Returns the lines to print.
 */
export async function demoReport(
  stack: ReportStack,
  date: string,
  signal: AbortSignal,
  options: { timeoutMs?: number; pollMs?: number; log?: (line: string) => void } = {},
): Promise<string[]> {
  const log = options.log ?? ((line: string) => console.log(line));
  const bucket = String(stack.config.provider.environment?.DATA_BUCKET ?? '');
  const machine = stack.stepFunctions.list().find((m) => m.key === 'batchScoring');
  if (!machine || !bucket)
    return ['logbase dev: demo: no batchScoring state machine or DATA_BUCKET: no report'];
  const s3 = s3Client({ ...process.env, ...stack.env });
  try {
    await stack.firehose.flush();
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    let lastLine = 0;
    for (;;) {
      const raw = (
        await Promise.all(['events', 'clicks'].map((d) => listKeys(s3, bucket, `raw/${d}/dt=${date}/`)))
      ).flat();
      const manifests = new Set(
        (
          await Promise.all(
            ['events', 'clicks'].map((d) => listKeys(s3, bucket, `lake/_manifests/${d}/dt=${date}/`)),
          )
        ).flat(),
      );
      const formatted = raw.filter((k) => manifests.has(manifestKey(k))).length;
      if (raw.length > 0 && formatted === raw.length) {
        log(`logbase dev: demo: all ${raw.length} raw objects formatted into the lake`);
        break;
      }
      if (signal.aborted) return [];
      if (Date.now() > deadline)
        return [`logbase dev: demo: ${raw.length - formatted} raw objects still unformatted: no report run`];
      if (Date.now() - lastLine >= 2_000) {
        lastLine = Date.now();
        log(
          `logbase dev: demo: waiting for the formatter: ${formatted}/${raw.length} raw objects formatted ...`,
        );
      }
      await new Promise((r) => setTimeout(r, options.pollMs ?? 500));
      await stack.firehose.flush();
    }
    log(`logbase dev: demo: running batch-scoring for ${date} (article stats, scoring, KPI report) ...`);
    const started = Date.now();
    const ended = await stack.stepFunctions.start(machine.name, { date }).result;
    if (ended.status !== 'SUCCEEDED')
      return [
        `logbase dev: demo: batch-scoring ${ended.status}: ${ended.error ?? ''} ${ended.cause ?? ''}`.trim(),
      ];
    const url = stack.endpoints.http ? `${stack.endpoints.http}${LATEST_REPORT_PATH}` : reportKeys(date).html;
    return [
      `logbase dev: demo: batch-scoring for ${date} done in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      `KPI report of ${date}: open ${url}`,
    ];
  } finally {
    s3.destroy();
  }
}

/**
 * Where collect's output lands, per bucket: each delivery stream's S3 prefix and collect's quarantine, with
 * the bucket's folder in the data dir and a command to list it.
 */
export function whereToLook(
  stack: Pick<LocalStack, 'wiring' | 'config' | 'dataDir' | 'endpoints'>,
): string[] {
  const places: { bucket: string; prefix: string; what: string }[] = stack.wiring.deliveryStreams.map(
    (d) => ({
      bucket: d.bucket,
      // Up to the last folder before the first !{...} expression: raw/events/ of raw/events/dt=!{...}/.
      prefix: d.prefix.includes('!{')
        ? d.prefix.slice(0, d.prefix.lastIndexOf('/', d.prefix.indexOf('!{')) + 1)
        : d.prefix,
      what:
        `accepted events, via Firehose ${d.name}${d.sourceStream ? ` <- Kinesis ${d.sourceStream}` : ''} ` +
        `(lands within ${d.intervalInSeconds} s)`,
    }),
  );
  const dataBucket =
    stack.config.functions?.collect?.environment?.DATA_BUCKET ??
    stack.config.provider.environment?.DATA_BUCKET;
  if (typeof dataBucket === 'string') {
    const key = quarantineKey('request-id', new Date());
    const what = 'rejected events with their errors, one gzip JSON-lines object per request';
    places.push({ bucket: dataBucket, prefix: key.slice(0, key.indexOf('dt=')), what });
  }
  const lines = ['Where the events went:'];
  for (const bucket of new Set(places.map((p) => p.bucket))) {
    const here = places.filter((p) => p.bucket === bucket);
    const width = Math.max(...here.map((p) => p.prefix.length));
    lines.push(
      `  s3://${bucket}/ (on disk: ${join(stack.dataDir.s3, bucket)}/, each object a *._S3rver_object file)`,
      ...here.map((p) => `    ${p.prefix.padEnd(width)}  ${p.what}`),
      `    list it: aws --endpoint-url ${stack.endpoints.s3} s3 ls s3://${bucket}/ --recursive (any credentials)`,
    );
  }
  // What the stack's functions make of them, when serverless.yml wires those functions.
  const wired = new Set(stack.wiring.functions.map((f) => f.key));
  const today = new Date().toISOString().slice(0, 10);
  if (wired.has('formatParquet')) {
    lines.push(
      '  then formatParquet (seconds after each raw object lands):',
      '    lake/<type>/v<N>/dt=/hour=/  typed Parquet by event time; quarantine/format/ the lines it could not write',
      `    query it: logbase query "SELECT event_type, count(*) AS n FROM impression WHERE dt = '${today}' GROUP BY 1"`,
    );
  }
  if (wired.has('updateUserVectors') && stack.endpoints.http !== undefined) {
    lines.push(
      '  and updateUserVectors (each click, within a second):',
      `    a user's vector: curl -s ${stack.endpoints.http}/v1/users/<user_id>/vector -H 'x-api-key: <the API key above>'`,
    );
  }
  return lines;
}

/** Resolves on the first SIGINT/SIGTERM; a second one exits at once (status 1). */
function onceSignalled() {
  let signalled: (signal: NodeJS.Signals) => void = () => {};
  const first = new Promise<NodeJS.Signals>((resolveFirst) => {
    signalled = resolveFirst;
  });
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) return signalled(signal);
    console.error(`logbase dev: ${signal} again, exiting without waiting for a clean stop`);
    process.exit(1);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    first,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** The local API key: the first of functions.collect.environment.API_KEYS in the resolved config. */
export function localApiKey(stack: Pick<LocalStack, 'config'>): string | undefined {
  const keys = stack.config.functions?.collect?.environment?.API_KEYS;
  const first = typeof keys === 'string' ? keys.split(',')[0]?.trim() : undefined;
  return first || undefined;
}

/** A ready-to-paste curl posting one valid click event (schema v1) to POST /v1/events. */
export function curlExample(
  httpEndpoint: string,
  apiKey: string,
  now = new Date(),
  eventId = randomUUID(),
): string {
  const body = JSON.stringify({
    events: [
      {
        event_id: eventId,
        event_type: 'click',
        schema_version: 1,
        user_id: 'u-local-1',
        occurred_at: now.toISOString(),
        article_id: 'a-local-1',
        tab: 'top',
        position: 0,
        platform: 'web',
        app_version: '0.0.0-local',
      },
    ],
  });
  return `curl -sS -X POST ${httpEndpoint}/v1/events -H 'content-type: application/json' -H 'x-api-key: ${apiKey}' -d '${body}'`;
}

const nameOfArn = (arn: string) => arn.slice(arn.lastIndexOf(':') + 1);

/** Where failed asynchronous invocations and given-up Kinesis batches go: a destination, or a file. */
function onFailureLines(wiring: LocalStack['wiring']): string[] {
  const asyncTriggered = new Set(wiring.s3Subscriptions.map((s) => s.functionKey));
  const lines = wiring.functions
    .filter((f) => asyncTriggered.has(f.key))
    .map(
      (f) =>
        `  ${f.key} on failure (after ${f.asyncRetries} retries) -> ` +
        (f.onFailure
          ? `${f.onFailure.type} ${nameOfArn(f.onFailure.arn)}`
          : 'failed-events/ in the data dir'),
    );
  for (const s of wiring.streamSubscriptions) {
    const retries =
      s.maximumRetryAttempts < 0 ? 'until the records expire' : `${s.maximumRetryAttempts} retries`;
    lines.push(
      `  ${s.functionKey} <- kinesis ${s.streamName} on failure (after ${retries}) -> ` +
        (s.onFailure
          ? `${s.onFailure.type} ${nameOfArn(s.onFailure.arn)}`
          : 'failed-batches/ in the data dir'),
    );
  }
  return lines;
}

/** The `logbase status` line for this stack: its HTTP endpoint and data dir when they are not the defaults. */
export function statusCommand(stack: Pick<LocalStack, 'endpoints' | 'dataDir'>): string {
  const args = ['npx logbase status'];
  if (stack.endpoints.http && stack.endpoints.http !== `http://${LOCAL_DEFAULTS.host}:${LOCAL_DEFAULTS.http}`)
    args.push(`--endpoint ${stack.endpoints.http}`);
  if (stack.dataDir.root !== join(PROJECT_ROOT, '.logbase', 'data'))
    args.push(`--data-dir ${stack.dataDir.root}`);
  return args.join(' ');
}

/** The banner `logbase dev` prints once everything is up. */
export function devBanner(stack: LocalStack, now = new Date()): string {
  const { wiring, endpoints } = stack;
  const row = (name: string, url: string | undefined, what: string) =>
    `  ${name.padEnd(10)} ${(url ?? '(not started: --no-offline)').padEnd(26)} ${what}`;
  const list = (names: string[]) => (names.length ? names.join(', ') : 'none');
  const apiKey = localApiKey(stack);
  const routes = Object.values(stack.config.functions ?? {}).flatMap((fn) =>
    (fn.events ?? []).flatMap((e) => {
      const http = (e.httpApi ?? e.http) as { method?: string; path?: string } | undefined;
      return http?.path ? [`${(http.method ?? 'ANY').toUpperCase()} ${http.path}`] : [];
    }),
  );
  const lines = [
    '',
    `logbase dev: ${wiring.service}, stage ${wiring.stage} (${wiring.region}), ready`,
    '',
    row('HTTP API', endpoints.http, list(routes)),
    ...(endpoints.offlineHttp
      ? [
          row(
            '',
            endpoints.offlineHttp,
            "serverless-offline's own port, behind the HTTP API: use the one above",
          ),
        ]
      : []),
    ...(endpoints.http
      ? [
          row(
            'Health',
            `${endpoints.http}/health`,
            '200 when every service is up, 503 otherwise; JSON says which (emulators, offline, pollers)',
          ),
        ]
      : []),
    ...(endpoints.http
      ? [
          row(
            'KPI report',
            `${endpoints.http}${LATEST_REPORT_PATH}`,
            'the newest KPI report page (logbase run batch-scoring publishes one; 404 until then)',
          ),
        ]
      : []),
    row('Lambda', endpoints.http ? endpoints.lambda : undefined, 'Invoke API (serverless-offline)'),
    row('S3', endpoints.s3, `buckets: ${list(wiring.buckets.map((b) => b.name))}`),
    row('Kinesis', endpoints.kinesis, `streams: ${list(wiring.streams.map((s) => s.name))}`),
    row('DynamoDB', endpoints.dynamodb, `tables: ${list(wiring.tables.map((t) => t.name))}`),
    row(
      'Firehose',
      endpoints.firehose,
      `delivery streams: ${list(wiring.deliveryStreams.map((d) => d.name))}`,
    ),
    row('SQS', endpoints.sqs, `queues: ${list(wiring.queues.map((q) => q.name))}`),
    row('SNS', endpoints.sns, `topics: ${list(wiring.topics.map((t) => t.name))} (the same server as SQS)`),
    row(
      'Step Fns',
      '(in this process)',
      `state machines: ${list(wiring.stateMachines.map((m) => m.name))} (Task states call the functions above)`,
    ),
    `  ${'Data dir'.padEnd(10)} ${stack.dataDir.root}`,
    `  ${'API key'.padEnd(10)} ${apiKey ?? '(none: functions.collect.environment.API_KEYS is not set)'}`,
    '',
    'Wiring (from serverless.yml):',
    ...wiring.s3Subscriptions.map(
      (s) => `  s3://${s.bucket}/${s.prefix ?? ''}*${s.suffix ?? ''} (${s.event}) -> ${s.functionKey}`,
    ),
    ...wiring.streamSubscriptions.map(
      (s) =>
        `  kinesis ${s.streamName} -> ${s.functionKey} (batch ${s.batchSize}, ${s.startingPosition}` +
        `${s.reportBatchItemFailures ? ', ReportBatchItemFailures' : ''})`,
    ),
    ...wiring.deliveryStreams.map(
      (d) =>
        `  firehose ${d.name}${d.sourceStream ? ` <- kinesis ${d.sourceStream}` : ''} -> s3://${d.bucket}/${d.prefix} ` +
        `(${d.sizeInMBs} MiB or ${d.intervalInSeconds} s)`,
    ),
    ...wiring.topicSubscriptions.map((t) => `  sns ${nameOfArn(t.topicArn)} -> sqs ${nameOfArn(t.endpoint)}`),
    ...onFailureLines(wiring),
  ];
  if (wiring.s3Subscriptions.length + wiring.streamSubscriptions.length === 0)
    lines.push('  (no s3 or stream events)');
  if (endpoints.http && apiKey && stack.config.functions?.collect) {
    lines.push('', 'Post one click event:', `  ${curlExample(endpoints.http, apiKey, now)}`);
  }
  if (endpoints.http)
    lines.push(
      '',
      'The pipeline at a glance (last activity, lags, quarantine, last batch run):',
      `  ${statusCommand(stack)}`,
    );
  const exports = Object.entries(stack.env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  lines.push('', 'Use the stack from another shell (lib/aws/clients.ts reads these):', `  export ${exports}`);
  lines.push('', 'Ctrl-C stops everything.', '');
  return lines.join('\n');
}
