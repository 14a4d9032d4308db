import { createHash, randomBytes } from 'node:crypto';
import type { S3Subscription } from '../wiring';

/** What the S3 emulator reports for one change to a bucket. */
export interface ObjectChange {
  bucket: string;
  /** The key as stored (not encoded). */
  key: string;
  /** Without the `s3:` prefix, e.g. `ObjectCreated:Put`. */
  eventName: string;
  size?: number;
  eTag?: string;
  sourceIp: string;
}

/**
 * Encodes an object key the way S3 event notifications do: form-URL-encoding of each path segment (space as
 * `+`, `=` as `%3D`, `+` as `%2B`), with `/` kept. Decode with `decodeURIComponent(key.replace(/\+/g, ' '))`.
 */
export function encodeS3EventKey(key: string): string {
  return key
    .split('/')
    .map((segment) =>
      encodeURIComponent(segment)
        .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
        .replace(/%20/g, '+'),
    )
    .join('/');
}

/**
 * True when a subscription wants this change: same bucket, an event type it lists (`s3:ObjectCreated:*`
 * covers every ObjectCreated:<how>), and prefix/suffix rules matched against the encoded key, as S3 does
 * (rules with a space or special characters must be written URL-encoded in serverless.yml).
 */
export function subscriptionMatches(sub: S3Subscription, change: ObjectChange): boolean {
  if (sub.bucket !== change.bucket) return false;
  const wanted = sub.event.replace(/^s3:/, '');
  const eventMatches = wanted.endsWith(':*')
    ? change.eventName.startsWith(wanted.slice(0, -1))
    : wanted === change.eventName;
  if (!eventMatches) return false;
  const key = encodeS3EventKey(change.key);
  return (!sub.prefix || key.startsWith(sub.prefix)) && (!sub.suffix || key.endsWith(sub.suffix));
}

let lastSequencer = 0n;

/** A sequencer that grows with every event in this process, like S3's per-key ordering token (hex). */
export function nextSequencer(now = Date.now()): string {
  const candidate = BigInt(now) << 16n;
  lastSequencer = candidate > lastSequencer ? candidate : lastSequencer + 1n;
  return lastSequencer.toString(16).toUpperCase().padStart(16, '0');
}

const randomId = (bytes: number) => randomBytes(bytes).toString('hex').toUpperCase();

/** The S3 event a Lambda receives for one change: `{ Records: [ ... ] }` in the 2.1 event format. */
export function s3Event(change: ObjectChange, region: string, configurationId: string, now = new Date()) {
  const object: Record<string, unknown> = { key: encodeS3EventKey(change.key) };
  if (change.size !== undefined) object.size = change.size;
  if (change.eTag !== undefined) object.eTag = change.eTag;
  object.sequencer = nextSequencer(now.getTime());
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: region,
        eventTime: now.toISOString(),
        eventName: change.eventName,
        userIdentity: { principalId: 'AWS:LOCALPRINCIPAL' },
        requestParameters: { sourceIPAddress: change.sourceIp },
        responseElements: {
          'x-amz-request-id': randomId(8),
          'x-amz-id-2': createHash('sha256').update(randomId(8)).digest('base64'),
        },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId,
          bucket: {
            name: change.bucket,
            ownerIdentity: { principalId: 'LOCALOWNER' },
            arn: `arn:aws:s3:::${change.bucket}`,
          },
          object,
        },
      },
    ],
  };
}
