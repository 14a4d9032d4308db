import { formatOutcomes } from '../../../cli/commands/replay';
import { buildProgram } from '../../../cli/main';
import { bounded, formatBackfillSummary, objectCreatedEvent } from '../../../cli/ops/backfill';
import { hoursBetween, parseHour } from '../../../cli/ops/lake';
import { describeAnswer, describeManifest, fixtureSource, ReplayError } from '../../../cli/ops/replay';
import type { FormatManifest } from '../../../lib/domain/format/records';
import { loadEvent } from '../../helpers/events';

describe('hours of the raw layout', () => {
  it('reads an hour written as 2026-03-01T03, 2026-03-01/03 or 2026-03-01T03:00Z', () => {
    // Act / Assess
    for (const raw of ['2026-03-01T03', '2026-03-01/03', '2026-03-01T03:00Z']) {
      expect(parseHour(raw, '--from')).toEqual({ dt: '2026-03-01', hour: '03' });
    }
  });

  it('refuses an hour that does not exist, naming the flag and an example', () => {
    // Act / Assess
    expect(() => parseHour('2026-02-30T03', '--to')).toThrow(
      '--to must be an hour in UTC such as 2026-03-01T03, got "2026-02-30T03"',
    );
    expect(() => parseHour('yesterday', '--from')).toThrow(/--from must be an hour/);
  });

  it('lists every hour of a range across midnight, both ends included', () => {
    // Act
    const hours = hoursBetween({ dt: '2026-02-28', hour: '22' }, { dt: '2026-03-01', hour: '01' });
    // Assess
    expect(hours.map((h) => `${h.dt}T${h.hour}`)).toEqual([
      '2026-02-28T22',
      '2026-02-28T23',
      '2026-03-01T00',
      '2026-03-01T01',
    ]);
  });

  it('refuses a range that ends before it starts, or is longer than the limit', () => {
    // Act / Assess
    expect(() => hoursBetween({ dt: '2026-03-01', hour: '03' }, { dt: '2026-03-01', hour: '02' })).toThrow(
      '--to (2026-03-01T02) is before --from (2026-03-01T03)',
    );
    expect(() =>
      hoursBetween({ dt: '2026-03-01', hour: '00' }, { dt: '2026-03-02', hour: '00' }, 24),
    ).toThrow('25 hours is more than 24: split the range');
  });
});

describe('fixtures', () => {
  it('takes a fixture source from its folder, else from its shape', () => {
    // Prepare
    const kinesis = loadEvent('kinesis', 'clicks');
    const s3 = loadEvent('s3', 'object-created-clicks');
    const http = loadEvent('http', 'valid-batch');
    // Act / Assess
    expect(fixtureSource('/x/events/s3/a.json', kinesis)).toBe('s3');
    expect(fixtureSource('/tmp/a.json', kinesis)).toBe('kinesis');
    expect(fixtureSource('/tmp/b.json', s3)).toBe('s3');
    expect(fixtureSource('/tmp/c.json', http)).toBe('http');
    expect(() => fixtureSource('/tmp/d.json', { hello: 1 })).toThrow(ReplayError);
  });

  it("sums up collect's answer with its first reasons", () => {
    // Act
    const line = describeAnswer(202, {
      accepted: 3,
      rejected: [{ index: 1, errors: [{ path: '/position', message: 'must be an integer' }] }],
      failed: [{ index: 4 }],
    });
    // Assess
    expect(line).toBe('HTTP 202: accepted 3, rejected 1, failed 1 (#1 /position must be an integer)');
    expect(describeAnswer(401, { message: 'missing x-api-key header' })).toBe(
      'HTTP 401: missing x-api-key header',
    );
    expect(describeAnswer(502, 'Bad Gateway')).toBe('HTTP 502');
  });

  it('sums up a manifest as lines read = rows written + quarantined, with reasons and faults', () => {
    // Prepare
    const manifest = {
      lines_read: 10,
      rows_written: 7,
      lines_quarantined: 3,
      quarantined_by_reason: { invalid_json: 2, schema: 1 },
      faults: [{ reason: 'truncated_gzip', message: '' }],
      outputs: [{}, {}],
    } as unknown as FormatManifest;
    // Act / Assess
    expect(describeManifest(manifest)).toBe(
      '10 lines read = 7 rows written + 3 quarantined (invalid_json 2, schema 1); object fault: truncated_gzip; 2 Parquet file(s)',
    );
  });

  it('prints each fixture with how it went and the count of failures', () => {
    // Act
    const lines = formatOutcomes(
      [
        {
          file: '/p/events/http/a.json',
          source: 'http',
          delivered: 'POST x',
          stages: ['collect: HTTP 202'],
          ok: true,
        },
        {
          file: '/p/events/s3/b.json',
          source: 's3',
          delivered: 'not delivered',
          stages: ['gone'],
          ok: false,
        },
      ],
      '/p',
    );
    // Assess
    expect(lines).toEqual([
      'ok   events/http/a.json [http]',
      '     POST x',
      '     -> collect: HTTP 202',
      'FAIL events/s3/b.json [s3]',
      '     not delivered',
      '     -> gone',
      '2 fixture(s) replayed, 1 failed',
    ]);
  });
});

describe('backfill', () => {
  it("runs at most the given number of tasks at once and returns each one's error", async () => {
    // Prepare
    let running = 0;
    let most = 0;
    // Act
    const errors = await bounded([1, 2, 3, 4, 5], 2, async (n) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((r) => setImmediate(r));
      running -= 1;
      if (n === 3) throw new Error('three');
    });
    // Assess
    expect(most).toBe(2);
    expect(errors).toEqual([undefined, undefined, 'three', undefined, undefined]);
  });

  it('builds the S3 event S3 sends, its key encoded as S3 encodes it', () => {
    // Act
    const event = objectCreatedEvent('b', 'raw/events/dt=2026-03-01/hour=03/a b+c.gz', 12, 'ap-northeast-1');
    // Assess
    expect(event.Records[0]?.eventName).toBe('ObjectCreated:Put');
    expect(event.Records[0]?.s3.object.key).toBe('raw/events/dt%3D2026-03-01/hour%3D03/a+b%2Bc.gz');
    expect(event.Records[0]?.s3.bucket.name).toBe('b');
  });

  it('prints one line per hour, the failures, and says when an hour does not reconcile', () => {
    // Act
    const lines = formatBackfillSummary({
      hours: [
        {
          hour: '2026-03-01T03',
          objects: 2,
          bytes: 10,
          lines_read: 5,
          rows_written: 3,
          lines_quarantined: 1,
          quarantined_by_reason: { schema: 1 },
          reconciled: false,
          failed: [{ key: 'raw/events/x.gz', error: 'boom' }],
        },
      ],
      objects: 2,
      bytes: 10,
      failed: 1,
      reconciled: false,
    });
    // Assess
    expect(lines).toEqual([
      '2026-03-01T03  2 object(s)  5 lines read = 3 rows written + 1 quarantined (schema 1)  1 FAILED  NOT RECONCILED',
      'failed: raw/events/x.gz: boom',
      '2 object(s), 10 bytes re-formatted; 1 failed; NOT every hour reconciles',
    ]);
  });

  it('registers replay and backfill with the program', () => {
    // Act
    const names = buildProgram().commands.map((c) => c.name());
    // Assess
    expect(names).toEqual(expect.arrayContaining(['replay', 'backfill']));
  });
});
