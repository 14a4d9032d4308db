/**
 * Query guard benchmark (a script that prints figures; not a test). Run: `npm run bench:query`.
 *
 * What the guard adds to every `logbase query`, on a lake of one year of hourly partitions per table
 * (8,760 partitions each; the listing itself is an in-memory fake, so the figure is the guard's own
 * work: parse, analysis, the filter evaluated against partition projection's days and against the
 * partitions). Reference, in the same rounds: DuckDB's parser alone (`json_serialize_sql` of the same
 * SQL), the floor of any tree-based guard. Median of interleaved rounds. Target: a guard check stays
 * under 50 ms, small beside Athena's own start (seconds) and a local DuckDB query.
 *
 * Tune with BENCH_ROUNDS.
 */
import { performance } from 'node:perf_hooks';
import { type LakeTable, lakeTables } from '../catalog/lake';
import { lakeResolver, QueryGuard } from '../cli/query/guard';
import { openDuckDb } from '../cli/query/local';
import type { PartitionListing, PartitionSource, PartitionStats } from '../cli/query/partitions';
import { intEnv } from '../lib/config';

const ROUNDS = intEnv('BENCH_ROUNDS', 15);
const TARGET_MS = 50;

/** A year of hourly partitions per table, 4 files of 8 MiB each. */
class YearOfPartitions implements PartitionSource {
  readonly where = 'memory';
  private readonly all: PartitionStats[] = [];
  constructor() {
    for (let day = 0; day < 365; day++) {
      const dt = new Date(Date.UTC(2025, 11, 2 + day)).toISOString().slice(0, 10);
      for (let h = 0; h < 24; h++) {
        this.all.push({ dt, hour: String(h).padStart(2, '0'), files: 4, bytes: 4 * 8 * 1024 * 1024 });
      }
    }
  }
  async list(_table: LakeTable, days?: string[]): Promise<PartitionListing> {
    const wanted = days ? new Set(days) : undefined;
    return { partitions: wanted ? this.all.filter((p) => wanted.has(p.dt)) : this.all, complete: true };
  }
}

const QUERIES: Record<string, string> = {
  'one day': "SELECT tab, count(*) FROM click WHERE dt = '2026-11-30' GROUP BY tab",
  'a week, CTE':
    "WITH w AS (SELECT * FROM click) SELECT count(*) FROM w WHERE dt BETWEEN '2026-11-24' AND '2026-11-30'",
  'join on dt':
    'SELECT count(*) FROM click c JOIN impression i ON c.dt = i.dt AND c.article_id = i.article_id ' +
    "WHERE c.dt >= '2026-11-01' AND c.hour IN ('08', '09')",
  'refused (no dt)': 'SELECT count(*) FROM click',
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function main() {
  const { instance, connection } = await openDuckDb();
  const guard = new QueryGuard(
    connection,
    lakeResolver('logbase_bench', lakeTables()),
    new YearOfPartitions(),
    () => new Date('2026-12-01T12:00:00Z'),
  );
  const timings: Record<string, { guard: number[]; parse: number[] }> = {};
  for (const name of Object.keys(QUERIES)) timings[name] = { guard: [], parse: [] };
  // One warm-up round, then interleaved rounds: guard and parser alone back to back, order alternating.
  for (let round = -1; round < ROUNDS; round++) {
    for (const [name, sql] of Object.entries(QUERIES)) {
      const steps = [
        async () => {
          const t = performance.now();
          await guard.check(sql);
          return ['guard', performance.now() - t] as const;
        },
        async () => {
          const t = performance.now();
          await connection.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR)', [sql]);
          return ['parse', performance.now() - t] as const;
        },
      ];
      if (round % 2 === 1) steps.reverse();
      for (const step of steps) {
        const [kind, ms] = await step();
        if (round >= 0) timings[name]?.[kind].push(ms);
      }
    }
  }
  console.log(`query guard, ${ROUNDS} rounds, median ms (a year of hourly partitions per table)`);
  console.log('query              guard ms  parser alone ms  verdict');
  let worst = 0;
  for (const [name, sql] of Object.entries(QUERIES)) {
    const t = timings[name];
    if (!t) continue;
    const g = median(t.guard);
    worst = Math.max(worst, g);
    const verdict = await guard.check(sql);
    const what = verdict.allowed ? `runs, ${verdict.partitions} partitions` : 'refused';
    console.log(
      `${name.padEnd(17)}  ${g.toFixed(1).padStart(8)}  ${median(t.parse).toFixed(2).padStart(15)}  ${what}`,
    );
  }
  console.log(
    `slowest guard check ${worst.toFixed(1)} ms: ${worst <= TARGET_MS ? 'within' : 'OVER'} the ${TARGET_MS} ms target`,
  );
  connection.closeSync();
  instance.closeSync();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
