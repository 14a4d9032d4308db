import { randomBytes } from 'node:crypto';
import { WiringError } from '../errors';

/** The default Firehose appends when a prefix has no timestamp expression. */
const DEFAULT_TIMESTAMP = '!{timestamp:yyyy/MM/dd/HH/}';

export interface PrefixContext {
  /** Arrival time of the oldest record in the object (UTC is used, as Firehose does). */
  time: Date;
  /** For ErrorOutputPrefix, e.g. `processing-failed`. */
  errorOutputType?: string;
}

/**
 * Evaluates a Firehose S3 prefix: `!{timestamp:<Java date pattern>}` in UTC, `!{firehose:random-string}`
 * and `!{firehose:error-output-type}`. Like Firehose, a prefix without a timestamp expression gets
 * `yyyy/MM/dd/HH/` appended. Dynamic partitioning (`!{partitionKeyFromQuery:..}`) is not supported.
 */
export function renderPrefix(template: string, ctx: PrefixContext): string {
  const full = template.includes('!{timestamp:') ? template : `${template}${DEFAULT_TIMESTAMP}`;
  return full.replace(/!\{([^}:]+):([^}]*)\}/g, (expression, namespace: string, value: string) => {
    if (namespace === 'timestamp') return formatJavaDate(value, ctx.time);
    if (namespace === 'firehose' && value === 'random-string') return randomString();
    if (namespace === 'firehose' && value === 'error-output-type') {
      if (!ctx.errorOutputType) throw new WiringError(`${expression} is only valid in ErrorOutputPrefix`);
      return ctx.errorOutputType;
    }
    throw new WiringError(`Firehose prefix expression ${expression} is not supported locally`);
  });
}

/**
 * The object name Firehose gives a delivery: `<name>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid>` plus `.gz` for
 * GZIP, after the evaluated prefix.
 */
export function deliveryObjectKey(
  prefix: string,
  streamName: string,
  time: Date,
  id: string,
  gzip: boolean,
): string {
  return `${prefix}${streamName}-1-${formatJavaDate('yyyy-MM-dd-HH-mm-ss', time)}-${id}${gzip ? '.gz' : ''}`;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Formats a UTC time with the Java DateTimeFormatter letters Firehose prefixes use (y M d H m s S). */
export function formatJavaDate(pattern: string, time: Date): string {
  let out = '';
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i] as string;
    if (c === "'") {
      const end = pattern.indexOf("'", i + 1);
      if (end < 0) throw new WiringError(`unterminated quote in timestamp pattern "${pattern}"`);
      out += end === i + 1 ? "'" : pattern.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (!/[A-Za-z]/.test(c)) {
      out += c;
      i++;
      continue;
    }
    let run = 1;
    while (pattern[i + run] === c) run++;
    i += run;
    switch (c) {
      case 'y':
        out += run === 2 ? pad(time.getUTCFullYear() % 100, 2) : pad(time.getUTCFullYear(), run);
        break;
      case 'M':
        out += pad(time.getUTCMonth() + 1, run);
        break;
      case 'd':
        out += pad(time.getUTCDate(), run);
        break;
      case 'H':
        out += pad(time.getUTCHours(), run);
        break;
      case 'm':
        out += pad(time.getUTCMinutes(), run);
        break;
      case 's':
        out += pad(time.getUTCSeconds(), run);
        break;
      case 'S':
        out += pad(time.getUTCMilliseconds(), 3).slice(0, run);
        break;
      default:
        throw new WiringError(`timestamp pattern letter "${c}" in "${pattern}" is not supported locally`);
    }
  }
  return out;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

function randomString(): string {
  return [...randomBytes(11)].map((b) => ALPHABET[b % ALPHABET.length]).join('');
}
