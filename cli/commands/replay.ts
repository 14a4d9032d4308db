import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_ENDPOINT } from '../client/endpoint';
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

/** Registers `logbase replay <file|dir>`. */
export const registerReplay: RegisterCommand = (program: Command) => {
  program
    .command('replay')
    .description(
      'deliver fixtures (events/http|kinesis|s3|sfn/*.json) to the stack the way their source would, and print what each stage did',
    )
    .argument('<file|dir>', 'a fixture, or a folder of them (e.g. events/http)')
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
        'sfn:     named after a state machine (batch-scoring.json): an execution on the local Step Functions',
        "         runner; named after a Task state (score-shard.json): with --invoke, that state's function",
      ].join('\n'),
    )
    .action(async (path: string, options: ReplayCliOptions) => {
      process.exitCode = await action(path, options);
    });
};
