import { WiringError } from '../../../local/errors';
import type { PrintedService } from '../../../local/service-config';
import { deriveWiring, nameFromArn } from '../../../local/wiring';

/** A printed config (the shape `sls print --format json` gives) with the given resources and functions. */
function printed(
  resources: Record<string, unknown>,
  functions: Record<string, unknown> = {},
): PrintedService {
  return structuredClone({
    service: 'svc',
    provider: { stage: 'local', region: 'eu-west-1', environment: { SHARED: 'yes', COUNT: 3 } },
    functions,
    resources: { Resources: resources },
  }) as PrintedService;
}

const bucket = { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'svc-data' } };
const stream = { Type: 'AWS::Kinesis::Stream', Properties: { Name: 'svc-stream', ShardCount: '2' } };
const queue = { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'svc-failures' } };
const topic = { Type: 'AWS::SNS::Topic', Properties: { TopicName: 'svc-alerts' } };

describe('deriveWiring', () => {
  it('resolves Ref, Fn::GetAtt, Fn::Sub and Fn::Join against the logical resources', () => {
    // Prepare
    const config = printed({
      Bucket: bucket,
      Stream: stream,
      Delivery: {
        Type: 'AWS::KinesisFirehose::DeliveryStream',
        Properties: {
          DeliveryStreamName: { 'Fn::Join': ['-', [{ Ref: 'Stream' }, 'delivery']] },
          DeliveryStreamType: 'KinesisStreamAsSource',
          KinesisStreamSourceConfiguration: { KinesisStreamARN: { 'Fn::GetAtt': ['Stream', 'Arn'] } },
          ExtendedS3DestinationConfiguration: {
            // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub template
            BucketARN: { 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${Bucket}' },
            // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub template
            Prefix: { 'Fn::Sub': ['in/${Region}/', { Region: { Ref: 'AWS::Region' } }] },
          },
        },
      },
    });

    // Act
    const wiring = deriveWiring(config);

    // Assess
    expect(wiring.deliveryStreams).toEqual([
      {
        logicalId: 'Delivery',
        name: 'svc-stream-delivery',
        arn: 'arn:aws:firehose:eu-west-1:000000000000:deliverystream/svc-stream-delivery',
        type: 'KinesisStreamAsSource',
        sourceStream: 'svc-stream',
        bucket: 'svc-data',
        bucketArn: 'arn:aws:s3:::svc-data',
        prefix: 'in/eu-west-1/',
        errorOutputPrefix: '',
        sizeInMBs: 5,
        intervalInSeconds: 300,
        compression: 'UNCOMPRESSED',
      },
    ]);
    expect(wiring.streams).toEqual([
      {
        logicalId: 'Stream',
        name: 'svc-stream',
        arn: 'arn:aws:kinesis:eu-west-1:000000000000:stream/svc-stream',
        shardCount: 2,
      },
    ]);
  });

  it('applies the AWS defaults of stream events: batch 100, TRIM_HORIZON, unlimited retries, no item failures', () => {
    // Prepare
    const config = printed(
      { Stream: stream },
      { consume: { events: [{ stream: { arn: { 'Fn::GetAtt': ['Stream', 'Arn'] } } }] } },
    );

    // Act
    const [sub] = deriveWiring(config).streamSubscriptions;

    // Assess
    expect(sub).toEqual({
      functionKey: 'consume',
      functionName: 'svc-local-consume',
      streamName: 'svc-stream',
      streamArn: 'arn:aws:kinesis:eu-west-1:000000000000:stream/svc-stream',
      batchSize: 100,
      startingPosition: 'TRIM_HORIZON',
      reportBatchItemFailures: false,
      maximumRetryAttempts: -1,
    });
  });

  it('skips disabled and DynamoDB stream events with a warning', () => {
    // Prepare
    const config = printed(
      { Stream: stream },
      {
        off: { events: [{ stream: { arn: { 'Fn::GetAtt': ['Stream', 'Arn'] }, enabled: false } }] },
        ddb: {
          events: [{ stream: { type: 'dynamodb', arn: 'arn:aws:dynamodb:eu-west-1:1:table/t/stream/x' } }],
        },
      },
    );

    // Act
    const wiring = deriveWiring(config);

    // Assess
    expect(wiring.streamSubscriptions).toEqual([]);
    expect(wiring.warnings).toEqual([
      expect.stringContaining('subscription of off is disabled'),
      expect.stringContaining('DynamoDB stream subscriptions are not emulated'),
    ]);
  });

  it('reads s3 events in both forms and creates a bucket that only an s3 event names', () => {
    // Prepare
    const config = printed(
      { Bucket: bucket },
      {
        short: { name: 'custom-name', events: [{ s3: 'uploads' }] },
        long: {
          events: [
            {
              s3: {
                bucket: 'svc-data',
                event: 's3:ObjectCreated:Put',
                existing: true,
                rules: [{ prefix: 'raw/' }, { suffix: '.gz' }],
              },
            },
          ],
        },
      },
    );

    // Act
    const wiring = deriveWiring(config);

    // Assess
    expect(wiring.s3Subscriptions).toEqual([
      { functionKey: 'short', functionName: 'custom-name', bucket: 'uploads', event: 's3:ObjectCreated:*' },
      {
        functionKey: 'long',
        functionName: 'svc-local-long',
        bucket: 'svc-data',
        event: 's3:ObjectCreated:Put',
        prefix: 'raw/',
        suffix: '.gz',
      },
    ]);
    expect(wiring.buckets).toEqual([
      { source: 'Bucket', name: 'svc-data' },
      { source: 'function:short', name: 'uploads' },
    ]);
  });

  it('gives each function its name and provider + function environment as strings', () => {
    const wiring = deriveWiring(printed({}, { fn: { environment: { OWN: 'x', COUNT: 4 } } }));
    expect(wiring.functions).toEqual([
      {
        key: 'fn',
        name: 'svc-local-fn',
        arn: 'arn:aws:lambda:eu-west-1:000000000000:function:svc-local-fn',
        environment: { SHARED: 'yes', COUNT: '4', OWN: 'x' },
        asyncRetries: 2,
      },
    ]);
  });

  it('resolves Ref and Fn::GetAtt of queues and topics in a function environment as CloudFormation does', () => {
    // Prepare
    const config = printed(
      { Queue: queue, Topic: topic },
      {
        fn: {
          environment: {
            QUEUE_URL: { Ref: 'Queue' },
            QUEUE_ARN: { 'Fn::GetAtt': ['Queue', 'Arn'] },
            QUEUE_NAME: { 'Fn::GetAtt': ['Queue', 'QueueName'] },
            TOPIC_ARN: { Ref: 'Topic' },
            TOPIC_NAME: { 'Fn::GetAtt': ['Topic', 'TopicName'] },
            IMPORTED: { 'Fn::ImportValue': 'elsewhere' },
          },
        },
      },
    );

    // Act
    const wiring = deriveWiring(config);

    // Assess
    expect(wiring.functions[0]?.environment).toEqual({
      SHARED: 'yes',
      COUNT: '3',
      QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/000000000000/svc-failures',
      QUEUE_ARN: 'arn:aws:sqs:eu-west-1:000000000000:svc-failures',
      QUEUE_NAME: 'svc-failures',
      TOPIC_ARN: 'arn:aws:sns:eu-west-1:000000000000:svc-alerts',
      TOPIC_NAME: 'svc-alerts',
    });
    expect(wiring.warnings).toEqual([
      'functions.fn.environment.IMPORTED is left out locally: functions.fn.environment.IMPORTED: Fn::ImportValue is not supported by the local stack',
    ]);
  });

  it('reads queues with their attributes as strings (RedrivePolicy as JSON), topics and their sqs subscriptions', () => {
    // Prepare
    const config = printed({
      Dlq: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'svc-dlq' } },
      Queue: {
        Type: 'AWS::SQS::Queue',
        Properties: {
          QueueName: 'svc-work',
          VisibilityTimeout: 60,
          RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] }, maxReceiveCount: 3 },
          SqsManagedSseEnabled: true,
        },
      },
      Topic: {
        Type: 'AWS::SNS::Topic',
        Properties: {
          TopicName: 'svc-alerts',
          Subscription: [
            { Protocol: 'sqs', Endpoint: { 'Fn::GetAtt': ['Dlq', 'Arn'] } },
            { Protocol: 'email', Endpoint: 'ops@example.com' },
          ],
        },
      },
      Subscription: {
        Type: 'AWS::SNS::Subscription',
        Properties: {
          TopicArn: { Ref: 'Topic' },
          Protocol: 'sqs',
          Endpoint: { 'Fn::GetAtt': ['Queue', 'Arn'] },
          FilterPolicy: { kind: ['disk'] },
          RawMessageDelivery: true,
        },
      },
    });

    // Act
    const wiring = deriveWiring(config);

    // Assess
    expect(wiring.queues.map((q) => [q.name, q.attributes])).toEqual([
      ['svc-dlq', {}],
      [
        'svc-work',
        {
          VisibilityTimeout: '60',
          RedrivePolicy:
            '{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:000000000000:svc-dlq","maxReceiveCount":3}',
        },
      ],
    ]);
    expect(wiring.topics).toEqual([
      {
        logicalId: 'Topic',
        name: 'svc-alerts',
        arn: 'arn:aws:sns:eu-west-1:000000000000:svc-alerts',
        attributes: {},
      },
    ]);
    expect(wiring.topicSubscriptions).toEqual([
      {
        source: 'Topic.Subscription[0]',
        topicArn: 'arn:aws:sns:eu-west-1:000000000000:svc-alerts',
        protocol: 'sqs',
        endpoint: 'arn:aws:sqs:eu-west-1:000000000000:svc-dlq',
        attributes: {},
      },
      {
        source: 'Subscription',
        topicArn: 'arn:aws:sns:eu-west-1:000000000000:svc-alerts',
        protocol: 'sqs',
        endpoint: 'arn:aws:sqs:eu-west-1:000000000000:svc-work',
        attributes: { RawMessageDelivery: 'true', FilterPolicy: '{"kind":["disk"]}' },
      },
    ]);
    expect(wiring.warnings).toEqual([
      'resources.Resources.Topic.Properties.Subscription[1]: SNS subscriptions with protocol email are not emulated locally (sqs only)',
    ]);
  });

  it('reads on-failure destinations of functions and stream events, as an ARN or as { type, arn }', () => {
    // Prepare
    const config = printed(
      { Stream: stream, Queue: queue, Topic: topic },
      {
        viaObject: {
          maximumRetryAttempts: 0,
          destinations: { onFailure: { type: 'sqs', arn: { 'Fn::GetAtt': ['Queue', 'Arn'] } } },
        },
        viaArn: { destinations: { onFailure: { Ref: 'Topic' } } },
        toFunction: { destinations: { onFailure: 'viaArn', onSuccess: 'viaArn' } },
        reader: {
          events: [
            {
              stream: {
                arn: { 'Fn::GetAtt': ['Stream', 'Arn'] },
                destinations: { onFailure: 'arn:aws:sqs:eu-west-1:000000000000:svc-failures' },
              },
            },
          ],
        },
      },
    );

    // Act
    const wiring = deriveWiring(config);

    // Assess
    const byKey = Object.fromEntries(wiring.functions.map((f) => [f.key, f]));
    expect(byKey.viaObject).toMatchObject({
      asyncRetries: 0,
      onFailure: { type: 'sqs', arn: 'arn:aws:sqs:eu-west-1:000000000000:svc-failures' },
    });
    expect(byKey.viaArn?.onFailure).toEqual({
      type: 'sns',
      arn: 'arn:aws:sns:eu-west-1:000000000000:svc-alerts',
    });
    expect(byKey.toFunction?.onFailure).toBeUndefined();
    expect(wiring.streamSubscriptions[0]?.onFailure).toEqual({
      type: 'sqs',
      arn: 'arn:aws:sqs:eu-west-1:000000000000:svc-failures',
    });
    expect(wiring.warnings).toEqual([
      'functions.toFunction.destinations.onSuccess is not emulated locally',
      'functions.toFunction.destinations.onFailure: function destinations are not emulated locally (sqs and sns only); viaArn gets nothing',
    ]);
  });

  it('rejects an on-failure destination that is no queue or topic of the resources', () => {
    const config = printed(
      {},
      { fn: { destinations: { onFailure: 'arn:aws:sqs:eu-west-1:000000000000:elsewhere' } } },
    );
    expect(() => deriveWiring(config)).toThrow(
      new WiringError(
        "functions.fn.destinations.onFailure: arn:aws:sqs:eu-west-1:000000000000:elsewhere is no queue or topic of serverless.yml's resources",
      ),
    );
  });

  it('rejects a subscription to a queue the resources do not define', () => {
    const config = printed({
      Topic: topic,
      Sub: {
        Type: 'AWS::SNS::Subscription',
        Properties: {
          TopicArn: { Ref: 'Topic' },
          Protocol: 'sqs',
          Endpoint: 'arn:aws:sqs:eu-west-1:000000000000:nope',
        },
      },
    });
    expect(() => deriveWiring(config)).toThrow(
      /subscription Sub: queue arn:aws:sqs:eu-west-1:000000000000:nope/,
    );
  });

  it('builds CreateTable input with throughput only for PROVISIONED tables', () => {
    // Prepare
    const keys = {
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    };
    const gsi = {
      IndexName: 'g',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      Projection: { ProjectionType: 'ALL' },
    };
    const config = printed({
      OnDemand: {
        Type: 'AWS::DynamoDB::Table',
        Properties: {
          TableName: 'od',
          BillingMode: 'PAY_PER_REQUEST',
          ...keys,
          GlobalSecondaryIndexes: [gsi],
          PointInTimeRecoverySpecification: {},
        },
      },
      Provisioned: {
        Type: 'AWS::DynamoDB::Table',
        Properties: { TableName: 'pr', ...keys, GlobalSecondaryIndexes: [gsi] },
      },
    });

    // Act
    const [od, pr] = deriveWiring(config).tables;

    // Assess
    expect(od?.createTable).toEqual({
      TableName: 'od',
      BillingMode: 'PAY_PER_REQUEST',
      ...keys,
      GlobalSecondaryIndexes: [gsi],
    });
    expect(pr?.createTable.ProvisionedThroughput).toEqual({ ReadCapacityUnits: 5, WriteCapacityUnits: 5 });
    expect(pr?.createTable.GlobalSecondaryIndexes?.[0]).toMatchObject({
      ProvisionedThroughput: { ReadCapacityUnits: 5 },
    });
  });

  it.each([
    [
      'a bucket without BucketName',
      { B: { Type: 'AWS::S3::Bucket', Properties: {} } },
      /BucketName is required locally/,
    ],
    [
      'a delivery stream to a bucket serverless.yml does not define',
      {
        D: {
          Type: 'AWS::KinesisFirehose::DeliveryStream',
          Properties: {
            DeliveryStreamName: 'd',
            ExtendedS3DestinationConfiguration: { BucketARN: 'arn:aws:s3:::elsewhere' },
          },
        },
      },
      /writes to bucket elsewhere, which serverless.yml does not define/,
    ],
    [
      'an unsupported compression format',
      {
        B: bucket,
        D: {
          Type: 'AWS::KinesisFirehose::DeliveryStream',
          Properties: {
            DeliveryStreamName: 'd',
            ExtendedS3DestinationConfiguration: {
              BucketARN: 'arn:aws:s3:::svc-data',
              CompressionFormat: 'Snappy',
            },
          },
        },
      },
      /CompressionFormat Snappy is not supported locally/,
    ],
    [
      'an intrinsic the local stack does not know',
      { B: { Type: 'AWS::S3::Bucket', Properties: { BucketName: { 'Fn::ImportValue': 'x' } } } },
      /Fn::ImportValue is not supported/,
    ],
    [
      'a GetAtt of something other than Arn',
      {
        S: stream,
        B: bucket,
        D: {
          Type: 'AWS::KinesisFirehose::DeliveryStream',
          Properties: {
            DeliveryStreamName: 'd',
            DeliveryStreamType: 'KinesisStreamAsSource',
            KinesisStreamSourceConfiguration: { KinesisStreamARN: { 'Fn::GetAtt': ['S', 'StreamId'] } },
            ExtendedS3DestinationConfiguration: { BucketARN: 'arn:aws:s3:::svc-data' },
          },
        },
      },
      /Fn::GetAtt S.StreamId is not supported locally/,
    ],
  ])('throws a WiringError naming the problem for %s', (_what, resources, message) => {
    const derive = () => deriveWiring(printed(resources));
    expect(derive).toThrow(WiringError);
    expect(derive).toThrow(message);
  });
});

describe('nameFromArn', () => {
  it.each([
    ['arn:aws:s3:::bucket', 'bucket'],
    ['arn:aws:kinesis:eu-west-1:1:stream/clicks', 'clicks'],
    ['arn:aws:dynamodb:eu-west-1:1:table/t', 't'],
  ])('reads %s as %s', (arn, name) => {
    expect(nameFromArn(arn)).toBe(name);
  });

  it('rejects something that is not an ARN', () => {
    expect(() => nameFromArn('bucket')).toThrow(/is not an ARN/);
  });
});
