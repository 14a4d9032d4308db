import { WiringError } from '../../../local/errors';
import { deliveryObjectKey, formatJavaDate, renderPrefix } from '../../../local/firehose/prefix';

const time = new Date('2026-03-04T05:06:07.089Z');

describe('renderPrefix', () => {
  it('evaluates !{timestamp:...} in UTC', () => {
    expect(renderPrefix('raw/events/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/', { time })).toBe(
      'raw/events/dt=2026-03-04/hour=05/',
    );
  });

  it('appends yyyy/MM/dd/HH/ to a prefix without a timestamp expression, as Firehose does', () => {
    expect(renderPrefix('plain/', { time })).toBe('plain/2026/03/04/05/');
    expect(renderPrefix('', { time })).toBe('2026/03/04/05/');
  });

  it('evaluates !{firehose:error-output-type} in an error prefix and !{firehose:random-string}', () => {
    expect(
      renderPrefix('errors/!{firehose:error-output-type}/!{timestamp:yyyy}/', {
        time,
        errorOutputType: 'processing-failed',
      }),
    ).toBe('errors/processing-failed/2026/');
    expect(renderPrefix('r/!{firehose:random-string}/!{timestamp:HH}', { time })).toMatch(
      /^r\/[a-z0-9]{11}\/05$/,
    );
  });

  it.each([
    [
      '!{firehose:error-output-type} outside an error prefix',
      'e/!{firehose:error-output-type}/!{timestamp:HH}',
      /only valid in ErrorOutputPrefix/,
    ],
    [
      'dynamic partitioning keys',
      'p/!{partitionKeyFromQuery:id}/!{timestamp:HH}',
      /is not supported locally/,
    ],
    ['an unsupported pattern letter', '!{timestamp:EEE}', /letter "E"/],
  ])('rejects %s with a WiringError', (_what, prefix, message) => {
    expect(() => renderPrefix(prefix, { time })).toThrow(WiringError);
    expect(() => renderPrefix(prefix, { time })).toThrow(message);
  });
});

describe('formatJavaDate', () => {
  it('formats the letters Firehose prefixes use, with quoted literals', () => {
    expect(formatJavaDate("yy/M/d H:m:s.SSS 'at' yyyy''", time)).toBe("26/3/4 5:6:7.089 at 2026'");
  });
});

describe('deliveryObjectKey', () => {
  it('names an object <prefix><stream>-1-yyyy-MM-dd-HH-mm-ss-<id>.gz for gzip deliveries', () => {
    expect(deliveryObjectKey('raw/', 'logbase-local-events', time, 'abc', true)).toBe(
      'raw/logbase-local-events-1-2026-03-04-05-06-07-abc.gz',
    );
    expect(deliveryObjectKey('raw/', 's', time, 'abc', false)).toBe('raw/s-1-2026-03-04-05-06-07-abc');
  });
});
