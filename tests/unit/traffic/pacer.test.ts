import { TokenBucket } from '../../../cli/traffic/pacer';

describe('the token bucket that paces logbase send', () => {
  it('lets the first burst through at once, then asks to wait as long as the rate needs', () => {
    // Prepare
    const now = 0;
    const bucket = new TokenBucket(100, 50, () => now);

    // Act
    const first = bucket.reserve(50);
    const second = bucket.reserve(50);

    // Assess
    expect(first).toBe(0);
    expect(second).toBe(500);
  });

  it('refills with time, up to the burst and no more', () => {
    // Prepare
    let now = 0;
    const bucket = new TokenBucket(100, 50, () => now);
    bucket.reserve(50);

    // Act
    now = 10_000;
    const afterIdle = bucket.reserve(50);
    const next = bucket.reserve(10);

    // Assess
    expect(afterIdle).toBe(0);
    expect(next).toBe(100);
  });

  it('keeps the average rate over many reservations when the caller sleeps as told', () => {
    // Prepare
    let now = 0;
    const bucket = new TokenBucket(200, 20, () => now);

    // Act
    for (let i = 0; i < 100; i++) now += bucket.reserve(20);

    // Assess: 2,000 events at 200/s, less the first burst of 20.
    expect(now).toBeGreaterThanOrEqual(9900);
    expect(now).toBeLessThanOrEqual(9950);
  });

  it('refuses a rate that is not a positive number', () => {
    // Act, Assess
    expect(() => new TokenBucket(0, 1)).toThrow('rate must be a positive number, got 0');
    expect(() => new TokenBucket(Number.NaN, 1)).toThrow('rate must be a positive number, got NaN');
  });
});
