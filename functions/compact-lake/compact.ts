import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { S3Client } from '@aws-sdk/client-s3';
import { type CompactSummary, compactLake } from '../../lib/compact/compact-lake';
import type { HourMerger } from '../../lib/compact/merge';
import { recordCompactRun } from '../../lib/compact/run-record';
import { recentClosedHours } from '../../lib/domain/compact/plan';
import { logger, metrics } from '../../lib/powertools';
import type { CompactConfig } from './config';

export interface CompactLakeDeps {
  config: CompactConfig;
  s3: S3Client;
  merger: () => Promise<HourMerger>;
  now: () => Date;
}

/**
 * One scheduled run: the closed hours of the lookback window, every table, within the run's limits
 * (what is left waits for the next run); the outcome is logged, counted and recorded under ops/runs/compact/.
 */
export async function runScheduledCompaction(
  deps: CompactLakeDeps,
): Promise<CompactSummary & { record: string }> {
  const { config } = deps;
  const started = deps.now();
  const hours = recentClosedHours(started, config.lookbackHours, config.settleMinutes);
  const summary = await compactLake(
    { s3: deps.s3, bucket: config.dataBucket, merger: deps.merger, workDir: config.workDir, now: deps.now },
    {
      hours,
      targetBytes: config.targetBytes,
      settleMinutes: config.settleMinutes,
      graceMinutes: config.graceMinutes,
      limits: { maxHours: config.maxHours, maxBytes: config.maxBytes },
    },
  );
  const record = await recordCompactRun(deps.s3, config.dataBucket, {
    user: 'schedule',
    stage: config.stage,
    started_at: started.toISOString(),
    finished_at: deps.now().toISOString(),
    arguments: { from: hours[0] ?? null, to: hours.at(-1) ?? null, scheduled: true },
    counts: { ...summary.totals, unchanged: summary.unchanged, hours: summary.hours },
  });
  const t = summary.totals;
  metrics.addMetric('HoursCompacted', MetricUnit.Count, t.compacted);
  metrics.addMetric('HoursDeferred', MetricUnit.Count, t.deferred);
  metrics.addMetric('HoursFailed', MetricUnit.Count, t.failed);
  metrics.addMetric('DuplicatesRemoved', MetricUnit.Count, t.duplicates_removed);
  metrics.addMetric('ReformatRowsRemoved', MetricUnit.Count, t.reformat_removed);
  metrics.addMetric('FilesBefore', MetricUnit.Count, t.files_before);
  metrics.addMetric('FilesAfter', MetricUnit.Count, t.files_after);
  const log = t.failed > 0 ? logger.error.bind(logger) : logger.info.bind(logger);
  log('compaction run', {
    totals: t,
    unchanged: summary.unchanged,
    record,
    failed: summary.hours.filter((h) => h.error),
  });
  if (t.failed > 0) throw new Error(`${t.failed} hour(s) failed to compact; see ${record}`);
  return { ...summary, record };
}
