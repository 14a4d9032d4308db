import type { Random } from './random';
import { WeightedSampler } from './random';

/** The ways a generated event is broken, each one a mistake real clients make. */
export const DEFECT_KINDS = [
  'wrong_position_type',
  'missing_user_id',
  'unknown_event_type',
  'unknown_field',
  'bad_timestamp',
  'future_occurred_at',
  'duplicate_event_id',
] as const;
export type DefectKind = (typeof DEFECT_KINDS)[number];

/** How often each kind shows up among broken events (same order as DEFECT_KINDS). */
const KIND_SAMPLER = new WeightedSampler([0.15, 0.14, 0.1, 0.2, 0.15, 0.1, 0.16]);

/** A mutable event while it is being built. */
export type EventRecord = Record<string, unknown>;

/** Picks a defect kind for `event`; kinds that cannot apply (no position, nothing to duplicate) are redrawn. */
export function pickDefect(random: Random, event: EventRecord, canDuplicate: boolean): DefectKind {
  for (;;) {
    const kind = DEFECT_KINDS[KIND_SAMPLER.sample(random)] as DefectKind;
    if (kind === 'wrong_position_type' && !('position' in event)) continue;
    if (kind === 'duplicate_event_id' && !canDuplicate) continue;
    return kind;
  }
}

const UNKNOWN_TYPES = ['page_view', 'Click', 'impresion', 'scroll_depth', 'video_play'];
const UNKNOWN_FIELDS: [string, (random: Random) => unknown][] = [
  ['session_id', (random) => random.uuidV4()],
  ['device_model', (random) => random.pick(['iPhone15,2', 'Pixel 8', 'SM-S918B', 'iPad13,4'])],
  ['os_version', (random) => random.pick(['17.4.1', '14', '13', '18.0'])],
  ['ab_bucket', (random) => random.pick(['control', 'treatment_a', 'treatment_b'])],
  ['dwell_ms', (random) => random.between(200, 90_000)],
];

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** Timestamps as sloppy clients write them: none is an RFC 3339 date-time with an offset. */
function badTimestamp(random: Random, ms: number): unknown {
  const d = new Date(ms);
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  switch (random.int(5)) {
    case 0:
      return `${date} ${time}`; // SQL style, no offset
    case 1:
      return ms; // epoch milliseconds as a number
    case 2:
      return `${date}T${time}`; // no offset
    case 3:
      return `${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${d.getUTCFullYear()} ${time}`; // US locale
    default:
      return `${d.getUTCFullYear()}-02-30T${time}Z`; // an impossible date
  }
}

/**
 * Breaks `event` in place the way `kind` says. `nowMs` is the generator's clock;
 * `duplicateOf` is the earlier event whose id a duplicate reuses.
 */
export function applyDefect(
  random: Random,
  kind: Exclude<DefectKind, 'duplicate_event_id'>,
  event: EventRecord,
  nowMs: number,
  formatTime: (ms: number) => string,
): void {
  switch (kind) {
    case 'wrong_position_type': {
      const position = event.position as number;
      // A string from a template, or a fractional index from a layout computation.
      event.position = random.chance(0.7) ? String(position) : position + 0.5;
      return;
    }
    case 'missing_user_id':
      if (random.chance(0.7)) delete event.user_id;
      else event.user_id = random.chance(0.5) ? null : '';
      return;
    case 'unknown_event_type':
      event.event_type = random.pick(UNKNOWN_TYPES);
      return;
    case 'unknown_field': {
      const [name, value] = random.pick(UNKNOWN_FIELDS);
      event[name] = value(random);
      return;
    }
    case 'bad_timestamp':
      event.occurred_at = badTimestamp(random, nowMs);
      return;
    case 'future_occurred_at':
      // A device clock set days ahead: a well-formed timestamp collect must refuse.
      event.occurred_at = formatTime(nowMs + random.between(1, 30) * 86_400_000 + random.int(86_400_000));
      return;
  }
}
