import { gunzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { putQuarantine } from '../../../lib/aws/quarantine';
import { type QuarantineLine, quarantineKey } from '../../../lib/domain/collect-quarantine';

const s3Mock = mockClient(S3Client);
const client = new S3Client({ region: 'ap-northeast-1' });

beforeEach(() => s3Mock.reset());

const line: QuarantineLine = {
  request_id: 'req-1',
  received_at: '2026-11-20T23:59:59.999Z',
  index: 0,
  event_id: 'e-0',
  errors: [{ path: '/tab', message: 'is required' }],
  raw: '{"event_id":"e-0"}',
  raw_encoding: 'utf8',
  source: { ip: '203.0.113.24', user_agent: 'test' },
};

describe('putQuarantine', () => {
  it('writes the lines as one gzip JSON-lines object at the given key', async () => {
    // Prepare
    s3Mock.on(PutObjectCommand).resolves({});
    const key = quarantineKey('req-1', new Date(line.received_at));

    // Act
    await putQuarantine(client, 'logbase-test-data', key, [line, { ...line, index: 1 }]);

    // Assess
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 1);
    const input = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      Bucket: 'logbase-test-data',
      Key: 'quarantine/collect/dt=2026-11-20/hour=23/req-1.jsonl.gz',
      ContentType: 'application/gzip',
    });
    const text = gunzipSync(input?.Body as Buffer).toString('utf8');
    expect(text.split('\n')).toEqual([JSON.stringify(line), JSON.stringify({ ...line, index: 1 }), '']);
  });

  it('passes S3 errors on to the caller', async () => {
    // Prepare
    s3Mock.on(PutObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));

    // Act and Assess
    await expect(putQuarantine(client, 'b', 'k', [line])).rejects.toThrow('Access Denied');
  });
});
