import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { kinesisClient } from '../../../lib/aws/clients';
import { dataDirLayout } from '../../../local/data-dir';
import { startEmulators } from '../../../local/emulators';

describe('stopping the emulators while requests are in flight', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'logbase-emulators-stop-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('answers the GetRecords calls its clients already aborted before kinesalite closes its database', async () => {
    // Prepare: a stream with records, and a process-level catch for what the emulator would throw
    const layout = dataDirLayout(root);
    for (const dir of [layout.s3, layout.kinesis, layout.dynamodb]) await mkdir(dir, { recursive: true });
    const emulators = await startEmulators({
      host: '127.0.0.1',
      ports: { s3: 0, kinesis: 0, dynamodb: 0 },
      layout,
      onObjectChange: () => undefined,
    });
    const env = {
      LOGBASE_LOCAL: 'true',
      AWS_ENDPOINT_URL_KINESIS: `http://127.0.0.1:${emulators.ports.kinesis}`,
    };
    const kinesis = kinesisClient(env, { maxAttempts: 1 });
    await kinesis.send(new CreateStreamCommand({ StreamName: 's', ShardCount: 1 }));
    let shardId: string | undefined;
    while (!shardId) {
      const out = await kinesis.send(new DescribeStreamCommand({ StreamName: 's' }));
      if (out.StreamDescription?.StreamStatus === 'ACTIVE')
        shardId = out.StreamDescription.Shards?.[0]?.ShardId;
    }
    await kinesis.send(
      new PutRecordsCommand({
        StreamName: 's',
        Records: Array.from({ length: 200 }, (_, i) => ({
          Data: Buffer.alloc(1_000, i),
          PartitionKey: `k${i}`,
        })),
      }),
    );
    const { ShardIterator } = await kinesis.send(
      new GetShardIteratorCommand({ StreamName: 's', ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    const thrown: unknown[] = [];
    const onUncaught = (error: unknown) => thrown.push(error);
    process.on('uncaughtException', onUncaught);

    // Act: 30 reads in flight, aborted by their client, then the stop
    const abort = new AbortController();
    const reads = Array.from({ length: 30 }, () =>
      kinesis.send(new GetRecordsCommand({ ShardIterator }), { abortSignal: abort.signal }),
    );
    await new Promise((resolve) => setTimeout(resolve, 15));
    abort.abort();
    await emulators.stop();
    await Promise.allSettled(reads);
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.off('uncaughtException', onUncaught);
    kinesis.destroy();

    // Assess
    expect(thrown.map(String)).toEqual([]);
  });
});
