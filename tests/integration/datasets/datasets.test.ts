import { paginateScan } from '@aws-sdk/client-dynamodb';
import { type _Object, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { datasetsReport, printReport } from '../../../cli/commands/datasets';
import { runLocalQuery } from '../../../cli/commands/query';
import type { DatasetsReport } from '../../../cli/datasets/report';
import { generateTraffic } from '../../../cli/traffic';
import { manifestKey } from '../../../lib/domain/format/records';
import { API_KEY, BUCKET, usePlatform } from '../collect/platform';
import { eventually, listKeys } from '../local/harness';

/**
 * `logbase datasets` on the whole local platform: events posted through collect land raw through the
 * local Firehose and are formatted to the lake by formatParquet (serverless-offline); the answer is
 * compared with the test's own listing of the bucket.
 */
const platform = usePlatform();

/** Every object of the bucket as ListObjectsV2 gives it (one page holds this test's few objects). */
async function listing(): Promise<_Object[]> {
  const out = await platform.clients.s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  expect(out.IsTruncated).toBe(false);
  return out.Contents ?? [];
}

async function report(): Promise<DatasetsReport> {
  const { stack, clients } = platform;
  return datasetsReport(
    stack.config,
    { local: true, s3: clients.s3, dynamodb: clients.dynamodb, queryLog: stack.dataDir.queryLog },
    { unusedDays: 30 },
  );
}

const dataset = (r: DatasetsReport, name: string) => {
  const d = r.datasets.find((x) => x.name === name);
  if (!d) throw new Error(`no dataset ${name} in ${r.datasets.map((x) => x.name).join(', ')}`);
  return d;
};

/** The day the events were posted on (their occurred_at is now): the lake's partition. */
const today = new Date().toISOString().slice(0, 10);

beforeAll(async () => {
  const sent = generateTraffic(400, { seed: 12 }).map((g) => g.event);
  for (let i = 0; i < sent.length; i += 200) {
    const res = await fetch(platform.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({ events: sent.slice(i, i + 200) }),
    });
    expect(res.status).toBe(202);
  }
  await platform.settledLines('raw/');
  await eventually(
    'a manifest for every raw object',
    async () => {
      const raw = await listKeys(platform.clients.s3, BUCKET, 'raw/');
      const manifests = new Set(await listKeys(platform.clients.s3, BUCKET, 'lake/_manifests/'));
      return raw.length >= 2 && raw.every((k) => manifests.has(manifestKey(k)));
    },
    45_000,
  );
}, 120_000);

