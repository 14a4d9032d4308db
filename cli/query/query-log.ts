import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * The local query log: one JSON line per `logbase query` on the local lake, refused ones included, in
 * `<data dir>/query-log.jsonl`. `logbase datasets` reads it to say when a table was last read.
 */
export interface QueryLogEntry {
  /** When the query was asked, ISO 8601 UTC. */
  at: string;
  /** Who asked: the OS user. */
  user: string;
  sql: string;
  /** Lake tables the query reads (by Glue name, `click_v1`), as the guard found them. */
  tables: string[];
  /** Partitions and bytes the guard found it would read. */
  partitions: number;
  bytes: number;
  outcome: 'ran' | 'refused' | 'failed' | 'dry-run';
  allowFullScan: boolean;
  rows?: number;
  durationMs?: number;
  error?: string;
}

export async function appendQueryLog(file: string, entry: QueryLogEntry): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await appendFile(file, `${JSON.stringify(entry)}\n`);
}

/** Every entry of the log, oldest first (none when there is no log yet). */
export async function readQueryLog(file: string): Promise<QueryLogEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as QueryLogEntry);
}
