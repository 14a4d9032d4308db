import { sendEvents } from '../../../cli/commands/send';
import { API_KEY, usePlatform } from './platform';

/**
 * `logbase send` with generated traffic against the whole local platform: what the summary says must be
 * exactly what lands in the bucket.
 */
const platform = usePlatform();

describe('When logbase send posts generated traffic with 5% broken events to the local stack', () => {
  it('lands every accepted event exactly once and quarantines every rejected one', async () => {
    // Act
    const summary = await sendEvents({
      endpoint: platform.url,
      apiKey: API_KEY,
      input: { generate: 3000, traffic: { seed: 7, invalidShare: 0.05 } },
      batchSize: 250,
    });
    await platform.stack.firehose.flush();

    // Assess: the summary adds up and matches what was broken on purpose.
    expect(summary.failed).toBe(0);
    expect(summary.accepted + summary.rejected).toBe(3000);
    expect(summary.rejected).toBeGreaterThan(0);
    expect(summary.expectation).toMatchObject({ validRejected: 0, invalidAccepted: 0 });

    // Assess: the bucket holds exactly the accepted events, once each, clicks apart from the rest.
    let raw: any[] = [];
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      await platform.stack.firehose.flush();
      raw = [...(await platform.jsonLines('raw/events/')), ...(await platform.jsonLines('raw/clicks/'))];
      if (raw.length >= summary.accepted) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    // Count again once nothing more can arrive, so a late duplicate would be seen.
    raw = [...(await platform.settledLines('raw/events/')), ...(await platform.jsonLines('raw/clicks/'))];
    expect(raw).toHaveLength(summary.accepted);
    expect(new Set(raw.map((e) => e.event_id)).size).toBe(summary.accepted);
    const clicks = await platform.jsonLines('raw/clicks/');
    expect(clicks.length).toBeGreaterThan(0);
    expect(clicks.every((e) => e.event_type === 'click')).toBe(true);
    const quarantined = await platform.jsonLines('quarantine/collect/');
    expect(quarantined).toHaveLength(summary.rejected);
  });
});
