import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_ENDPOINT } from '../client/endpoint';
import { recordFixtures } from '../ops/record';
import { loadFixtures, type ReplayOutcome, replay } from '../ops/replay';
import { closeTarget, opsTarget, PROJECT_ROOT } from '../ops/target';
import { positiveInt } from './arguments';
import type { RegisterCommand } from './register';

interface ReplayCliOptions {
  stage?: string;
  region?: string;
  bucket?: string;
  endpoint?: string;
  apiKey?: string;
  invoke: boolean;
  wait: number;
  serviceDir: string;
  record?: string;
  for?: number;
}

/** The outcome of each fixture as printed: the file, how it was delivered, what each stage did. */
export function formatOutcomes(outcomes: readonly ReplayOutcome[], cwd = process.cwd()): string[] {
  const lines: string[] = [];
  for (const o of outcomes) {
    const file = o.file.startsWith(`${cwd}/`) ? o.file.slice(cwd.length + 1) : o.file;
    lines.push(`${o.ok ? 'ok  ' : 'FAIL'} ${file} [${o.source}]`, `     ${o.delivered}`);
    for (const s of o.stages) lines.push(`     -> ${s}`);
  }
  const failed = outcomes.filter((o) => !o.ok).length;
  lines.push(`${outcomes.length} fixture(s) replayed, ${failed} failed`);
  return lines;
}

async function action(path: string, o: ReplayCliOptions): Promise<number> {
  const fixtures = await loadFixtures(resolve(path));
  const target = await opsTarget({
    ...(o.stage ? { stage: o.stage } : {}),
    ...(o.region ? { region: o.region } : {}),
    ...(o.bucket ? { bucket: o.bucket } : {}),
    serviceDir: o.serviceDir,
  });
  try {
    const endpoint =
      o.endpoint ?? (target.local ? (process.env.LOGBASE_HTTP_ENDPOINT ?? DEFAULT_ENDPOINT) : undefined);
    const outcomes = await replay(fixtures, {
      wiring: target.wiring,
      local: target.local,
      config: target.config,
      bucket: target.bucket,
      ...(endpoint ? { httpEndpoint: endpoint } : {}),
      ...(o.apiKey ? { apiKey: o.apiKey } : {}),
      s3: target.s3,
      kinesis: target.kinesis,
      lambda: target.lambda,
      invoke: o.invoke,
      waitMs: o.wait * 1000,
    });
    for (const line of formatOutcomes(outcomes)) process.stdout.write(`${line}\n`);
    return outcomes.every((x) => x.ok) ? 0 : 1;
  } finally {
    closeTarget(target);
  }
}

/** `logbase replay --record <dir>`: records until Ctrl-C or --for; returns the exit code. */
export async function runRecord(
  o: { dir: string; endpoint: string; forSeconds?: number; signal?: AbortSignal },
  out: (line: string) => void,
): Promise<number> {
  const files = await recordFixtures({
    endpoint: o.endpoint,
    dir: o.dir,
    ...(o.forSeconds === undefined ? {} : { forMs: o.forSeconds * 1000 }),
    ...(o.signal ? { signal: o.signal } : {}),
    onStarted: () =>
      out(
        `recording what ${o.endpoint} receives into ${o.dir}/ (${o.forSeconds === undefined ? 'Ctrl-C stops' : `for ${o.forSeconds} s`})`,
      ),
    onFile: (file, f) => out(`  ${f.source.padEnd(7)} ${file}`),
  });
  const by = (s: string) => files.filter((f) => f.includes(`/${s}/`)).length;
  out(`${files.length} fixture(s) recorded: ${by('http')} http, ${by('kinesis')} kinesis, ${by('s3')} s3`);
  return 0;
}

/** Registers `logbase replay <file|dir>`. */
export const registerReplay: RegisterCommand = (program: Command) => {
  program
    .command('replay')
    .description(
      'deliver fixtures (events/http|kinesis|s3|sfn/*.json) to the stack the way their source would, and print what each stage did',
    )
    .argument('[file|dir]', 'a fixture, or a folder of them (e.g. events/http)')
    .option(
      '--record <dir>',
      'record what the running local stack receives into fixtures under <dir>/ instead',
    )
    .option(
      '--for <seconds>',
      'with --record: stop after this long (default: Ctrl-C)',
      positiveInt('--for', 86_400),
    )
    .option('--stage <stage>', 'a deployed stage (default: the running local stack)')
    .option('--region <region>', 'AWS region of the stage (default: the one serverless.yml resolves)')
    .option('--bucket <name>', 'the stage\'s data bucket, when deployed with --param="dataBucket=<name>"')
    .option(
      '--endpoint <url>',
      `the HTTP API for HTTP fixtures (local default ${DEFAULT_ENDPOINT}; required with --stage)`,
    )
    .option('--api-key <key>', "replaces the fixtures' x-api-key (a stage has its own keys)")
    .option('--invoke', 'hand each event to its function through Lambda Invoke, as `sls invoke` does', false)
    .option(
      '--wait <seconds>',
      'how long to wait for the formatter after an S3 object is written',
      positiveInt('--wait', 600),
      30,
    )
    .option('--service-dir <dir>', 'folder holding serverless.yml', PROJECT_ROOT)
    .addHelpText(
      'after',
      [
        '',
        'http:    the request is sent to the HTTP API (its body, content type, encoding and key as in the fixture)',
        "kinesis: the records are put on the stage's stream of the same name (logbase-dev-clicks -> logbase-<stage>-clicks)",
        "s3:      the object the event names is written again (it must be in the bucket), and the formatter's",
        '         manifest is read: lines read = rows written + quarantined',
        "--invoke: the event itself goes to the function (bucket and stream ARNs replaced by the stage's)",
        '--record <dir>: while it runs, each request the local stack answers, each Kinesis batch and each S3',
        '         notification (raw/, articles/) it hands a function becomes a fixture under <dir>/http|kinesis|s3/',
        '         (an S3 fixture with its object next to it, <file>.object): replay one with logbase replay <file>',
        'sfn:     named after a state machine (batch-scoring.json): an execution on the local Step Functions',
        "         runner; named after a Task state (score-shard.json): with --invoke, that state's function",
      ].join('\n'),
    )
    .action(async (path: string | undefined, options: ReplayCliOptions) => {
      if (options.record !== undefined) {
        const stop = new AbortController();
        process.once('SIGINT', () => stop.abort());
        process.exitCode = await runRecord(
          {
            dir: resolve(options.record),
            endpoint: options.endpoint ?? process.env.LOGBASE_HTTP_ENDPOINT ?? DEFAULT_ENDPOINT,
            ...(options.for === undefined ? {} : { forSeconds: options.for }),
            signal: stop.signal,
          },
          (line) => process.stdout.write(`${line}\n`),
        );
        return;
      }
      if (path === undefined) throw new Error('give a fixture file or folder to replay, or --record <dir>');
      process.exitCode = await action(path, options);
    });
};
