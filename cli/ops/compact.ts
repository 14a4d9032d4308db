import type { CompactSummary, HourOutcome } from '../../lib/compact/compact-lake';
import { formatBytes } from '../query/guard';

/** `logbase compact`: the summary as printed (one line per hour that did something, then the totals). */

/** Rows a re-format took out of a compacted hour (lib/domain/compact/reformat.ts), when there are any. */
const reformatted = (n: number) => (n > 0 ? `, ${n} event(s) a re-format no longer writes removed` : '');

function hourLine(h: HourOutcome): string {
  const base = `${h.table} ${h.hour}  ${h.action}`;
  switch (h.action) {
    case 'compacted':
      return (
        `${base}: ${h.files_before} -> ${h.files_after} file(s), ${formatBytes(h.bytes_before)} -> ${formatBytes(h.bytes_after)}, ` +
        `${h.rows_in} rows -> ${h.rows_out} (${h.duplicates_removed} duplicate(s) removed${reformatted(h.reformat_removed)})` +
        (h.pending_delete > 0 ? `, ${h.pending_delete} input(s) kept for the grace period` : '') +
        (h.kept_rewritten > 0 ? `, ${h.kept_rewritten} rewritten input(s) kept for the next run` : '')
      );
    case 'deleted':
      return `${base}: ${h.deleted} superseded input(s) removed after the grace period`;
    case 'would-compact':
      return `${base}: ${h.files_before} file(s), ${formatBytes(h.bytes_before)}`;
    case 'would-delete':
      return `${base}: ${h.files_before} superseded input(s)`;
    case 'deferred':
      return `${base}: over this run's limits, left for the next run`;
    case 'failed':
      return `${base}: ${h.error}`;
  }
}

export function formatCompactSummary(s: CompactSummary, dryRun: boolean): string[] {
  const lines = s.hours.map(hourLine);
  const t = s.totals;
  if (dryRun) {
    const would = s.hours.filter((h) => h.action === 'would-compact');
    lines.push(
      `${would.length} hour(s), ${would.reduce((n, h) => n + h.files_before, 0)} file(s), ` +
        `${formatBytes(would.reduce((n, h) => n + h.bytes_before, 0))} would be compacted; ` +
        `${s.unchanged} unchanged, ${s.open} not closed yet (dry run: nothing changed)`,
    );
    return lines;
  }
  if (t.compacted === 0 && t.deleted === 0 && t.failed === 0 && t.deferred === 0) {
    lines.push(
      `nothing to do: ${s.unchanged} hour(s) as the last compaction left them, ${s.open} not closed yet`,
    );
    return lines;
  }
  lines.push(
    `${t.compacted} hour(s) compacted: ${t.files_before} -> ${t.files_after} file(s), ` +
      `${formatBytes(t.bytes_before)} -> ${formatBytes(t.bytes_after)}, ${t.rows_in} rows -> ${t.rows_out} ` +
      `(${t.duplicates_removed} duplicate(s) removed${reformatted(t.reformat_removed)}); ${t.deleted} superseded file(s) deleted; ` +
      `${t.deferred} deferred, ${t.failed} failed, ${s.unchanged} unchanged, ${s.open} not closed yet`,
  );
  return lines;
}
