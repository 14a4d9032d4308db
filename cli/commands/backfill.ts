import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import {
  type BackfillSummary,
  backfill,
  formatBackfillSummary,
  objectCreatedEvent,
  selectObjects,
} from '../ops/backfill';
import { hoursBetween, parseHour, recordRun } from '../ops/lake';
import { invokeFunction } from '../ops/replay';
import { closeTarget, type OpsTarget, opsTarget, PROJECT_ROOT } from '../ops/target';
import { positiveInt } from './arguments';
import type { RegisterCommand } from './register';

interface BackfillCliOptions {
  from: string;
  to: string;
  type?: string;
  dryRun: boolean;
  concurrency: number;
  stage?: string;
  region?: string;
  bucket?: string;
  progress: boolean;
  serviceDir: string;
}

/** The formatter run through Lambda Invoke (locally: serverless-offline's invoke endpoint), as S3 would start it. */
export function invokeRunner(target: Pick<OpsTarget, 'lambda' | 'formatter' | 'bucket' | 'region'>) {
  return async (key: string, size: number) => {
    const out = await invokeFunction(
      target.lambda,
      target.formatter,
      objectCreatedEvent(target.bucket, key, size, target.region),
    );
    if (out.error !== undefined) throw new Error(out.error);
  };
}

async function action(o: BackfillCliOptions): Promise<number> {
  // The hours are checked before serverless.yml is resolved (a typo answers at once).
  hoursBetween(parseHour(o.from, '--from'), parseHour(o.to, '--to'));
  const target = await opsTarget({
    ...(o.stage ? { stage: o.stage } : {}),
    ...(o.region ? { region: o.region } : {}),
    ...(o.bucket ? { bucket: o.bucket } : {}),
    serviceDir: o.serviceDir,
  });
  try {
    return await runBackfill(target, o, (line) => process.stdout.write(`${line}\n`));
  } finally {
    closeTarget(target);
  }
}

/** The command on a resolved target: dry run, or the re-run, its summary and its run record. Returns the exit code. */
export async function runBackfill(
  target: Pick<OpsTarget, 's3' | 'lambda' | 'bucket' | 'formatter' | 'region' | 'stage'>,
  o: Pick<BackfillCliOptions, 'from' | 'to' | 'type' | 'dryRun' | 'concurrency' | 'progress'>,
  out: (line: string) => void,
): Promise<number> {
  const hours = hoursBetween(parseHour(o.from, '--from'), parseHour(o.to, '--to'));
  if (o.dryRun) {
    const objects = await selectObjects(target.s3, target.bucket, hours, o.type);
    for (const x of objects) out(`${x.hour}  ${String(x.size).padStart(10)}  s3://${target.bucket}/${x.key}`);
    out(
      `${objects.length} object(s), ${objects.reduce((n, x) => n + x.size, 0)} bytes would be re-formatted (dry run: nothing ran)`,
    );
    return 0;
  }
  const startedAt = new Date().toISOString();
  const bar =
    o.progress && process.stdout.isTTY
      ? new SingleBar(
          { format: ' {bar} {percentage}% | {value}/{total} objects | {key}', hideCursor: true },
          Presets.shades_classic,
        )
      : undefined;
  let started = false;
  const summary: BackfillSummary = await backfill({
    s3: target.s3,
    bucket: target.bucket,
    hours,
    ...(o.type ? { type: o.type } : {}),
    concurrency: o.concurrency,
    run: invokeRunner(target),
    onProgress: (done, total, key) => {
      if (bar === undefined) return;
      if (!started) {
        bar.start(total, 0, { key: '' });
        started = true;
      }
      bar.update(done, { key: key.slice(key.lastIndexOf('/') + 1, key.lastIndexOf('/') + 41) });
    },
  });
  bar?.stop();
  for (const line of formatBackfillSummary(summary)) out(line);
  const runKey = await recordRun(target.s3, target.bucket, {
    command: 'backfill',
    stage: target.stage,
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    arguments: { from: o.from, to: o.to, type: o.type ?? null, concurrency: o.concurrency },
    counts: {
      objects: summary.objects,
      bytes: summary.bytes,
      failed: summary.failed,
      reconciled: summary.reconciled,
      hours: summary.hours,
    },
  });
  out(`recorded: s3://${target.bucket}/${runKey}`);
  return summary.reconciled ? 0 : 1;
}

/** Registers `logbase backfill --from <hour> --to <hour>`. */
export const registerBackfill: RegisterCommand = (program: Command) => {
  program
    .command('backfill')
    .description(
      'run the formatter again over the raw objects of a range of hours, then reconcile every hour',
    )
    .requiredOption('--from <hour>', 'first hour (UTC, raw layout), e.g. 2026-03-01T03')
    .requiredOption('--to <hour>', 'last hour, included, e.g. 2026-03-01T05')
    .option(
      '--type <event_type>',
      'only objects whose last run wrote this type (or quarantined lines, or never ran)',
    )
    .option('--dry-run', 'list the objects and their sizes, run nothing', false)
    .option('--concurrency <n>', 'formatter invocations at once', positiveInt('--concurrency', 64), 4)
    .option('--stage <stage>', 'a deployed stage, through Lambda Invoke (default: the running local stack)')
    .option('--region <region>', 'AWS region of the stage (default: the one serverless.yml resolves)')
    .option('--bucket <name>', 'the stage\'s data bucket, when deployed with --param="dataBucket=<name>"')
    .option('--no-progress', 'no progress bar')
    .option('--service-dir <dir>', 'folder holding serverless.yml', PROJECT_ROOT)
    .addHelpText(
      'after',
      [
        '',
        'Each object goes to formatParquet as the S3 event S3 sends; it writes the same Parquet names again',
        'and deletes what an earlier run wrote under other names, so running twice gives the lake of one run.',
        'Every hour is reconciled from the manifests (lines read = rows written + quarantined); the run is',
        'recorded under ops/runs/backfill/ (who, when, what, counts). Exit code 1 when an hour does not reconcile.',
      ].join('\n'),
    )
    .action(async (options: BackfillCliOptions) => {
      process.exitCode = await action(options);
    });
};