describe('logbase datasets on the local stack', () => {
  it('lists every declared dataset with the sizes, object counts and last writes of the bucket', async () => {
    // Prepare
    const objects = await listing();
    // Act
    const r = await report();
    // Assess
    expect(r.datasets.map((d) => d.name)).toEqual([
      'raw/clicks',
      'raw/errors/clicks',
      'raw/errors/events',
      'raw/events',
      'lake/click/v1',
      'lake/impression/v1',
      'lake/ad_impression/v1',
      'lake/action/v1',
      'lake/_manifests',
      'lake/_compaction',
      'quarantine/articles',
      'quarantine/collect',
      'quarantine/format',
      'marts/article_stats',
      'marts/daily_users',
      'marts/push_candidates',
      'reports/kpi',
      'batch',
      'ops/runs',
      'articles',
      'athena-results',
      'logbase-local-UserVectors',
      'logbase-local-ArticleVectors',
      'logbase-local-Recommendations',
    ]);
    for (const prefix of [
      'raw/events/',
      'raw/clicks/',
      'lake/click/v1/',
      'lake/impression/v1/',
      'lake/_manifests/',
    ]) {
      const mine = objects.filter((o) => o.Key?.startsWith(prefix));
      const d = dataset(r, prefix.slice(0, -1));
      expect(mine.length).toBeGreaterThan(0);
      expect([d.measured.count, d.measured.bytes]).toEqual([
        mine.length,
        mine.reduce((n, o) => n + (o.Size ?? 0), 0),
      ]);
      const newest = mine
        .map((o) => o.LastModified?.toISOString() ?? '')
        .sort()
        .at(-1);
      expect(d.measured.lastWrite).toBe(newest);
    }
    expect(dataset(r, 'lake/click/v1').measured.newestPartition).toMatch(new RegExp(`^${today}/\\d{2}$`));
    expect(dataset(r, 'lake/click/v1').schema?.columns?.map((c) => c.name)).toContain('article_id');
    expect(dataset(r, 'raw/events').retention).toBe(
      'expires after 400 days; STANDARD_IA after 30 days; old versions 30 days',
    );
    expect(r.unknown).toEqual([]);
  });

  it('counts the items of each table as a Scan of it finds them', async () => {
    // Prepare
    let users = 0;
    for await (const page of paginateScan(
      { client: platform.clients.dynamodb },
      { TableName: 'logbase-local-UserVectors', Select: 'COUNT' },
    )) {
      users += page.Count ?? 0;
    }
    // Act
    const r = await report();
    // Assess
    const d = dataset(r, 'logbase-local-UserVectors');
    expect(d.measured.count).toBe(users);
    expect(d.retention).toMatch(/^kept \(/);
    expect(dataset(r, 'logbase-local-Recommendations').retention).toBe(
      'items expire at their expires_at (TTL)',
    );
  });

  it('marks a lake table read once logbase query ran on it, and flags a dataset nobody reads', async () => {
    // Prepare
    const sql = `SELECT count(*) AS n FROM click WHERE dt = '${today}'`;
    const code = await runLocalQuery(
      sql,
      {
        format: 'table',
        allowFullScan: false,
        dryRun: false,
        bucketDir: `${platform.stack.dataDir.s3}/${BUCKET}`,
        database: 'logbase_local',
        queryLog: platform.stack.dataDir.queryLog,
        user: 'analyst',
      },
      { out: () => {}, err: () => {} },
    );
    expect(code).toBe(0);
    await platform.clients.s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `quarantine/format/dt=${today}/hour=00/raw-events-0001.json`,
        Body: '{"reason":"invalid_json"}\n',
      }),
    );
    // Act
    const r = await report();
    // Assess
    const click = dataset(r, 'lake/click/v1');
    expect(click.measured.reads).toEqual([
      { at: expect.any(String), via: 'query', who: 'analyst', what: sql },
    ]);
    expect(click.measured.lastRead).toBe(click.measured.reads[0]?.at);
    expect(click.flags).toEqual([]);
    // The KPI report's task may read every lake table: ad impressions are in use though no query read them.
    const ads = dataset(r, 'lake/ad_impression/v1');
    expect([ads.measured.lastRead, ads.readers, ads.flags]).toEqual([
      undefined,
      expect.arrayContaining(['batchPublishReport']),
      [],
    ]);
    // No function may read the formatter's quarantine, and no redrive ran: nobody looks at it.
    const quarantine = dataset(r, 'quarantine/format');
    expect([quarantine.measured.count, quarantine.flags]).toEqual([1, ['not read for 30 days']]);
  });

  it('shows an object written under an undeclared prefix as an unknown dataset', async () => {
    // Prepare
    await platform.clients.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'scratch/2026/notes.csv', Body: 'a,b\n1,2\n' }),
    );
    await platform.clients.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'raw/tmp/copy.gz', Body: Buffer.alloc(100) }),
    );
    // Act
    const r = await report();
    const out: string[] = [];
    printReport(r, { json: false }, { out: (l) => out.push(l), err: () => {} });
    // Assess
    expect(r.unknown.map((u) => [u.name, u.count, u.bytes, u.flags])).toEqual([
      ['raw/tmp/', 1, 100, ['unknown dataset']],
      ['scratch/', 1, 8, ['unknown dataset']],
    ]);
    expect(out.find((l) => l.startsWith('scratch/'))).toMatch(/8 bytes\s+1\s.*unknown dataset$/);
  });
});
