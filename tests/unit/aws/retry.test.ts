import {
  backoffDelay,
  isRetryableError,
  type RecordOutcome,
  type RetryOptions,
  writeWithRetry,
} from '../../../lib/aws/retry';
import { type BatchRecord, FIREHOSE_BATCH_LIMITS } from '../../../lib/domain/batches';

function records(count: number): BatchRecord[] {
  return Array.from({ length: count }, (_, index) => ({
    index,
    eventId: `e-${index}`,
    userId: 'u-1',
    data: Buffer.from(`{"n":${index}}\n`),
  }));
}

/** A fake clock: sleeping moves time forward, and every sleep is recorded. */
function fakeClock(start = 1_000_000) {
  let now = start;
  const sleeps: number[] = [];
  const options: Omit<RetryOptions, 'deadline'> = {
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    random: () => 0.5,
  };
  return { options, sleeps, start, advance: (ms: number) => (now += ms) };
}

const ok = (): RecordOutcome => ({ ok: true });
const throttled = (): RecordOutcome => ({
  ok: false,
  errorCode: 'ServiceUnavailableException',
  errorMessage: 'Slow down.',
});

function awsError(name: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name} happened`), { name, ...extra });
}

describe('writeWithRetry', () => {
  it('sends again only the records that failed, until all are written', async () => {
    // Prepare
    const clock = fakeClock();
    const sent: number[][] = [];
    const failuresLeft = new Map([
      [1, 2],
      [3, 1],
    ]);
    const send = async (batch: BatchRecord[]) => {
      sent.push(batch.map((r) => r.index));
      return batch.map((r) => {
        const left = failuresLeft.get(r.index) ?? 0;
        failuresLeft.set(r.index, left - 1);
        return left > 0 ? throttled() : ok();
      });
    };

    // Act
    const result = await writeWithRetry(records(5), FIREHOSE_BATCH_LIMITS, send, {
      ...clock.options,
      deadline: clock.start + 10_000,
    });

    // Assess
    expect(sent).toEqual([[0, 1, 2, 3, 4], [1, 3], [1]]);
    expect(result).toEqual({ written: [0, 1, 2, 3, 4], failed: [] });
  });

  it('stops after the attempt limit and reports the last error of each record still failing', async () => {
    // Prepare
    const clock = fakeClock();
    let calls = 0;
    const send = async (batch: BatchRecord[]) => {
      calls += 1;
      return batch.map(() => ({
        ok: false as const,
        errorCode: 'InternalFailure',
        errorMessage: `call ${calls}`,
      }));
    };

    // Act
    const result = await writeWithRetry(records(2), FIREHOSE_BATCH_LIMITS, send, {
      ...clock.options,
      maxAttempts: 3,
      deadline: clock.start + 60_000,
    });

    // Assess
    expect(calls).toBe(3);
    expect(result.written).toEqual([]);
    expect(result.failed.map((f) => [f.index, f.errorCode, f.errorMessage])).toEqual([
      [0, 'InternalFailure', 'call 3'],
      [1, 'InternalFailure', 'call 3'],
    ]);
  });

  it('retries the whole batch when the call is throttled', async () => {
    // Prepare
    const clock = fakeClock();
    const sent: number[][] = [];
    const send = async (batch: BatchRecord[]) => {
      sent.push(batch.map((r) => r.index));
      if (sent.length === 1) throw awsError('ThrottlingException', { $retryable: { throttling: true } });
      return batch.map(ok);
    };

    // Act
    const result = await writeWithRetry(records(3), FIREHOSE_BATCH_LIMITS, send, {
      ...clock.options,
      deadline: clock.start + 10_000,
    });

    // Assess
    expect(sent).toEqual([
      [0, 1, 2],
      [0, 1, 2],
    ]);
    expect(result).toEqual({ written: [0, 1, 2], failed: [] });
  });

  it('does not retry a call that failed for a reason a retry cannot fix', async () => {
    // Prepare
    const clock = fakeClock();
    const send = jest.fn(async () => {
      throw awsError('ResourceNotFoundException', { $metadata: { httpStatusCode: 400 } });
    });

    // Act
    const result = await writeWithRetry(records(2), FIREHOSE_BATCH_LIMITS, send, {
      ...clock.options,
      deadline: clock.start + 10_000,
    });

    // Assess
    expect(send).toHaveBeenCalledTimes(1);
    expect(result.failed).toEqual([
      {
        index: 0,
        eventId: 'e-0',
        errorCode: 'ResourceNotFoundException',
        errorMessage: 'ResourceNotFoundException happened',
      },
      {
        index: 1,
        eventId: 'e-1',
        errorCode: 'ResourceNotFoundException',
        errorMessage: 'ResourceNotFoundException happened',
      },
    ]);
  });

  it('waits with growing, jittered backoff between attempts', async () => {
    // Prepare
    const clock = fakeClock();
    const send = async (batch: BatchRecord[]) => batch.map(throttled);

    // Act
    await writeWithRetry(records(1), FIREHOSE_BATCH_LIMITS, send, {
      ...clock.options,
      maxAttempts: 5,
      baseDelayMs: 100,
      maxDelayMs: 500,
      deadline: clock.start + 60_000,
    });

    // Assess: random() = 0.5 of min(500, 100 * 2^(n-1)).
    expect(clock.sleeps).toEqual([50, 100, 200, 250]);
  });

  it('gives up instead of waiting past the deadline', async () => {
    // Prepare
    const clock = fakeClock();
    const send = jest.fn(async (batch: BatchRecord[]) => batch.map(throttled));

    // Act
    const result = await writeWithRetry(records(1), FIREHOSE_BATCH_LIMITS, send, {
      ...clock.options,
      maxAttempts: 10,
      baseDelayMs: 100,
      maxDelayMs: 10_000,
      deadline: clock.start + 400,
    });

    // Assess: waits 50, 100 (t=150), then a 200 ms wait would end at t=350 < 400: sent; the next 400 would pass it.
    expect(clock.sleeps).toEqual([50, 100, 200]);
    expect(send).toHaveBeenCalledTimes(4);
    expect(result.failed).toEqual([
      { index: 0, eventId: 'e-0', errorCode: 'ServiceUnavailableException', errorMessage: 'Slow down.' },
    ]);
  });

  it('sends nothing when the deadline has already passed', async () => {
    // Prepare
    const clock = fakeClock();
    const send = jest.fn(async (batch: BatchRecord[]) => batch.map(ok));

    // Act
    const result = await writeWithRetry(records(2), FIREHOSE_BATCH_LIMITS, send, {
      ...clock.options,
      deadline: clock.start - 1,
    });

    // Assess
    expect(send).not.toHaveBeenCalled();
    expect(result.failed.map((f) => f.errorCode)).toEqual(['DeadlineExceeded', 'DeadlineExceeded']);
  });

  it('counts a record the service gave no answer for as failed', async () => {
    // Prepare
    const clock = fakeClock();
    const send = async () => [ok()];

    // Act
    const result = await writeWithRetry(records(2), FIREHOSE_BATCH_LIMITS, send, {
      ...clock.options,
      maxAttempts: 1,
      deadline: clock.start + 10_000,
    });

    // Assess
    expect(result.written).toEqual([0]);
    expect(result.failed.map((f) => [f.index, f.errorCode])).toEqual([[1, 'MissingResponse']]);
  });
});

describe('backoffDelay', () => {
  it('is a random share of base * 2^(retry - 1), capped', () => {
    // Act and Assess
    expect(backoffDelay(1, 50, 1_000, () => 0)).toBe(0);
    expect(backoffDelay(3, 50, 1_000, () => 0.999)).toBe(199);
    expect(backoffDelay(10, 50, 1_000, () => 0.5)).toBe(500);
  });
});

describe('isRetryableError', () => {
  it.each([
    ['throttling flagged by the SDK', awsError('Anything', { $retryable: { throttling: true } })],
    ['a server fault', awsError('InternalFailure', { $fault: 'server', $metadata: { httpStatusCode: 500 } })],
    ['another 5xx', awsError('NotImplemented', { $fault: 'server', $metadata: { httpStatusCode: 501 } })],
    ['a Firehose 503', awsError('ServiceUnavailableException', { $metadata: { httpStatusCode: 503 } })],
    ['an HTTP 429', awsError('Unknown', { $metadata: { httpStatusCode: 429 } })],
    ['a timeout', awsError('TimeoutError')],
    ['an HTTP 503', awsError('Unknown', { $metadata: { httpStatusCode: 503 } })],
    ['a Kinesis throughput error', awsError('ProvisionedThroughputExceededException')],
    ['a reset connection', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
  ])('retries %s', (_, error) => {
    // Act and Assess
    expect(isRetryableError(error)).toBe(true);
  });

  it.each([
    [
      'a missing stream',
      awsError('ResourceNotFoundException', { $fault: 'client', $metadata: { httpStatusCode: 400 } }),
    ],
    ['an access denial', awsError('AccessDeniedException', { $metadata: { httpStatusCode: 403 } })],
    ['a call aborted at the deadline', awsError('AbortError')],
    ['something that is not an error', 'boom'],
  ])('does not retry %s', (_, error) => {
    // Act and Assess
    expect(isRetryableError(error)).toBe(false);
  });
});
