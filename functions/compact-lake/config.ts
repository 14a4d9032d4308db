import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { intEnv, optionalEnv, requireEnv } from '../../lib/config';
import { DEFAULT_TARGET_BYTES } from '../../lib/domain/compact/plan';

/** Everything compact-lake reads from its environment (see serverless.yml), read once at start-up. */
export interface CompactConfig {
  dataBucket: string;
  stage: string;
  targetBytes: number;
  /** An hour is compacted this long after its end (Firehose's buffer and the formatter have landed it). */
  settleMinutes: number;
  /** Superseded inputs are deleted this long after their compaction (longer than any Athena query). */
  graceMinutes: number;
  /** How far back a run looks for hours to compact (a redelivery or backfill since is merged again). */
  lookbackHours: number;
  maxHours: number;
  maxBytes: number;
  workDir: string;
  duckDbMemoryLimit: string | undefined;
}

/** Reads and checks the settings; throws a ConfigError naming the first bad variable. */
export function loadCompactConfig(env: NodeJS.ProcessEnv = process.env): CompactConfig {
  const memory = optionalEnv('AWS_LAMBDA_FUNCTION_MEMORY_SIZE', '', env);
  return {
    dataBucket: requireEnv('DATA_BUCKET', env),
    stage: optionalEnv('STAGE', 'unknown', env),
    targetBytes: intEnv('COMPACT_TARGET_BYTES', DEFAULT_TARGET_BYTES, env),
    settleMinutes: intEnv('COMPACT_SETTLE_MINUTES', 30, env),
    graceMinutes: intEnv('COMPACT_GRACE_MINUTES', 60, env),
    lookbackHours: intEnv('COMPACT_LOOKBACK_HOURS', 48, env),
    maxHours: intEnv('COMPACT_MAX_HOURS', 24, env),
    maxBytes: intEnv('COMPACT_MAX_BYTES', 4 * 1024 ** 3, env),
    workDir: optionalEnv('COMPACT_WORK_DIR', join(tmpdir(), 'logbase-compact'), env),
    duckDbMemoryLimit: memory ? `${Math.floor(Number(memory) * 0.6)}MB` : undefined,
  };
}
