import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { type CompactSummary, compactLake } from '../../lib/compact/compact-lake';
import { HourMerger } from '../../lib/compact/merge';
import { recordCompactRun } from '../../lib/compact/run-record';
import { DEFAULT_TARGET_BYTES, lakeTableRefs, recentClosedHours } from '../../lib/domain/compact/plan';
import { formatCompactSummary } from '../ops/compact';
import { type Hour, hoursBetween, parseHour } from '../ops/lake';
import { closeTarget, type OpsTarget, opsTarget, PROJECT_ROOT } from '../ops/target';
import { positiveInt } from './arguments';
import type { RegisterCommand } from './register';

export interface CompactCliOptions {
  hour?: string;
  from?: string;
  to?: string;
  type?: string;
  dryRun: boolean;
  targetBytes: number;
  settleMinutes: number;
  graceMinutes: number;
  maxHours: number;
  lookbackHours: number;
  progress: boolean;
  stage?: string;
  region?: string;
  bucket?: string;
  serviceDir: string;
}

const nonNegativeInt = (flag: string) => (raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${flag} must be a whole number >= 0`);
  return n;
};

/** The hours a run looks at: --hour, --from/--to, or (neither) the closed hours of the lookback window. */
export function hoursOf(
  o: Pick<CompactCliOptions, 'hour' | 'from' | 'to' | 'lookbackHours' | 'settleMinutes'>,
  now: Date,
): Hour[] {
  if (o.hour !== undefined) {
    if (o.from !== undefined || o.to !== undefined)
      throw new Error('give --hour, or --from and --to, not both');
    return [parseHour(o.hour, '--hour')];
  }
  if (o.from !== undefined || o.to !== undefined) {
    if (o.from === undefined || o.to === undefined) throw new Error('--from and --to go together');
    return hoursBetween(parseHour(o.from, '--from'), parseHour(o.to, '--to'));
  }
  return recentClosedHours(now, o.lookbackHours, o.settleMinutes);
}

/** The command on a resolved target: plan, compact (or list, dry run), print the summary, record the run. Returns the exit code. */
export async function runCompact(
  target: Pick<OpsTarget, 's3' | 'bucket' | 'stage'>,
  o: Omit<CompactCliOptions, 'stage' | 'region' | 'bucket' | 'serviceDir'>,
  out: (line: string) => void,
  now: () => Date = () => new Date(),
): Promise<number> {
  if (o.type !== undefined && lakeTableRefs(o.type).length === 0) {
    throw new Error(`--type ${o.type} is no event type of the registry (logbase schemas lists them)`);
  }
  const hours = hoursOf(o, now());
  const started = now();
  const work = mkdtempSync(join(tmpdir(), 'logbase-compact-'));
  let merger: Promise<HourMerger> | undefined;
  const bar =
    o.progress && process.stdout.isTTY && !o.dryRun
      ? new SingleBar(
          { format: ' {bar} {percentage}% | {value}/{total} hours | {label}', hideCursor: true },
          Presets.shades_classic,
        )
      : undefined;
  let summary: CompactSummary;
  try {
    let barStarted = false;
    summary = await compactLake(
      {
        s3: target.s3,
        bucket: target.bucket,
        workDir: work,
        now,
        merger: () => {
          merger ??= HourMerger.open({ tempDirectory: join(work, 'duckdb-spill') });
          return merger;
        },
      },
      {
        hours,
        ...(o.type !== undefined ? { type: o.type } : {}),
        targetBytes: o.targetBytes,
        settleMinutes: o.settleMinutes,
        graceMinutes: o.graceMinutes,
        limits: { maxHours: o.maxHours, maxBytes: Number.MAX_SAFE_INTEGER },
        dryRun: o.dryRun,
        onProgress: (done, total, label) => {
          if (bar === undefined) return;
          if (!barStarted) {
            bar.start(total, 0, { label: '' });
            barStarted = true;
          }
          bar.update(done, { label });
        },
      },
    );
  } finally {
    bar?.stop();
    if (merger) (await merger).close();
    rmSync(work, { recursive: true, force: true });
  }
  for (const line of formatCompactSummary(summary, o.dryRun)) out(line);
  if (o.dryRun) return 0;
  const key = await recordCompactRun(target.s3, target.bucket, {
    user: process.env.LOGBASE_USER ?? safeUser(),
    stage: target.stage,
    started_at: started.toISOString(),
    finished_at: now().toISOString(),
    arguments: {
      hours: hours.length,
      from: hours[0] ?? null,
      to: hours.at(-1) ?? null,
      type: o.type ?? null,
      target_bytes: o.targetBytes,
      grace_minutes: o.graceMinutes,
    },
    counts: { ...summary.totals, unchanged: summary.unchanged, hours: summary.hours },
  });
  out(`recorded: s3://${target.bucket}/${key}`);
  return summary.totals.failed > 0 ? 1 : 0;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

async function action(o: CompactCliOptions): Promise<number> {
  hoursOf(o, new Date());
  const target = await opsTarget({
    ...(o.stage ? { stage: o.stage } : {}),
    ...(o.region ? { region: o.region } : {}),
    ...(o.bucket ? { bucket: o.bucket } : {}),
    serviceDir: o.serviceDir,
  });
  try {
    // On a stage, queries may be running on Athena: superseded inputs wait 60 minutes unless told otherwise.
    const graceMinutes = o.graceMinutes ?? (target.local ? 0 : 60);
    return await runCompact(target, { ...o, graceMinutes }, (line) => process.stdout.write(`${line}\n`));
  } finally {
    closeTarget(target);
  }
}

/** Registers `logbase compact [--hour H | --from --to] [--type t] [--dry-run]`. */
export const registerCompact: RegisterCommand = (program: Command) => {
  program
    .command('compact')
    .description('merge closed hours of the lake into sorted, deduplicated Parquet files near a target size')
    .option('--hour <hour>', 'one hour (UTC), e.g. 2026-03-01T03')
    .option('--from <hour>', 'first hour of a range')
    .option('--to <hour>', 'last hour of a range, included')
    .option('--type <event_type>', "only this event type's tables")
    .option('--dry-run', 'list what would be compacted, change nothing', false)
    .option(
      '--target-bytes <n>',
      'size of a compacted file',
      positiveInt('--target-bytes', 2 ** 40),
      DEFAULT_TARGET_BYTES,
    )
    .option(
      '--settle-minutes <n>',
      'an hour is closed this long after its end',
      nonNegativeInt('--settle-minutes'),
      30,
    )
    .option(
      '--grace-minutes <n>',
      'superseded inputs are deleted this long after the compaction, by a later run (default: 0 locally, 60 on a stage)',
      nonNegativeInt('--grace-minutes'),
    )
    .option(
      '--max-hours <n>',
      'at most this many hours compacted',
      positiveInt('--max-hours', 24 * 366),
      24 * 366,
    )
    .option(
      '--lookback-hours <n>',
      'without --hour or --from/--to: the closed hours of this many last hours',
      positiveInt('--lookback-hours', 24 * 366),
      48,
    )
    .option('--stage <stage>', 'a deployed stage (default: the local stack)')
    .option('--region <region>', 'AWS region of the stage (default: the one serverless.yml resolves)')
    .option('--bucket <name>', 'the stage\'s data bucket, when deployed with --param="dataBucket=<name>"')
    .option('--no-progress', 'no progress bar')
    .option('--service-dir <dir>', 'folder holding serverless.yml', PROJECT_ROOT)
    .addHelpText(
      'after',
      [
        '',
        "Each hour's files are merged (duplicates of an event_id removed, keeping the first received), sorted",
        'by user_id and occurred_at, row counts checked, uploaded, and recorded in lake/_compaction/; only then',
        'are the small files deleted. Queries read each event once throughout. Running it again does nothing.',
        'The run is recorded under ops/runs/compact/.',
      ].join('\n'),
    )
    .action(async (options: CompactCliOptions) => {
      process.exitCode = await action(options);
    });
};
