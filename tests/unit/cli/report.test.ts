import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRender, runSample } from '../../../cli/commands/report';
import { buildProgram } from '../../../cli/main';

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

  it('runs from the command line: report sample --no-events, then report render -o', async () => {
    // Prepare
    const json = join(dir, 'none.json');
    const html = join(dir, 'none.html');
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);

    // Act
    try {
      await buildProgram().parseAsync([
        'node',
        'logbase',
        'report',
        'sample',
        '--no-events',
        '--date',
        '2026-12-24',
        '-o',
        json,
      ]);
      await buildProgram().parseAsync(['node', 'logbase', 'report', 'render', json, '-o', html]);
    } finally {
      write.mockRestore();
    }

    // Assess
    expect(process.exitCode ?? 0).toBe(0);
    expect(JSON.parse(readFileSync(json, 'utf8'))).toMatchObject({ status: 'no_events', date: '2026-12-24' });
    expect(readFileSync(html, 'utf8')).toContain('この日 (2026-12-24) のイベントはありません');
  });

  it('refuses a --date that is not a day', () => {
    const printed = io();

    expect(runSample({ date: '24/12/2026' }, printed.io)).toBe(1);
    expect(printed.err).toEqual(['--date must be YYYY-MM-DD, got "24/12/2026"']);
  });

  it('says when the report file cannot be read', () => {
    const printed = io();

    expect(runRender(join(dir, 'missing.json'), {}, printed.io)).toBe(1);
    expect(printed.err[0]).toMatch(/^cannot read .*missing\.json: ENOENT/);
  });
});
