import { isDateTime, isUuid } from '../../../lib/schemas/formats';

describe('isDateTime', () => {
  it.each([
    '2025-03-01T12:30:00Z',
    '2025-03-01T12:30:00.123Z',
    '2025-03-01T12:30:00.123456789+09:00',
    '2025-03-01t12:30:00z',
    '2024-02-29T00:00:00-05:30',
    '2016-12-31T23:59:60Z',
  ])('accepts %s', (value) => {
    expect(isDateTime(value)).toBe(true);
  });

  it.each([
    '2025-03-01T12:30:00',
    '2025-03-01',
    '2025-03-01 12:30:00Z',
    '2025-02-29T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2025-13-01T00:00:00Z',
    '2025-04-31T00:00:00Z',
    '2025-03-01T24:00:00Z',
    '2025-03-01T12:60:00Z',
    '2025-03-01T12:30:00+24:00',
    '2025-03-01T12:30:00+0900',
    '2025-03-01T12:30:00.Z',
    ' 2025-03-01T12:30:00Z',
  ])('rejects %p', (value) => {
    expect(isDateTime(value)).toBe(false);
  });
});

describe('isUuid', () => {
  it.each(['0b6a5c1e-8f3d-4a9b-9c1d-2e7f4a6b8c90', '0B6A5C1E-8F3D-4A9B-9C1D-2E7F4A6B8C90'])(
    'accepts %s',
    (value) => {
      expect(isUuid(value)).toBe(true);
    },
  );

  it.each([
    '0b6a5c1e8f3d4a9b9c1d2e7f4a6b8c90',
    '0b6a5c1e-8f3d-4a9b-9c1d-2e7f4a6b8c9',
    'zb6a5c1e-8f3d-4a9b-9c1d-2e7f4a6b8c90',
  ])('rejects %p', (value) => {
    expect(isUuid(value)).toBe(false);
  });
});
