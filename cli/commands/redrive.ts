import type { Command } from 'commander';
import { hoursBetween, parseHour, recordRun } from '../ops/lake';
import { formatRedriveSummary, redriveFormat } from '../ops/redrive';
import { closeTarget, type OpsTarget, opsTarget, PROJECT_ROOT } from '../ops/target';
import { positiveInt } from './arguments';
import { invokeRunner } from './backfill';
import type { RegisterCommand } from './register';

interface RedriveCliOptions {
  from?: string;
  to?: string;
  dryRun: boolean;
  concurrency: number;
  stage?: string;
  region?: string;
  bucket?: string;
  serviceDir: string;
}

function hoursOf(o: Pick<RedriveCliOptions, 'from' | 'to'>) {
  if (o.from === undefined && o.to === undefined) return undefined;
  if (o.from === undefined || o.to === undefined)
    throw new Error('give both --from and --to, or neither (every hour)');
  return hoursBetween(parseHour(o.from, '--from'), parseHour(o.to, '--to'));
}

/** `redrive format` on a resolved target; returns the exit code. */
export async function runRedriveFormat(
  target: Pick<OpsTarget, 's3' | 'lambda' | 'bucket' | 'formatter' | 'region' | 'stage'>,
  o: Pick<RedriveCliOptions, 'from' | 'to' | 'dryRun' | 'concurrency'>,
  out: (line: string) => void,
): Promise<number> {
  const hours = hoursOf(o);
  const startedAt = new Date().toISOString();
  const summary = await redriveFormat({
    s3: target.s3,
    bucket: target.bucket,
    ...(hours ? { hours } : {}),
    concurrency: o.concurrency,
    run: invokeRunner(target),
    dryRun: o.dryRun,
  });
  for (const line of formatRedriveSummary(summary, o.dryRun)) out(line);
  if (o.dryRun) return 0;
  const key = await recordRun(target.s3, target.bucket, {
    command: 'redrive-format',
    stage: target.stage,
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    arguments: { from: o.from ?? null, to: o.to ?? null, concurrency: o.concurrency },
    counts: {
      quarantine_objects: summary.objects,
      reformatted: summary.reformatted,
      read: summary.read,
      redriven: summary.redriven,
      stayed: summary.stayed,
      missing: summary.missing,
      failed: summary.failed,
    },
  });
  out(`recorded: s3://${target.bucket}/${key}`);
  return summary.failed.length === 0 ? 0 : 1;
}

/** Registers `logbase redrive format`. */
export const registerRedrive: RegisterCommand = (program: Command) => {
  const redrive = program
    .command('redrive')
    .description('re-validate quarantined records against the current registry and move those that pass');
  redrive
    .command('format')
    .description(
      "the formatter's quarantine (quarantine/format/): lines that pass now are written to the lake",
    )
    .option('--from <hour>', 'first raw hour (UTC), e.g. 2026-03-01T03 (default: every hour)')
    .option('--to <hour>', 'last raw hour, included')
    .option('--dry-run', 'count what would pass now, move nothing', false)
    .option('--concurrency <n>', 'formatter invocations at once', positiveInt('--concurrency', 64), 4)
    .option('--stage <stage>', 'a deployed stage, through Lambda Invoke (default: the running local stack)')
    .option('--region <region>', 'AWS region of the stage (default: the one serverless.yml resolves)')
    .option('--bucket <name>', 'the stage\'s data bucket, when deployed with --param="dataBucket=<name>"')
    .option('--service-dir <dir>', 'folder holding serverless.yml', PROJECT_ROOT)
    .addHelpText(
      'after',
      [
        '',
        'A raw object with a quarantined line that passes now is formatted again (formatParquet, the same',
        'output names): the passing lines land in the lake, its quarantine object keeps only the lines that',
        'still fail. A second run moves nothing. Lines are re-validated by the registry of this checkout:',
        'deploy the fixed registry first, so the formatter agrees. Recorded under ops/runs/redrive-format/.',
      ].join('\n'),
    )
    .action(async (options: RedriveCliOptions) => {
      hoursOf(options);
      const target = await opsTarget({
        ...(options.stage ? { stage: options.stage } : {}),
        ...(options.region ? { region: options.region } : {}),
        ...(options.bucket ? { bucket: options.bucket } : {}),
        serviceDir: options.serviceDir,
      });
      try {
        process.exitCode = await runRedriveFormat(target, options, (l) => process.stdout.write(`${l}\n`));
      } finally {
        closeTarget(target);
      }
    });
};
