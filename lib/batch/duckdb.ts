import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * DuckDB for one batch task (ArticleStats, PushCandidates, PublishReport): in memory, one thread, no
 * extension installed or loaded (the layer bundles what they use; nothing downloads). `run` gets the
 * connection; the connection and the instance are closed after, whatever happens.
 */
export async function withBatchDuckDb<T>(run: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:', {
    threads: '1',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const c = await db.connect();
  try {
    return await run(c);
  } finally {
    c.closeSync();
    db.closeSync();
  }
}
