import {
  clickThroughRate,
  DEFECT_KINDS,
  formatTimestamp,
  generateTraffic,
  steadyClock,
  TABS,
  TrafficGenerator,
  TrafficOptionsError,
} from '../../../cli/traffic';
import { prepareRequest } from '../../../lib/domain/collect';
import { validateClientEvent } from '../../../lib/schemas';

const NOW = Date.parse('2025-03-01T12:00:00.000Z');
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function fixedClock(): () => number {
  return () => NOW;
}

describe('the traffic generator', () => {
  it('generates the same events for the same seed and different ones for another seed', () => {
    // Act
    const a = generateTraffic(500, { seed: 42, clock: fixedClock(), invalidShare: 0.1 });
    const b = generateTraffic(500, { seed: 42, clock: fixedClock(), invalidShare: 0.1 });
    const c = generateTraffic(500, { seed: 43, clock: fixedClock(), invalidShare: 0.1 });

    // Assess
    expect(b).toEqual(a);
    expect(c.map((g) => g.event.event_id)).not.toEqual(a.map((g) => g.event.event_id));
  });

  it('makes only valid events when no invalid share is asked for, with v4 UUIDs and no repeated id', () => {
    // Act
    const events = generateTraffic(20_000, { seed: 1, clock: steadyClock(NOW, 500) });

    // Assess
    const failures = events.map((g) => validateClientEvent(g.event)).filter((r) => !r.ok);
    expect(failures).toEqual([]);
    expect(events.every((g) => g.defect === undefined)).toBe(true);
    expect(events.every((g) => UUID_V4.test(String(g.event.event_id)))).toBe(true);
    expect(new Set(events.map((g) => g.event.event_id)).size).toBe(events.length);
  });

  it('produces every event type, several tabs and the share, bookmark and open_app actions', () => {
    // Act
    const events = generateTraffic(20_000, { seed: 2, clock: fixedClock() }).map((g) => g.event);

    // Assess
    expect(new Set(events.map((e) => e.event_type))).toEqual(
      new Set(['impression', 'click', 'ad_impression', 'action']),
    );
    expect(new Set(events.map((e) => e.tab).filter(Boolean)).size).toBeGreaterThanOrEqual(5);
    expect(
      [...new Set(events.map((e) => e.tab).filter(Boolean))].every((t) =>
        (TABS as readonly unknown[]).includes(t),
      ),
    ).toBe(true);
    const actions = new Set(events.filter((e) => e.event_type === 'action').map((e) => e.action));
    for (const name of ['share', 'bookmark', 'open_app']) expect(actions.has(name)).toBe(true);
    const adsWithCampaign = events.filter(
      (e) => e.event_type === 'ad_impression' && 'campaign_id' in e,
    ).length;
    expect(adsWithCampaign).toBeGreaterThan(0);
  });

  it('keeps each user on one platform and app version', () => {
    // Act
    const events = generateTraffic(10_000, { seed: 3, clock: fixedClock() }).map((g) => g.event);

    // Assess
    const devices = new Map<unknown, Set<string>>();
    for (const e of events) {
      const set = devices.get(e.user_id) ?? new Set();
      set.add(`${e.platform}/${e.app_version}`);
      devices.set(e.user_id, set);
    }
    expect([...devices.values()].every((set) => set.size === 1)).toBe(true);
  });

  it('has a few heavy users: the top 10% of users make most of the events', () => {
    // Act
    const events = generateTraffic(50_000, { seed: 4, users: 2000, clock: fixedClock() });

    // Assess
    const perUser = new Map<unknown, number>();
    for (const g of events) perUser.set(g.event.user_id, (perUser.get(g.event.user_id) ?? 0) + 1);
    const counts = [...perUser.values()].sort((a, b) => b - a);
    const top = counts.slice(0, Math.ceil(counts.length / 10)).reduce((a, b) => a + b, 0);
    expect(top / events.length).toBeGreaterThan(0.5);
    expect(counts.at(-1)).toBeLessThan(counts[0] as number);
  });

  it('has popular articles: the top 10% of articles get most of the impressions', () => {
    // Act
    const events = generateTraffic(50_000, { seed: 5, articles: 800, clock: fixedClock() });

    // Assess
    const perArticle = new Map<unknown, number>();
    for (const { event } of events) {
      if (event.event_type === 'impression')
        perArticle.set(event.article_id, (perArticle.get(event.article_id) ?? 0) + 1);
    }
    const counts = [...perArticle.values()].sort((a, b) => b - a);
    const impressions = counts.reduce((a, b) => a + b, 0);
    expect(counts.slice(0, 80).reduce((a, b) => a + b, 0) / impressions).toBeGreaterThan(0.5);
  });

  it('has click-through rates that fall with the position in the feed', () => {
    // Act
    const events = generateTraffic(100_000, { seed: 6, clock: fixedClock() }).map((g) => g.event);

    // Assess
    const ctr = (from: number, to: number) => {
      const at = (type: string) =>
        events.filter(
          (e) => e.event_type === type && (e.position as number) >= from && (e.position as number) <= to,
        ).length;
      return at('click') / at('impression');
    };
    expect(ctr(0, 2)).toBeGreaterThan(ctr(10, 30) * 2);
    expect(ctr(0, 2)).toBeLessThan(0.25);
    expect(clickThroughRate(0, 1)).toBeGreaterThan(clickThroughRate(5, 1));
  });

  it('stamps occurred_at near the clock and never earlier than the event before it', () => {
    // Prepare
    let now = NOW;
    const clock = () => (now += 10);

    // Act
    const times = generateTraffic(5000, { seed: 7, clock }).map((g) =>
      Date.parse(String(g.event.occurred_at)),
    );

    // Assess
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1] as number);
    expect(Math.abs((times.at(-1) as number) - now)).toBeLessThan(2000);
  });

  it('breaks about the asked share of events, in every kind', () => {
    // Act
    const events = generateTraffic(20_000, { seed: 8, invalidShare: 0.05, clock: fixedClock() });

    // Assess
    const broken = events.filter((g) => g.defect !== undefined);
    expect(broken.length / events.length).toBeGreaterThan(0.04);
    expect(broken.length / events.length).toBeLessThan(0.06);
    expect(new Set(broken.map((g) => g.defect))).toEqual(new Set(DEFECT_KINDS));
  });

  it('breaks events so the registry rejects them, except future and duplicate ones which collect rejects', () => {
    // Prepare
    const events = generateTraffic(6000, { seed: 9, invalidShare: 0.2, clock: fixedClock() });

    // Act
    const registryOk = events.map((g) => validateClientEvent(g.event).ok);
    const collectRejected = new Set<number>();
    // Requests of up to 500 events, never starting with a duplicate (a sender keeps it with its original).
    const starts = [0];
    for (let at = 500; at < events.length; at = (starts.at(-1) as number) + 500) {
      starts.push(events[at]?.defect === 'duplicate_event_id' ? at - 1 : at);
    }
    starts.forEach((start, n) => {
      const end = starts[n + 1] ?? events.length;
      const chunk = events.slice(start, end).map((g) => g.event);
      const prepared = prepareRequest(
        {
          body: Buffer.from(JSON.stringify({ events: chunk })),
          contentType: 'application/json',
          receivedAt: new Date(NOW),
          requestId: 'test',
        },
        { maxEvents: 500, maxBytes: 1_048_576, futureSkewSeconds: 300 },
      );
      for (const r of prepared.rejected) collectRejected.add(start + r.index);
    });

    // Assess
    const surprises = events.flatMap((g, i) => {
      const lateKind = g.defect === 'future_occurred_at' || g.defect === 'duplicate_event_id';
      const problems: string[] = [];
      if (registryOk[i] !== (g.defect === undefined || lateKind)) {
        problems.push(`#${i} (${g.defect ?? 'valid'}): registry said ${registryOk[i] ? 'ok' : 'invalid'}`);
      }
      if (collectRejected.has(i) !== (g.defect !== undefined)) {
        problems.push(
          `#${i} (${g.defect ?? 'valid'}): collect ${collectRejected.has(i) ? 'rejected' : 'accepted'} it`,
        );
      }
      return problems;
    });
    expect(surprises).toEqual([]);
    expect(collectRejected.size).toBeGreaterThan(1000);
  });

  it('repeats, as a duplicate, the event just before it', () => {
    // Act
    const events = generateTraffic(5000, { seed: 10, invalidShare: 0.2, clock: fixedClock() });

    // Assess
    const duplicates = events.flatMap((g, i) => (g.defect === 'duplicate_event_id' ? [i] : []));
    expect(duplicates.length).toBeGreaterThan(50);
    for (const i of duplicates) expect(events[i]?.event).toEqual(events[i - 1]?.event);
  });

  it('refuses settings that make no sense', () => {
    // Act, Assess
    expect(() => new TrafficGenerator({ invalidShare: 1.5 })).toThrow(
      new TrafficOptionsError('invalidShare must be between 0 and 1, got 1.5'),
    );
    expect(() => new TrafficGenerator({ users: 0 })).toThrow(
      new TrafficOptionsError('users must be a positive integer, got 0'),
    );
  });
});

describe('timestamps of generated events', () => {
  it('prints RFC 3339 in the user offset', () => {
    // Act, Assess
    expect(formatTimestamp(NOW, 0)).toBe('2025-03-01T12:00:00.000Z');
    expect(formatTimestamp(NOW, 540)).toBe('2025-03-01T21:00:00.000+09:00');
    expect(formatTimestamp(NOW, -300)).toBe('2025-03-01T07:00:00.000-05:00');
    expect(formatTimestamp(NOW, 330)).toBe('2025-03-01T17:30:00.000+05:30');
  });
});
