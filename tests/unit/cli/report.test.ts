import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRender, runSample } from '../../../cli/commands/report';

/** Captures what a command prints. */
function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'logbase-report-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('logbase report', () => {
  it('writes a sample report and renders it next to it as report.html', () => {
    // Prepare
    const json = join(dir, 'report.json');
    const printed = io();

    // Act
    const sampled = runSample({ output: json, date: '2026-12-24', seed: '9' }, printed.io);
    const rendered = runRender(json, {}, printed.io);

    // Assess
    expect([sampled, rendered]).toEqual([0, 0]);
    expect(printed.out[1]).toMatch(/^wrote .*report\.html \(\d+ KiB, ok, 2026-12-24\)$/);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain(
      '<title>KPI レポート 2026-12-24 · logbase</title>',
    );
  });

  it('renders to the file -o names', () => {
    const json = join(dir, 'r.json');
    runSample({ output: json, noEvents: true }, io().io);

    expect(runRender(json, { output: join(dir, 'page.html') }, io().io)).toBe(0);
    expect(readFileSync(join(dir, 'page.html'), 'utf8')).toContain('のイベントはありません');
  });

  it('refuses a file that is not JSON, or not a report, saying which and why', () => {
    // Prepare
    writeFileSync(join(dir, 'a.json'), '{"report_version": 1,');
    writeFileSync(join(dir, 'b.json'), '{"report_version": 2}');
    const printed = io();

    // Act
    const codes = [
      runRender(join(dir, 'a.json'), {}, printed.io),
      runRender(join(dir, 'b.json'), {}, printed.io),
    ];

    // Assess
    expect(codes).toEqual([1, 1]);
    expect(printed.err[0]).toMatch(/a\.json: not JSON \(/);
    expect(printed.err[1]).toMatch(/b\.json: a KPI report of version 2: this logbase reads version 1$/);
  });

  it('prints the same sample for the same seed', () => {
    const first = io();
    const second = io();
    runSample({ seed: '4' }, first.io);
    runSample({ seed: '4' }, second.io);

    expect(first.out).toEqual(second.out);
    expect(JSON.parse(first.out[0] ?? '').report_version).toBe(1);
  });
});
