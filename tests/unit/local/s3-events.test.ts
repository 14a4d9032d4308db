import { encodeS3EventKey, nextSequencer, s3Event, subscriptionMatches } from '../../../local/s3/events';
import type { S3Subscription } from '../../../local/wiring';

const sub = (over: Partial<S3Subscription> = {}): S3Subscription => ({
  functionKey: 'fn',
  functionName: 'svc-local-fn',
  bucket: 'data',
  event: 's3:ObjectCreated:*',
  ...over,
});
const change = (key: string, eventName = 'ObjectCreated:Put') => ({
  bucket: 'data',
  key,
  eventName,
  sourceIp: '127.0.0.1',
});

describe('encodeS3EventKey', () => {
  it.each([
    ['raw/events/dt=2026-11-26/hour=08/a b.gz', 'raw/events/dt%3D2026-11-26/hour%3D08/a+b.gz'],
    ['a+b/c&d?e#f', 'a%2Bb/c%26d%3Fe%23f'],
    ["it's (1)!~*", 'it%27s+%281%29%21%7E*'],
    ['日本/ü.json', '%E6%97%A5%E6%9C%AC/%C3%BC.json'],
  ])('encodes %s as %s, keeping the slashes', (key, encoded) => {
    expect(encodeS3EventKey(key)).toBe(encoded);
    expect(decodeURIComponent(encoded.replace(/\+/g, ' '))).toBe(key);
  });
});

describe('subscriptionMatches', () => {
  it('matches ObjectCreated:* against every way an object is created, and nothing else', () => {
    for (const name of ['Put', 'Post', 'Copy', 'CompleteMultipartUpload']) {
      expect(subscriptionMatches(sub(), change('k', `ObjectCreated:${name}`))).toBe(true);
    }
    expect(subscriptionMatches(sub(), change('k', 'ObjectRemoved:Delete'))).toBe(false);
  });

  it('matches an exact event name only', () => {
    expect(
      subscriptionMatches(sub({ event: 's3:ObjectCreated:Put' }), change('k', 'ObjectCreated:Copy')),
    ).toBe(false);
    expect(subscriptionMatches(sub({ event: 's3:ObjectCreated:Put' }), change('k'))).toBe(true);
  });

  it('applies prefix and suffix rules to the encoded key, as S3 does', () => {
    const rules = sub({ prefix: 'raw/dt%3D', suffix: '.json' });
    expect(subscriptionMatches(rules, change('raw/dt=1/a.json'))).toBe(true);
    expect(subscriptionMatches(rules, change('raw/dt=1/a.txt'))).toBe(false);
    expect(subscriptionMatches(rules, change('lake/dt=1/a.json'))).toBe(false);
  });

  it('ignores other buckets', () => {
    expect(subscriptionMatches(sub(), { ...change('k'), bucket: 'other' })).toBe(false);
  });
});

describe('s3Event', () => {
  it('builds a 2.1 event with the encoded key, size, eTag and a growing sequencer', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const event = s3Event({ ...change('a b'), size: 3, eTag: 'e' }, 'eu-west-1', 'cfg', now);
    expect(event.Records[0]).toMatchObject({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'eu-west-1',
      eventTime: '2026-01-01T00:00:00.000Z',
      eventName: 'ObjectCreated:Put',
      s3: {
        configurationId: 'cfg',
        bucket: { name: 'data', arn: 'arn:aws:s3:::data' },
        object: { key: 'a+b', size: 3, eTag: 'e' },
      },
    });
    const a = nextSequencer(now.getTime());
    const b = nextSequencer(now.getTime());
    expect(BigInt(`0x${b}`)).toBeGreaterThan(BigInt(`0x${a}`));
  });
});
