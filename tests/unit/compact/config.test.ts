import { loadCompactConfig } from '../../../functions/compact-lake/config';

describe('compact-lake settings', () => {
  it('reads the bucket and the schedule params, with the documented defaults', () => {
    // Act
    const config = loadCompactConfig({
      DATA_BUCKET: 'b',
      STAGE: 'dev',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '3008',
    });
    // Assess
    expect(config).toMatchObject({
      dataBucket: 'b',
      stage: 'dev',
      targetBytes: 134_217_728,
      settleMinutes: 30,
      graceMinutes: 60,
      lookbackHours: 48,
      maxHours: 24,
      maxBytes: 4 * 1024 ** 3,
      duckDbMemoryLimit: '1804MB',
    });
  });

  it('names the variable that is missing or not a positive integer', () => {
    // Act / Assess
    expect(() => loadCompactConfig({})).toThrow(/DATA_BUCKET is required/);
    expect(() => loadCompactConfig({ DATA_BUCKET: 'b', COMPACT_GRACE_MINUTES: 'soon' })).toThrow(
      /COMPACT_GRACE_MINUTES must be a positive integer, got "soon"/,
    );
  });
});
