import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { intEnv, optionalEnv, requireEnv } from '../../lib/config';
import { DEFAULT_SEGMENT_BYTES } from '../../lib/format/format-object';

/** Everything the formatter reads from its environment (see serverless.yml), read once at start-up. */
export interface FormatConfig {
  dataBucket: string;
  /** Segment size in bytes: part of the output names, so changing it renames a replay's outputs (the stale ones are deleted). */
  segmentBytes: number;
  /** Where segments, Parquet and DuckDB's spill go (Lambda: /tmp). */
  workDir: string;
  /** DuckDB's memory limit, e.g. `700MB`: 40% of the function's memory, leaving Node and the buffers the rest. */
  duckDbMemoryLimit: string | undefined;
}

/** Reads and checks the formatter's settings; throws a ConfigError naming the first bad variable. */
export function loadFormatConfig(env: NodeJS.ProcessEnv = process.env): FormatConfig {
  const memory = optionalEnv('AWS_LAMBDA_FUNCTION_MEMORY_SIZE', '', env);
  return {
    dataBucket: requireEnv('DATA_BUCKET', env),
    segmentBytes: intEnv('FORMAT_SEGMENT_BYTES', DEFAULT_SEGMENT_BYTES, env),
    workDir: optionalEnv('FORMAT_WORK_DIR', join(tmpdir(), 'logbase-format'), env),
    duckDbMemoryLimit: memory ? `${Math.floor(Number(memory) * 0.4)}MB` : undefined,
  };
}
