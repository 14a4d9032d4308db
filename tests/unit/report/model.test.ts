import { sampleReport } from '../../../cli/report/sample';
import { figure, InvalidReportError, parseReport, ratio } from '../../../lib/domain/report';

describe('the KPI report model', () => {
  it('accepts the sample report, parsed back from its JSON', () => {
    // Prepare
    const json = JSON.stringify(sampleReport());

    // Act
    const report = parseReport(JSON.parse(json));

    // Assess
    expect(report.report_version).toBe(1);
    expect(report.headline.daily_active_users.value).toBeGreaterThan(100_000);
  });

  it('accepts a no-events report', () => {
    const report = parseReport(sampleReport({ status: 'no_events' }));

    expect(report.status).toBe('no_events');
    expect(report.headline.events.value).toBe(0);
  });

  it('refuses another version, saying which one it reads', () => {
    // Prepare
    const report: any = structuredClone(sampleReport());
    report.report_version = 2;

    // Act / Assess
    expect(() => parseReport(report)).toThrow(InvalidReportError);
    expect(() => parseReport(report)).toThrow('a KPI report of version 2: this logbase reads version 1');
  });

  it('refuses a negative CTR, a quarantine rate over 1 and an unknown stage, naming the paths', () => {
    const report: any = structuredClone(sampleReport());
    report.ctr_by_tab[0].ctr = -0.1;
    report.quarantine.stages[0].rate = 4.2;
    report.quarantine.stages[1].stage = 'vectors';

    expect(() => parseReport(report)).toThrow(
      /\/ctr_by_tab\/0\/ctr: .*\/quarantine\/stages\/0\/rate: .*\/quarantine\/stages\/1\/stage: /,
    );
  });

  it('refuses a report whose breakdowns do not add up to its headline', () => {
    // Prepare
    const report = structuredClone(sampleReport());
    report.ctr_by_tab.pop();
    report.users.new_users += 1;

    // Act / Assess
    expect(() => parseReport(report)).toThrow(
      /^the KPI report does not add up: .*ctr_by_tab adds up to \d+ impressions/,
    );
    expect(() => parseReport(report)).toThrow(/new \+ returning users is \d+, daily_active_users is \d+/);
  });

  it('refuses a rate or a change that its own counts contradict', () => {
    // Prepare
    const report = structuredClone(sampleReport());
    report.ctr_by_platform[1]!.ctr = 0.5;
    report.headline.daily_active_users.change = 0.25;

    // Act / Assess
    expect(() => parseReport(report)).toThrow(
      /headline\.daily_active_users\.change is 0\.25, its parts give -?0\.\d+/,
    );
    expect(() => parseReport(report)).toThrow(/ctr_by_platform\[1\]\.ctr is 0\.5, its parts give 0\.0\d+/);
  });

  it('refuses a no-events report that counts events', () => {
    const report = structuredClone(sampleReport({ status: 'no_events' }));
    report.headline.events = figure(12, null);
    report.events_by_type = [{ event_type: 'click', count: 12 }];

    expect(() => parseReport(report)).toThrow('status is no_events but headline.events is 12');
  });

  it('computes day-over-day changes, null without a previous day or from zero', () => {
    expect(figure(110, 100).change).toBeCloseTo(0.1);
    expect(figure(90, 100).change).toBeCloseTo(-0.1);
    expect(figure(5, null)).toEqual({ value: 5, previous: null, change: null });
    expect(figure(5, 0).change).toBeNull();
    expect(figure(null, 0.05).change).toBeNull();
    expect(ratio(3, 0)).toBeNull();
  });
});
