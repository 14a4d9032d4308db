import {
  athenaClient,
  dynamoDbClient,
  firehoseClient,
  kinesisClient,
  lambdaClient,
  s3Client,
  snsClient,
  sqsClient,
} from '../../../lib/aws/clients';

const LOCAL = {
  LOGBASE_LOCAL: 'true',
  AWS_REGION: 'ap-northeast-1',
  AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:14569',
  AWS_ENDPOINT_URL_KINESIS: 'http://127.0.0.1:14567',
  AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:14568',
  AWS_ENDPOINT_URL_FIREHOSE: 'http://127.0.0.1:14573',
  AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:13002',
  AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:14576',
  AWS_ENDPOINT_URL_SNS: 'http://127.0.0.1:14576',
};

describe('the SDK clients of lib/aws/clients.ts', () => {
  it.each([
    ['S3', s3Client, 'http://127.0.0.1:14569'],
    ['Kinesis', kinesisClient, 'http://127.0.0.1:14567'],
    ['DynamoDB', dynamoDbClient, 'http://127.0.0.1:14568'],
    ['Firehose', firehoseClient, 'http://127.0.0.1:14573'],
    ['Lambda', lambdaClient, 'http://127.0.0.1:13002'],
    ['SQS', sqsClient, 'http://127.0.0.1:14576'],
    ['SNS', snsClient, 'http://127.0.0.1:14576'],
  ])(
    'point %s at the local stack, with dummy credentials, when LOGBASE_LOCAL is true',
    async (_, make, url) => {
      // Act
      const client = make(LOCAL);
      const endpoint = await client.config.endpoint?.();
      const credentials = await client.config.credentials();

      // Assess
      expect(`${endpoint?.protocol}//${endpoint?.hostname}:${endpoint?.port}`).toBe(url);
      expect(credentials.accessKeyId).toBe('local');
      expect(await client.config.maxAttempts()).toBe(3);
      client.destroy();
    },
  );

  it('leave the endpoint to the SDK on AWS', () => {
    const client = firehoseClient({ AWS_REGION: 'ap-northeast-1' });
    expect(client.config.endpoint).toBeUndefined();
    client.destroy();
  });

  it('make one attempt per call for a caller that owns its retries', async () => {
    const firehose = firehoseClient(LOCAL, { maxAttempts: 1 });
    const kinesis = kinesisClient(LOCAL, { maxAttempts: 1 });
    expect([await firehose.config.maxAttempts(), await kinesis.config.maxAttempts()]).toEqual([1, 1]);
    firehose.destroy();
    kinesis.destroy();
  });

  it('address S3 by path locally, as s3rver needs', async () => {
    const client = s3Client(LOCAL);
    expect(client.config.forcePathStyle).toBe(true);
    client.destroy();
  });

  it('leave Athena to the SDK endpoint even locally (there is no Athena emulator), with five attempts', async () => {
    const client = athenaClient();
    expect([client.config.endpoint, await client.config.maxAttempts()]).toEqual([undefined, 5]);
    client.destroy();
  });
});
