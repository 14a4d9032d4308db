import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { runBackfill } from '../../../cli/commands/backfill';

const s3Mock = mockClient(S3Client);
const lambdaMock = mockClient(LambdaClient);

const KEY = 'raw/events/dt=2026-03-01/hour=03/a.gz';
const manifest = {
  lines_read: 10,
  rows_written: 9,
  lines_quarantined: 1,
  quarantined_by_reason: { schema: 1 },
  faults: [],
  outputs: [{ type: 'click' }],
};
/** A GetObject body as the SDK gives it (only what the command reads). */
const body = (text: string) => ({ transformToString: async () => text });

const target = () => ({
  s3: new S3Client({ region: 'ap-northeast-1' }),
  lambda: new LambdaClient({ region: 'ap-northeast-1' }),
  bucket: 'b',
  formatter: 'logbase-dev-formatParquet',
  region: 'ap-northeast-1',
  stage: 'dev',
});
const options = { from: '2026-03-01T03', to: '2026-03-01T03', concurrency: 2, progress: false };

beforeEach(() => {
  s3Mock.reset();
  lambdaMock.reset();
  s3Mock.on(ListObjectsV2Command).resolves({});
  s3Mock
    .on(ListObjectsV2Command, { Prefix: 'raw/events/dt=2026-03-01/hour=03/' })
    .resolves({ Contents: [{ Key: KEY, Size: 42 }] });
  s3Mock.on(GetObjectCommand).callsFake(() => ({ Body: body(JSON.stringify(manifest)) as never }));
  s3Mock.on(PutObjectCommand).resolves({});
});

describe('logbase backfill (the command on mocked clients)', () => {
  it('lists the objects and their sizes on --dry-run and invokes nothing', async () => {
    // Prepare
    const out: string[] = [];
    // Act
    const code = await runBackfill(target(), { ...options, dryRun: true }, (l) => out.push(l));
    // Assess
    expect(code).toBe(0);
    expect(out).toEqual([
      `2026-03-01T03          42  s3://b/${KEY}`,
      '1 object(s), 42 bytes would be re-formatted (dry run: nothing ran)',
    ]);
    expect(lambdaMock.calls()).toHaveLength(0);
  });

  it('invokes the formatter with the S3 event of each object, reconciles the hour and records the run', async () => {
    // Prepare
    lambdaMock.on(InvokeCommand).resolves({ Payload: new TextEncoder().encode('{"objects":1}') as never });
    const out: string[] = [];
    // Act
    const code = await runBackfill(target(), { ...options, dryRun: false }, (l) => out.push(l));
    // Assess
    expect(code).toBe(0);
    const invoke = lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(invoke?.FunctionName).toBe('logbase-dev-formatParquet');
    expect(JSON.parse(Buffer.from(invoke?.Payload as Uint8Array).toString()).Records[0].s3.object.key).toBe(
      'raw/events/dt%3D2026-03-01/hour%3D03/a.gz',
    );
    expect(out[0]).toBe(
      '2026-03-01T03  1 object(s)  10 lines read = 9 rows written + 1 quarantined (schema 1)',
    );
    const put = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put?.Key).toMatch(/^ops\/runs\/backfill\/dt=\d{4}-\d{2}-\d{2}\//);
    expect(JSON.parse(String(put?.Body))).toMatchObject({
      command: 'backfill',
      stage: 'dev',
      counts: { objects: 1, reconciled: true },
    });
  });

  it('exits 1 and names the object when the formatter fails on it', async () => {
    // Prepare
    lambdaMock.on(InvokeCommand).resolves({
      FunctionError: 'Unhandled',
      Payload: new TextEncoder().encode(
        '{"errorType":"TransientFormatError","errorMessage":"slow down"}',
      ) as never,
    });
    const out: string[] = [];
    // Act
    const code = await runBackfill(target(), { ...options, dryRun: false }, (l) => out.push(l));
    // Assess
    expect(code).toBe(1);
    expect(out).toContain(`failed: ${KEY}: failed: TransientFormatError: slow down`);
  });
});
