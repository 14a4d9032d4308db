/**
 * Counting what a send run did (events, server answers, latencies) and printing it as a
 * summary. Pure: no I/O, no clock; the sender feeds it.
 */

/** One rejection reason and how often the server gave it. */
export interface RejectionGroup {
  /** The first message seen for this reason, e.g. `/position: must be an integer >= 0, got "4"`. */
  example: string;
  count: number;
}

/** Request latency percentiles in milliseconds. */
export interface Latency {
  p50: number;
  p95: number;
  p99: number;
}

/** Everything a send run reports at the end. */
export interface SendSummary {
  /** Events handed to the server at least once. */
  sent: number;
  accepted: number;
  rejected: number;
  /** Events never stored: still failing after the last retry, or in flight when the run stopped. */
  failed: number;
  /** Input lines that were not sent (bad JSON, too large). */
  skipped: number;
  /** Events sent again after a 503 or a network error. */
  resent: number;
  requests: number;
  /** Requests per HTTP status; "network" counts requests that got no answer. */
  statuses: Record<string, number>;
  /** The most frequent rejection reasons, most frequent first. */
  topRejections: RejectionGroup[];
  /** Distinct rejection reasons seen in total. */
  rejectionReasons: number;
  elapsedMs: number;
  /** Sent events per second of wall time. */
  eventsPerSecond: number;
  latencyMs: Latency | undefined;
  /** Generated traffic only: how many events were broken on purpose, and any surprise. */
  expectation?: {
    invalid: number;
    /** Valid events the server rejected. */
    validRejected: number;
    /** Broken events the server accepted. */
    invalidAccepted: number;
  };
  /** Why the run stopped early, when it did. */
  stoppedBy?: string;
}

/** The value at quantile `q` (0..1) of `values` by the nearest-rank method; undefined when empty. */
export function percentile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}

/**
 * The grouping key of a rejection message: the offending value (`got ...`) and numbers are
 * dropped so that `got "4"` and `got "7"` count as one reason.
 */
export function rejectionKey(message: string): string {
  return message.replace(/, got .*?(?=;|$)/, '').replace(/\d+/g, 'N');
}

/** Accumulates the outcome of a send run. */
export class SendStats {
  sent = 0;
  accepted = 0;
  rejected = 0;
  failed = 0;
  skipped = 0;
  resent = 0;
  requests = 0;
  invalidGenerated = 0;
  validRejected = 0;
  invalidAccepted = 0;
  readonly statuses = new Map<string, number>();
  private readonly latencies: number[] = [];
  private readonly reasons = new Map<string, RejectionGroup>();

  /** Counts one request: its status ("network" when there was no answer) and how long it took. */
  request(status: number | 'network', latencyMs: number): void {
    this.requests += 1;
    const key = String(status);
    this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);
    this.latencies.push(latencyMs);
  }

  /** Counts one rejected event under its first error message. */
  reject(message: string): void {
    this.rejected += 1;
    const key = rejectionKey(message);
    const group = this.reasons.get(key);
    if (group === undefined) this.reasons.set(key, { example: message, count: 1 });
    else group.count += 1;
  }

  /** The summary so far; `generated` adds the expectation block. */
  summary(elapsedMs: number, options: { generated?: boolean; stoppedBy?: string } = {}): SendSummary {
    const groups = [...this.reasons.values()].sort((a, b) => b.count - a.count);
    const p50 = percentile(this.latencies, 0.5);
    const summary: SendSummary = {
      sent: this.sent,
      accepted: this.accepted,
      rejected: this.rejected,
      failed: this.failed,
      skipped: this.skipped,
      resent: this.resent,
      requests: this.requests,
      statuses: Object.fromEntries([...this.statuses.entries()].sort(([a], [b]) => a.localeCompare(b))),
      topRejections: groups.slice(0, 5).map((g) => ({ ...g })),
      rejectionReasons: groups.length,
      elapsedMs,
      eventsPerSecond: elapsedMs > 0 ? (this.sent * 1000) / elapsedMs : 0,
      latencyMs:
        p50 === undefined
          ? undefined
          : {
              p50,
              p95: percentile(this.latencies, 0.95) as number,
              p99: percentile(this.latencies, 0.99) as number,
            },
    };
    if (options.generated) {
      summary.expectation = {
        invalid: this.invalidGenerated,
        validRejected: this.validRejected,
        invalidAccepted: this.invalidAccepted,
      };
    }
    if (options.stoppedBy !== undefined) summary.stoppedBy = options.stoppedBy;
    return summary;
  }
}

function int(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function ms(value: number): string {
  return value < 10 ? `${value.toFixed(1)} ms` : `${int(value)} ms`;
}

/** The summary as aligned text lines for a terminal; `noun` names what was sent ("events", "articles"). */
export function formatSummary(s: SendSummary, noun = 'events'): string[] {
  const rows: [string, string][] = [
    [`${noun} sent`, int(s.sent)],
    ['accepted', int(s.accepted)],
    ['rejected', int(s.rejected)],
    ['failed', int(s.failed)],
  ];
  if (s.skipped > 0) rows.push(['skipped lines', int(s.skipped)]);
  if (s.resent > 0) rows.push(['resent', int(s.resent)]);
  rows.push(
    ['requests', int(s.requests)],
    [
      'HTTP status',
      Object.entries(s.statuses)
        .map(([status, count]) => `${status} x${int(count)}`)
        .join(', ') || '-',
    ],
    ['elapsed', `${(s.elapsedMs / 1000).toFixed(2)} s`],
    [`${noun}/s`, int(s.eventsPerSecond)],
    [
      'latency',
      s.latencyMs === undefined
        ? '-'
        : `p50 ${ms(s.latencyMs.p50)}, p95 ${ms(s.latencyMs.p95)}, p99 ${ms(s.latencyMs.p99)}`,
    ],
  );
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`);
  if (s.topRejections.length > 0) {
    const more = s.rejectionReasons - s.topRejections.length;
    lines.push(
      `  top rejection reasons${more > 0 ? ` (${s.topRejections.length} of ${s.rejectionReasons})` : ''}:`,
    );
    const countWidth = Math.max(...s.topRejections.map((g) => int(g.count).length));
    for (const g of s.topRejections) lines.push(`    ${int(g.count).padStart(countWidth)}  ${g.example}`);
  }
  if (s.expectation !== undefined) {
    const e = s.expectation;
    lines.push(`  generated invalid: ${int(e.invalid)} (the server should reject exactly these)`);
    if (e.validRejected > 0)
      lines.push(`  UNEXPECTED: ${int(e.validRejected)} valid generated events were rejected`);
    if (e.invalidAccepted > 0)
      lines.push(`  UNEXPECTED: ${int(e.invalidAccepted)} broken generated events were accepted`);
  }
  if (s.stoppedBy !== undefined) lines.push(`  stopped early: ${s.stoppedBy}`);
  return lines;
}
