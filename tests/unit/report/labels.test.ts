import { compact, count, duration, percent, tabLabel } from '../../../lib/domain/report';

describe('what the KPI page writes', () => {
  it('names the known tabs in Japanese and shows an unknown one as it is', () => {
    expect(tabLabel('economy')).toBe('経済');
    expect(tabLabel('special-2026')).toBe('special-2026');
    expect(tabLabel('toString')).toBe('toString');
  });

  it('writes counts, percentages and axis units the Japanese way', () => {
    expect(count(9656204)).toBe('9,656,204');
    expect(percent(0.051234)).toBe('5.12%');
    expect(percent(null)).toBe('–');
    expect(compact(7_756_922)).toBe('775.7万');
    expect(compact(2_000_000)).toBe('200万');
    expect(compact(120_000_000)).toBe('1.2億');
    expect(compact(950)).toBe('950');
  });

  it('writes durations in seconds, minutes, hours and days', () => {
    expect(duration(45)).toBe('45 秒');
    expect(duration(750)).toBe('12 分');
    expect(duration(3 * 3600)).toBe('3 時間');
    expect(duration(3 * 3600 + 5 * 60)).toBe('3 時間 5 分');
    expect(duration(50 * 3600)).toBe('2 日 2 時間');
  });
});
