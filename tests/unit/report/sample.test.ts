import { apportion, sampleReport } from '../../../cli/report/sample';
import { reportInconsistencies } from '../../../lib/domain/report';

describe('the sample KPI report', () => {
  it('is the same for the same seed and differs for another', () => {
    expect(sampleReport({ seed: 5 })).toEqual(sampleReport({ seed: 5 }));
    expect(sampleReport({ seed: 5 })).not.toEqual(sampleReport({ seed: 6 }));
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('adds up like a real report (seed %i)', (seed) => {
    expect(reportInconsistencies(sampleReport({ seed }))).toEqual([]);
    expect(reportInconsistencies(sampleReport({ seed, status: 'no_events' }))).toEqual([]);
  });

  it('has no previous day when asked', () => {
    const { headline } = sampleReport({ previous: false });

    expect(Object.values(headline).every((f) => f.previous === null && f.change === null)).toBe(true);
  });

  it('apportions a total exactly, in proportion', () => {
    expect(apportion(10, [1, 1, 1])).toEqual([4, 3, 3]);
    expect(apportion(1_000_003, [0.5, 0.3, 0.2]).reduce((a, b) => a + b)).toBe(1_000_003);
    expect(() => apportion(7, [0, 0])).toThrow('cannot apportion 7 over weights that add up to 0');
  });
});
