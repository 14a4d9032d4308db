import {
  isReformatMarkerKey,
  reformatMarkerKey,
  sourceOf,
  stemOfName,
} from '../../../lib/domain/compact/reformat';

describe('re-format markers and row origins', () => {
  it("names a marker in the hour's prefix as a file Athena skips, and tells it from the hour's Parquet", () => {
    // Act
    const key = reformatMarkerKey('lake/click/v1/dt=2026-03-01/hour=03/', 'events-a-1234abcd');
    // Assess
    expect(key).toBe('lake/click/v1/dt=2026-03-01/hour=03/_reformatted-events-a-1234abcd.json');
    expect(isReformatMarkerKey(key)).toBe(true);
    expect(isReformatMarkerKey('lake/click/v1/dt=2026-03-01/hour=03/events-a-1234abcd-s0000.parquet')).toBe(
      false,
    );
    expect(isReformatMarkerKey('lake/_compaction/click/v1/dt=2026-03-01/hour=03.json')).toBe(false);
  });

  it("writes a row's origin as the formatter file's name and ETag, and finds the stem back", () => {
    expect(sourceOf('events-a-1234abcd-s0000.parquet', 'abc')).toBe('events-a-1234abcd-s0000.parquet@abc');
    expect(sourceOf('events-a-1234abcd-s0000.parquet', undefined)).toBe('events-a-1234abcd-s0000.parquet@');
    expect(stemOfName('events-a-1234abcd-s0012-1.parquet')).toBe('events-a-1234abcd');
  });
});
