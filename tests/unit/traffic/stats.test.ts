import { formatSummary, percentile, rejectionKey, SendStats } from '../../../cli/traffic/stats';

describe('the summary of a send run', () => {
  it('computes nearest-rank percentiles', () => {
    // Prepare
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);

    // Act, Assess
    expect(percentile(values, 0.5)).toBe(50);
    expect(percentile(values, 0.95)).toBe(95);
    expect(percentile(values, 0.99)).toBe(99);
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([], 0.5)).toBeUndefined();
  });

  it('groups rejections by reason, whatever value or number they quote', () => {
    // Act, Assess
    expect(rejectionKey('/position: must be an integer >= 0, got "4"')).toBe(
      rejectionKey('/position: must be an integer >= 0, got 7.5'),
    );
    expect(rejectionKey('/event_id: duplicate event_id; first seen at index 3')).toBe(
      rejectionKey('/event_id: duplicate event_id; first seen at index 41'),
    );
    expect(rejectionKey('/user_id: is required')).not.toBe(rejectionKey('/user_id: must not be empty'));
  });

  it('lists the top five reasons, most frequent first, and how many there were', () => {
    // Prepare
    const stats = new SendStats();
    const reasons = ['/a: one', '/b: two', '/c: three', '/d: four', '/e: five', '/f: six'];
    reasons.forEach((reason, i) => {
      for (let n = 0; n <= i; n++) stats.reject(reason);
    });

    // Act
    const summary = stats.summary(1000);

    // Assess
    expect(summary.topRejections).toEqual([
      { example: '/f: six', count: 6 },
      { example: '/e: five', count: 5 },
      { example: '/d: four', count: 4 },
      { example: '/c: three', count: 3 },
      { example: '/b: two', count: 2 },
    ]);
    expect(summary.rejectionReasons).toBe(6);
    expect(summary.rejected).toBe(21);
    expect(formatSummary(summary)).toContain('  top rejection reasons (5 of 6):');
  });

  it('prints counts, statuses, rate and latency, and calls out surprises of generated traffic', () => {
    // Prepare
    const stats = new SendStats();
    stats.sent = 2000;
    stats.accepted = 1990;
    stats.validRejected = 2;
    stats.request(202, 12);
    stats.request(503, 40);
    stats.request(202, 8);

    // Act
    const lines = formatSummary(stats.summary(4000, { generated: true }));

    // Assess
    expect(lines).toEqual(
      expect.arrayContaining([
        '  events sent  2,000',
        '  accepted     1,990',
        '  HTTP status  202 x2, 503 x1',
        '  events/s     500',
        '  latency      p50 12 ms, p95 40 ms, p99 40 ms',
        '  UNEXPECTED: 2 valid generated events were rejected',
      ]),
    );
  });
});
