import { gzipSync } from 'node:zlib';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { runRedriveFormat } from '../../../cli/commands/redrive';
import { passesNow } from '../../../cli/ops/redrive';
import { rawObjectLines } from '../../../cli/traffic/raw-objects';
import type { FormatQuarantineRecord } from '../../../lib/domain/format/records';

const s3Mock = mockClient(S3Client);
const lambdaMock = mockClient(LambdaClient);

const RAW = 'raw/events/dt=2026-03-01/hour=03/a.gz';
const Q = 'quarantine/format/events/dt=2026-03-01/hour=03/a.gz.jsonl.gz';
const good = (rawObjectLines({ lines: 1, seed: 5 }).validLines[0] as string).trimEnd();
const record = (reason: string, raw: string | null): FormatQuarantineRecord =>
  ({
    reason,
    errors: [],
    source: { bucket: 'b', key: RAW, line: 1, byte_offset: null },
    raw,
    raw_encoding: raw === null ? null : 'utf8',
    raw_bytes: raw?.length ?? 0,
    raw_truncated: false,
  }) as FormatQuarantineRecord;
const records = [record('unknown_version', good), record('invalid_json', '{"a":')];

const target = () => ({
  s3: new S3Client({ region: 'ap-northeast-1' }),
  lambda: new LambdaClient({ region: 'ap-northeast-1' }),
  bucket: 'b',
  formatter: 'logbase-dev-formatParquet',
  region: 'ap-northeast-1',
  stage: 'dev',
});

beforeEach(() => {
  s3Mock.reset();
  lambdaMock.reset();
  s3Mock.on(ListObjectsV2Command).resolves({});
  s3Mock
    .on(ListObjectsV2Command, { Prefix: 'quarantine/format/events/dt=2026-03-01/hour=03/' })
    .resolves({ Contents: [{ Key: Q, Size: 10 }] });
  s3Mock.on(ListObjectsV2Command, { Prefix: RAW }).resolves({ Contents: [{ Key: RAW, Size: 99 }] });
  const gz = gzipSync(records.map((r) => JSON.stringify(r)).join('\n'));
  s3Mock
    .on(GetObjectCommand, { Key: Q })
    .resolves({ Body: { transformToByteArray: async () => gz } as never });
  s3Mock.on(GetObjectCommand, { Key: 'lake/_manifests/events/dt=2026-03-01/hour=03/a.gz.json' }).resolves({
    Body: {
      transformToString: async () => JSON.stringify({ quarantined_by_reason: { invalid_json: 1 } }),
    } as never,
  });
  s3Mock.on(PutObjectCommand).resolves({});
  lambdaMock.on(InvokeCommand).resolves({ Payload: new TextEncoder().encode('{"objects":1}') as never });
});

const hours = { from: '2026-03-01T03', to: '2026-03-01T03', concurrency: 1 };

describe('logbase redrive format (the command on mocked clients)', () => {
  it('passes a stored line the registry accepts and refuses a broken or missing one', () => {
    // Act / Assess
    expect(passesNow(record('unknown_version', good))).toBe(true);
    expect(passesNow(record('invalid_json', '{"a":'))).toBe(false);
    expect(passesNow(record('invalid_utf8', null))).toBe(false);
  });

  it('counts what would pass now on --dry-run and formats nothing', async () => {
    // Prepare
    const out: string[] = [];
    // Act
    const code = await runRedriveFormat(target(), { ...hours, dryRun: true }, (l) => out.push(l));
    // Assess
    expect(code).toBe(0);
    expect(lambdaMock.calls()).toHaveLength(0);
    expect(out.at(-1)).toBe('1 quarantine object(s), 2 line(s): 1 would be redriven, 1 stay');
  });

  it('formats the raw object again, counts per reason from its new manifest and records the run', async () => {
    // Prepare
    const out: string[] = [];
    // Act
    const code = await runRedriveFormat(target(), { ...hours, dryRun: false }, (l) => out.push(l));
    // Assess
    expect(code).toBe(0);
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(1);
    expect(out).toContainEqual(
      expect.stringMatching(/^unknown_version +1 quarantined +1 redriven to the lake +0 stay$/),
    );
    expect(out).toContainEqual(
      expect.stringMatching(/^invalid_json +1 quarantined +0 redriven to the lake +1 stay$/),
    );
    const put = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put?.Key).toMatch(/^ops\/runs\/redrive-format\//);
    expect(JSON.parse(String(put?.Body)).counts.redriven).toEqual({ unknown_version: 1 });
  });

  it('keeps the lines of a raw object that is gone, and says so', async () => {
    // Prepare
    s3Mock.on(ListObjectsV2Command, { Prefix: RAW }).resolves({});
    const out: string[] = [];
    // Act
    await runRedriveFormat(target(), { ...hours, dryRun: false }, (l) => out.push(l));
    // Assess
    expect(lambdaMock.calls()).toHaveLength(0);
    expect(out).toContain(`kept: ${RAW} is no longer in the bucket, its lines stay quarantined`);
  });

  it('refuses --from without --to', async () => {
    // Act / Assess
    await expect(
      runRedriveFormat(target(), { from: '2026-03-01T03', dryRun: true, concurrency: 1 }, () => {}),
    ).rejects.toThrow('give both --from and --to, or neither (every hour)');
  });
});
