/**
 * The PushCandidates task of the batch chain (functions/batch-push-candidates): reads the run's
 * Recommendations items (each shard's `batch/dt=<date>/scores/<nnnn>.json`), the candidates marts of
 * the dates within the cooldown (the push history: the push sender sends what these marts hold), and
 * writes `marts/push_candidates/dt=<date>/push_candidates.parquet` (DuckDB), one key per date, so a
 * rerun of the date replaces it with the same rows.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { getBytes, listKeys, putBytes } from '../aws/batch';
import { cooldownDates, type PushCandidate, type PushCounts, pushCandidates } from '../domain/batch/push';
import type { RecommendationItem } from '../domain/batch/recommendations';
import { withBatchDuckDb } from './duckdb';
import type { BatchDeps, RunRef, ScoreShardOutput } from './tasks';

/** The prefix of the candidates marts, one `dt=` partition per date. */
export const PUSH_MART_PREFIX = 'marts/push_candidates';

export const pushMartKey = (date: string) => `${PUSH_MART_PREFIX}/dt=${date}/push_candidates.parquet`;

export interface PushCandidatesOutput extends PushCounts {
  mart: string;
  threshold: number;
  cooldownHours: number;
  /** The earlier candidates marts read as the push history. */
  historyFiles: number;
}

/** The mart's columns, in order (DuckDB types). */
const COLUMNS = [
  ['user_id', 'VARCHAR'],
  ['article_id', 'VARCHAR'],
  ['score', 'DOUBLE'],
  ['run_id', 'VARCHAR'],
  ['generated_at', 'VARCHAR'],
  ['date', 'VARCHAR'],
] as const;

/** The users to push for the run's date, with why the others are not, and the mart written. */
export async function pushCandidatesTask(
  event: { run: RunRef; shardResults: Pick<ScoreShardOutput, 'key'>[] },
  deps: BatchDeps,
): Promise<PushCandidatesOutput> {
  const { run } = event;
  const { bucket, pushScoreThreshold: threshold, pushCooldownHours: cooldownHours } = deps.config;
  const recs: RecommendationItem[] = [];
  for (const shard of event.shardResults) {
    const body = await getBytes(deps.s3, bucket, shard.key);
    recs.push(...(JSON.parse(Buffer.from(body).toString('utf8')) as RecommendationItem[]));
  }
  const dir = join(deps.config.workDir, `push-${run.date}-${run.runId}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    const historyFiles: string[] = [];
    for (const dt of cooldownDates(run.date, cooldownHours)) {
      for (const key of await listKeys(deps.s3, bucket, `${PUSH_MART_PREFIX}/dt=${dt}/`)) {
        if (!key.endsWith('.parquet')) continue;
        const file = join(dir, `history-${historyFiles.length}.parquet`);
        writeFileSync(file, await getBytes(deps.s3, bucket, key));
        historyFiles.push(file);
      }
    }
    return await withBatchDuckDb(async (c) => {
      const history =
        historyFiles.length === 0
          ? []
          : (
              await c.runAndReadAll(
                `SELECT user_id::VARCHAR AS user_id, generated_at::VARCHAR AS generated_at FROM read_parquet([${historyFiles
                  .map((f) => `'${f}'`)
                  .join(', ')}], union_by_name = true)`,
              )
            ).getRowObjectsJS();
      const { candidates, counts } = pushCandidates(
        recs,
        history.map((h) => ({ user_id: String(h.user_id), generated_at: String(h.generated_at) })),
        { threshold, cooldownHours, asOf: new Date(run.asOf) },
      );
      const parquet = join(dir, 'push_candidates.parquet');
      await c.run(`CREATE TABLE push (${COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ')})`);
      await appendRows(c, candidates);
      await c.run(
        `COPY (SELECT * FROM push ORDER BY user_id) TO '${parquet}' (FORMAT parquet, COMPRESSION zstd)`,
      );
      const mart = pushMartKey(run.date);
      await putBytes(
        deps.s3,
        bucket,
        mart,
        new Uint8Array(readFileSync(parquet)),
        'application/vnd.apache.parquet',
      );
      return { ...counts, mart, threshold, cooldownHours, historyFiles: historyFiles.length };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The rows into the mart's table, through DuckDB's appender (no text round trip). */
async function appendRows(c: DuckDBConnection, rows: readonly PushCandidate[]): Promise<void> {
  const appender = await c.createAppender('push');
  try {
    for (const r of rows) {
      appender.appendVarchar(r.user_id);
      appender.appendVarchar(r.article_id);
      appender.appendDouble(r.score);
      appender.appendVarchar(r.run_id);
      appender.appendVarchar(r.generated_at);
      appender.appendVarchar(r.date);
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}
