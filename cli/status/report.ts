import type { RawBacklog, UserVectorLag } from '../../lib/domain/freshness';

/**
 * What `logbase status` reports: the pipeline at a glance, per stage its last activity, its lag
 * and its quarantine rate over the last hour, the last batch run, and what is wrong. The same
 * shape comes from the local stack (cli/status/local.ts) and from a deployed stage
 * (cli/status/aws.ts); `renderStatus` prints it, `--json` prints it as is.
 */

/** A quarantine rate: quarantined of total, over `window_seconds`; rate null when total is 0. */
export interface QuarantineRate {
  quarantined: number;
  total: number;
  rate: number | null;
  window_seconds: number;
}

export interface BatchRun {
  /** The run's date (its input) or execution name. */
  name: string;
  status: 'SUCCEEDED' | 'FAILED' | 'RUNNING' | 'TIMED_OUT' | 'ABORTED' | 'NO_SUMMARY';
  started_at: string | null;
  finished_at: string | null;
  detail: string;
}

export interface AlarmState {
  name: string;
  state: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA';
  reason: string;
  since: string | null;
}

export interface StatusReport {
  stage: string;
  source: 'local' | 'aws';
  checked_at: string;
  collect: { last_activity: string | null; quarantine: QuarantineRate | null; detail: string };
  firehose: { last_activity: string | null; detail: string };
  format: {
    last_activity: string | null;
    backlog: RawBacklog;
    quarantine: QuarantineRate | null;
    /** S3 events on the formatter's on-failure queue (given up after the retries); null when unknown. */
    failures_queued: number | null;
    detail: string;
  };
  vectors: { last_activity: string | null; lag: UserVectorLag; detail: string };
  batch: { last_run: BatchRun | null };
  /** AWS: every alarm of the stage (those in ALARM listed first); local: null (no CloudWatch locally). */
  alarms: AlarmState[] | null;
  /** What needs someone: alarms in ALARM, services down, lags and failed runs, one line each. */
  problems: string[];
}

/** The quarantine share, null when nothing was counted. */
export function quarantineRate(quarantined: number, total: number, windowSeconds = 3600): QuarantineRate {
  return {
    quarantined,
    total,
    rate: total === 0 ? null : quarantined / total,
    window_seconds: windowSeconds,
  };
}

/** `3 s`, `4 min 2 s`, `2 h 5 min`, `3 d 4 h`. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  if (s < 86400)
    return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
  return `${Math.floor(s / 86400)} d${Math.floor((s % 86400) / 3600) ? ` ${Math.floor((s % 86400) / 3600)} h` : ''}`;
}

/** `2026-12-01 10:00:03Z (4 min 2 s ago)`, or `never`. */
export function when(iso: string | null, now: Date): string {
  if (iso === null) return 'never';
  const age = (now.getTime() - new Date(iso).getTime()) / 1000;
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z (${duration(age)} ago)`;
}

function rateText(q: QuarantineRate | null): string {
  if (q === null) return 'n/a';
  if (q.rate === null) return 'no records';
  return `${(q.rate * 100).toFixed(1)}% (${q.quarantined} of ${q.total})`;
}

export function backlogText(b: RawBacklog): string {
  if (b.oldest === null) return 'none';
  return `${b.count} raw object${b.count === 1 ? '' : 's'} not formatted, oldest ${duration(b.oldest.ageSeconds)} (${b.oldest.key})`;
}

export function vectorLagText(lag: UserVectorLag): string {
  if (lag.lagSeconds === null) return 'unknown (no IteratorAge in the last 15 min: no batch ran)';
  if (lag.source === 'stream') {
    if (!lag.waiting) return 'none';
    return `${duration(lag.lagSeconds)} (${lag.waiting}${lag.more ? '+' : ''} click${lag.waiting === 1 ? '' : 's'} waiting)`;
  }
  return lag.lagSeconds === 0 ? 'none (iterator age 0 s)' : `${duration(lag.lagSeconds)} (iterator age)`;
}

function batchText(run: BatchRun | null, now: Date): string {
  if (run === null) return 'no run yet';
  const at = run.finished_at ?? run.started_at;
  return `${run.name} ${run.status}${at ? ` ${when(at, now)}` : ''}${run.detail ? `: ${run.detail}` : ''}`;
}

/** The report as aligned lines. */
export function renderStatus(report: StatusReport): string[] {
  const now = new Date(report.checked_at);
  const rows: [string, string, string, string, string][] = [
    [
      'collect',
      when(report.collect.last_activity, now),
      '-',
      rateText(report.collect.quarantine),
      report.collect.detail,
    ],
    ['firehose', when(report.firehose.last_activity, now), '-', '-', report.firehose.detail],
    [
      'format',
      when(report.format.last_activity, now),
      backlogText(report.format.backlog),
      rateText(report.format.quarantine),
      report.format.detail,
    ],
    [
      'vectors',
      when(report.vectors.last_activity, now),
      vectorLagText(report.vectors.lag),
      '-',
      report.vectors.detail,
    ],
    ['batch', batchText(report.batch.last_run, now), '-', '-', ''],
  ];
  const header: [string, string, string, string, string] = [
    'stage',
    'last activity',
    'lag',
    'quarantine (1 h)',
    '',
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...[header, ...rows].map((r) => (r[i] as string).length)));
  const line = (r: string[]) =>
    r
      .map((cell, i) => (i < 4 ? cell.padEnd(widths[i] as number) : cell))
      .join('  ')
      .trimEnd();
  const lines = [
    `logbase status: stage ${report.stage} (${report.source === 'local' ? 'the local stack' : 'AWS'}), ${report.checked_at}`,
    '',
    line(header),
    ...rows.map(line),
    '',
  ];
  if (report.alarms !== null) {
    const firing = report.alarms.filter((a) => a.state === 'ALARM');
    lines.push(
      `alarms: ${firing.length} in ALARM of ${report.alarms.length}` +
        (report.alarms.length ? '' : ' (none deployed with this prefix)'),
    );
    for (const a of firing) lines.push(`  ${a.name} since ${a.since ?? '?'}: ${a.reason}`);
  }
  if (report.problems.length === 0) lines.push('problems: none');
  else lines.push('problems:', ...report.problems.map((p) => `  - ${p}`));
  return lines;
}
