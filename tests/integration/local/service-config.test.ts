import { resolve } from 'node:path';
import { loadServiceConfig } from '../../../local/service-config';
import { deriveWiring, type Wiring } from '../../../local/wiring';
import { FIXTURE, FIXTURE_DIR } from './harness';

const ROOT = resolve(__dirname, '../../..');

describe('wiring derived from serverless.yml through `sls print`', () => {
  describe('the project serverless.yml at stage local', () => {
    let wiring: Wiring;

    beforeAll(async () => {
      wiring = deriveWiring(await loadServiceConfig({ serviceDir: ROOT, stage: 'local' }));
    }, 60_000);

    it('has the data bucket and the clicks stream', () => {
      expect(wiring.buckets.map((b) => b.name)).toEqual(['logbase-local-data']);
      expect(wiring.streams).toEqual([
        {
          logicalId: 'ClicksStream',
          name: 'logbase-local-clicks',
          arn: 'arn:aws:kinesis:ap-northeast-1:000000000000:stream/logbase-local-clicks',
          shardCount: 1,
        },
      ]);
    });

    it('has the events (DirectPut) and clicks (from the clicks stream) delivery streams, gzip under raw/', () => {
      const byName = Object.fromEntries(wiring.deliveryStreams.map((d) => [d.name, d]));
      expect(Object.keys(byName).sort()).toEqual(['logbase-local-clicks', 'logbase-local-events']);
      expect(byName['logbase-local-events']).toMatchObject({
        type: 'DirectPut',
        bucket: 'logbase-local-data',
        prefix: 'raw/events/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/',
        compression: 'GZIP',
        sizeInMBs: 1,
        intervalInSeconds: 5,
      });
      expect(byName['logbase-local-clicks']).toMatchObject({
        type: 'KinesisStreamAsSource',
        sourceStream: 'logbase-local-clicks',
        bucket: 'logbase-local-data',
        prefix: 'raw/clicks/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/',
        compression: 'GZIP',
      });
    });

    it('has the UserVectors, ArticleVectors and Recommendations tables with their keys', () => {
      const keys = Object.fromEntries(wiring.tables.map((t) => [t.name, t.createTable.KeySchema]));
      expect(keys).toEqual({
        'logbase-local-UserVectors': [{ AttributeName: 'user_id', KeyType: 'HASH' }],
        'logbase-local-ArticleVectors': [{ AttributeName: 'article_id', KeyType: 'HASH' }],
        'logbase-local-Recommendations': [{ AttributeName: 'user_id', KeyType: 'HASH' }],
      });
      for (const table of wiring.tables) expect(table.createTable.BillingMode).toBe('PAY_PER_REQUEST');
    });
  });

  describe('the wiring fixture', () => {
    let wiring: Wiring;

    beforeAll(async () => {
      wiring = deriveWiring(await loadServiceConfig({ serviceDir: FIXTURE_DIR, stage: 'local' }));
    }, 60_000);

    it('subscribes onRawObject to objects created under raw/ ending in .json, onGuardedObject under guarded/', () => {
      expect(wiring.s3Subscriptions).toEqual([
        {
          functionKey: 'onRawObject',
          functionName: 'wiring-local-onRawObject',
          bucket: FIXTURE.bucket,
          event: 's3:ObjectCreated:*',
          prefix: 'raw/',
          suffix: '.json',
        },
        {
          functionKey: 'onGuardedObject',
          functionName: 'wiring-local-onGuardedObject',
          bucket: FIXTURE.bucket,
          event: 's3:ObjectCreated:*',
          prefix: 'guarded/',
        },
      ]);
    });

    it("gives onGuardedObject its queue destination and resolves its environment's Ref to a queue and a topic", () => {
      const guarded = wiring.functions.find((f) => f.key === 'onGuardedObject');
      expect(guarded).toMatchObject({
        arn: 'arn:aws:lambda:ap-northeast-1:000000000000:function:wiring-local-onGuardedObject',
        asyncRetries: 2,
        onFailure: { type: 'sqs', arn: `arn:aws:sqs:ap-northeast-1:000000000000:${FIXTURE.onFailureQueue}` },
      });
      expect(guarded?.environment.ON_FAILURE_QUEUE_URL).toBe(
        `https://sqs.ap-northeast-1.amazonaws.com/000000000000/${FIXTURE.onFailureQueue}`,
      );
      expect(guarded?.environment.ALERTS_TOPIC_ARN).toBe(
        `arn:aws:sns:ap-northeast-1:000000000000:${FIXTURE.alertsTopic}`,
      );
      expect(wiring.functions.find((f) => f.key === 'onRawObject')?.onFailure).toBeUndefined();
    });

    it('has the on-failure queue, and the alerts topic fanned out to its inbox queue with raw delivery', () => {
      expect(wiring.queues.map((q) => [q.name, q.attributes])).toEqual([
        [FIXTURE.onFailureQueue, { MessageRetentionPeriod: '1209600' }],
        [FIXTURE.alertsInbox, {}],
      ]);
      expect(wiring.topics.map((t) => t.arn)).toEqual([
        `arn:aws:sns:ap-northeast-1:000000000000:${FIXTURE.alertsTopic}`,
      ]);
      expect(wiring.topicSubscriptions).toEqual([
        {
          source: 'AlertsInboxSubscription',
          topicArn: `arn:aws:sns:ap-northeast-1:000000000000:${FIXTURE.alertsTopic}`,
          protocol: 'sqs',
          endpoint: `arn:aws:sqs:ap-northeast-1:000000000000:${FIXTURE.alertsInbox}`,
          attributes: { RawMessageDelivery: 'true' },
        },
      ]);
    });

    it('subscribes onRecords and onGuardedRecords to their streams with batch size, position, retries, item failures and destination', () => {
      expect(wiring.streamSubscriptions).toEqual([
        {
          functionKey: 'onRecords',
          functionName: 'wiring-local-onRecords',
          streamName: FIXTURE.stream,
          streamArn: `arn:aws:kinesis:ap-northeast-1:000000000000:stream/${FIXTURE.stream}`,
          batchSize: 3,
          startingPosition: 'TRIM_HORIZON',
          reportBatchItemFailures: true,
          maximumRetryAttempts: 2,
        },
        {
          functionKey: 'onGuardedRecords',
          functionName: 'wiring-local-onGuardedRecords',
          streamName: FIXTURE.guardedStream,
          streamArn: `arn:aws:kinesis:ap-northeast-1:000000000000:stream/${FIXTURE.guardedStream}`,
          batchSize: 3,
          startingPosition: 'TRIM_HORIZON',
          reportBatchItemFailures: false,
          maximumRetryAttempts: 1,
          onFailure: {
            type: 'sqs',
            arn: `arn:aws:sqs:ap-northeast-1:000000000000:${FIXTURE.onFailureQueue}`,
          },
        },
      ]);
    });

    it('resolves the GetAtt ARNs of the delivery streams to their bucket and source stream', () => {
      const fromStream = wiring.deliveryStreams.find((d) => d.name === FIXTURE.fromStream);
      expect(fromStream).toMatchObject({
        sourceStream: FIXTURE.stream,
        bucket: FIXTURE.bucket,
        intervalInSeconds: 1,
      });
      expect(wiring.tables[0]?.createTable.GlobalSecondaryIndexes).toEqual([
        {
          IndexName: 'by-kind',
          KeySchema: [{ AttributeName: 'kind', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ]);
    });
  });
});
