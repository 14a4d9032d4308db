import {
  formatQuarantineKey,
  manifestKey,
  outputKey,
  outputStem,
  rawOf,
} from '../../../lib/domain/format/records';

const KEY = 'raw/events/dt=2026-03-01/hour=03/logbase-dev-events-1-2026-03-01-03-05-11-0b6a5c1e.gz';

describe('The formatter keys', () => {
  it('put the manifest and the quarantine of a raw object beside its raw layout, one per object', () => {
    expect(manifestKey(KEY)).toBe(
      'lake/_manifests/events/dt=2026-03-01/hour=03/logbase-dev-events-1-2026-03-01-03-05-11-0b6a5c1e.gz.json',
    );
    expect(formatQuarantineKey(KEY)).toBe(
      'quarantine/format/events/dt=2026-03-01/hour=03/logbase-dev-events-1-2026-03-01-03-05-11-0b6a5c1e.gz.jsonl.gz',
    );
  });

  it('name a Parquet file after its source object and segment, the same on every run', () => {
    // Act
    const key = outputKey(outputStem(KEY), 'click', 1, '2026-02-28', '23', 2);
    // Assess
    expect(key).toMatch(
      /^lake\/click\/v1\/dt=2026-02-28\/hour=23\/logbase-dev-events-1-2026-03-01-03-05-11-0b6a5c1e-[0-9a-f]{8}-s0002\.parquet$/,
    );
    expect(outputKey(outputStem(KEY), 'click', 1, '2026-02-28', '23', 2)).toBe(key);
  });

  it('give two objects of one file name under different prefixes different names, and make odd names safe', () => {
    expect(outputStem('raw/events/a/x.gz')).not.toBe(outputStem('raw/clicks/a/x.gz'));
    expect(outputStem('raw/events/replay batch+1.gz')).toMatch(/^replay_batch_1-[0-9a-f]{8}$/);
  });

  it('keep raw bytes as text when they are UTF-8 and as base64 when not', () => {
    expect(rawOf(Buffer.from('{"a":"ñ"}'))).toEqual({ raw: '{"a":"ñ"}', raw_encoding: 'utf8' });
    expect(rawOf(Buffer.from([0x7b, 0xff, 0x7d]))).toEqual({ raw: 'e/99', raw_encoding: 'base64' });
  });
});
