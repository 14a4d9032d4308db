import {
  malformedBodyLine,
  type QuarantineContext,
  quarantineKey,
  rejectionLines,
  toJsonLines,
} from '../../../lib/domain/collect-quarantine';

const context: QuarantineContext = {
  requestId: 'Ab1CdEfGhIjKlM=',
  receivedAt: new Date('2026-11-20T09:05:03.120+09:00'),
  source: { ip: '203.0.113.24', user_agent: 'logbase-api-server/1.4.0' },
};

describe('quarantineKey', () => {
  it('partitions by the UTC date and hour the request was received', () => {
    // Act and Assess
    expect(quarantineKey('Ab1CdEfGhIjKlM=', context.receivedAt)).toBe(
      'quarantine/collect/dt=2026-11-20/hour=00/Ab1CdEfGhIjKlM=.jsonl.gz',
    );
  });

  it('keeps a request id with unusual characters inside its own object name', () => {
    // Act and Assess
    expect(quarantineKey('../a b/c', new Date('2026-01-02T03:04:05Z'))).toBe(
      'quarantine/collect/dt=2026-01-02/hour=03/.._a_b_c.jsonl.gz',
    );
  });
});

describe('rejectionLines', () => {
  it('keeps each rejected event with its raw text, reasons and where it came from', () => {
    // Prepare
    const errors = [{ path: '/position', message: 'must be an integer' }];

    // Act
    const lines = rejectionLines(
      [
        { index: 2, event_id: 'e-2', event_type: 'click', errors, raw: '{"position":"2"}' },
        { index: 5, line: 7, errors, raw: 'not json' },
      ],
      context,
    );

    // Assess
    expect(lines).toEqual([
      {
        request_id: 'Ab1CdEfGhIjKlM=',
        received_at: '2026-11-20T00:05:03.120Z',
        index: 2,
        event_id: 'e-2',
        errors,
        raw: '{"position":"2"}',
        raw_encoding: 'utf8',
        source: context.source,
      },
      {
        request_id: 'Ab1CdEfGhIjKlM=',
        received_at: '2026-11-20T00:05:03.120Z',
        index: 5,
        event_id: null,
        line: 7,
        errors,
        raw: 'not json',
        raw_encoding: 'utf8',
        source: context.source,
      },
    ]);
  });
});

describe('malformedBodyLine', () => {
  it('keeps a UTF-8 body as text with the reason', () => {
    // Act
    const line = malformedBodyLine(Buffer.from('{"events": ['), 'body is not valid JSON', context);

    // Assess
    expect(line).toMatchObject({
      index: null,
      event_id: null,
      raw: '{"events": [',
      raw_encoding: 'utf8',
      errors: [{ path: '', message: 'body is not valid JSON' }],
    });
  });

  it('keeps a body that is not UTF-8 as base64', () => {
    // Prepare
    const body = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);

    // Act
    const line = malformedBodyLine(body, 'body is not valid UTF-8', context);

    // Assess
    expect(line.raw_encoding).toBe('base64');
    expect(Buffer.from(line.raw, 'base64')).toEqual(body);
  });
});

describe('toJsonLines', () => {
  it('writes one JSON object per line, each ending with a newline', () => {
    // Prepare
    const line = malformedBodyLine(Buffer.from('x\ny'), 'reason', context);

    // Act
    const text = toJsonLines([line, line]);

    // Assess
    expect(text.split('\n')).toHaveLength(3);
    expect(
      text
        .split('\n')
        .slice(0, 2)
        .map((l) => JSON.parse(l)),
    ).toEqual([line, line]);
  });
});
