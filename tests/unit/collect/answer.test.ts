import type { WriteResult } from '../../../lib/domain/batches';
import type { PreparedRecord, PreparedRequest } from '../../../lib/domain/collect';
import { collectAnswer, malformedBodyAnswer } from '../../../lib/domain/collect-answer';

const record = (index: number, eventType: PreparedRecord['eventType']): PreparedRecord => ({
  index,
  eventId: `e${index}`,
  userId: 'u1',
  eventType,
  data: Buffer.from('{}\n'),
});

/** A request of 5 events: impressions at 0 and 3, clicks at 1 and 4, a rejected event at 2. */
function prepared(): PreparedRequest {
  return {
    format: 'json',
    bytes: 1000,
    eventCount: 5,
    events: [record(0, 'impression'), record(3, 'action')],
    clicks: [record(1, 'click'), record(4, 'click')],
    rejected: [
      {
        index: 2,
        event_id: 'e2',
        event_type: 'impression',
        errors: [{ path: '/position', message: 'must be an integer' }],
        raw: '{}',
      },
    ],
  };
}

const allWritten = (indexes: number[]): WriteResult => ({ written: indexes, failed: [] });

describe('collect answers', () => {
  it('answers 202 with the accepted count and the rejections when everything was stored', () => {
    // Act
    const answer = collectAnswer(
      prepared(),
      { events: allWritten([0, 3]), clicks: allWritten([1, 4]) },
      'req-1',
    );

    // Assess
    expect(answer.status).toBe(202);
    expect(answer.headers).toEqual({});
    expect(answer.body).toEqual({
      accepted: 4,
      rejected: [
        { index: 2, event_id: 'e2', errors: [{ path: '/position', message: 'must be an integer' }] },
      ],
      request_id: 'req-1',
    });
    expect(answer.types).toEqual({
      accepted: ['impression', 'action', 'click', 'click'],
      rejected: ['impression'],
      failed: [],
    });
  });

  it('answers 503 listing, in request order, exactly the events the streams still refused', () => {
    // Prepare
    const events: WriteResult = {
      written: [0],
      failed: [
        { index: 3, eventId: 'e3', errorCode: 'ServiceUnavailableException', errorMessage: 'Slow down.' },
      ],
    };
    const clicks: WriteResult = {
      written: [4],
      failed: [
        {
          index: 1,
          eventId: 'e1',
          errorCode: 'ProvisionedThroughputExceededException',
          errorMessage: 'Rate',
        },
      ],
    };

    // Act
    const answer = collectAnswer(prepared(), { events, clicks }, 'req-2');

    // Assess
    expect(answer.status).toBe(503);
    expect(answer.headers).toEqual({ 'retry-after': '1' });
    expect(answer.body.accepted).toBe(2);
    expect(answer.body.failed).toEqual([
      { index: 1, event_id: 'e1', reason: 'ProvisionedThroughputExceededException: Rate' },
      { index: 3, event_id: 'e3', reason: 'ServiceUnavailableException: Slow down.' },
    ]);
    expect(answer.body.message).toBe(
      '2 of 5 events could not be stored; send the events listed in "failed" again',
    );
    expect(answer.types.failed).toEqual(['click', 'action']);
    expect(answer.failureCodes).toEqual({
      ProvisionedThroughputExceededException: 1,
      ServiceUnavailableException: 1,
    });
  });

  it('lists the rejected events as failed while quarantine cannot be written, so the client keeps them', () => {
    // Act
    const answer = collectAnswer(
      prepared(),
      {
        events: allWritten([0, 3]),
        clicks: allWritten([1, 4]),
        quarantineProblem: 'SlowDown: Please reduce',
      },
      'req-3',
    );

    // Assess
    expect(answer.status).toBe(503);
    expect(answer.body.accepted).toBe(4);
    expect(answer.body.failed).toEqual([
      { index: 2, event_id: 'e2', reason: 'could not be quarantined (SlowDown: Please reduce)' },
    ]);
    expect(answer.body.message).toBe(
      '1 of 5 events could not be stored; send the events listed in "failed" again',
    );
  });

  it('answers 400 to a body that is not events once it is kept, 503 when it could not be kept', () => {
    expect(malformedBodyAnswer('body is not valid JSON', undefined, 'req-4')).toEqual({
      status: 400,
      headers: {},
      body: { message: 'body is not valid JSON', request_id: 'req-4' },
    });
    expect(malformedBodyAnswer('body is not valid JSON', 'InternalError: boom', 'req-5')).toEqual({
      status: 503,
      headers: { 'retry-after': '1' },
      body: {
        message: 'the request could not be recorded (InternalError: boom); send it again',
        request_id: 'req-5',
      },
    });
  });
});
