import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InvalidReportError, parseReport, renderReportHtml } from '../../lib/domain/report';
import { sampleReport } from '../report/sample';
import { type Output, stdio } from '../stdio';
import type { RegisterCommand } from './register';

/** Options of `logbase report render`. */
export interface RenderOptions {
  output?: string;
}

/** Options of `logbase report sample`. */
export interface SampleOptions {
  output?: string;
  date?: string;
  seed?: string;
  noEvents?: boolean;
}

/** `logbase report render`: a report's JSON to its HTML page; returns the exit code. */
export function runRender(file: string, options: RenderOptions, io: Output = stdio): number {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    io.err(`cannot read ${file}: ${(error as Error | undefined)?.message ?? String(error)}`);
    return 1;
  }
  let report: ReturnType<typeof parseReport>;
  try {
    report = parseReport(JSON.parse(text));
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof InvalidReportError) {
      io.err(`${file}: ${error instanceof SyntaxError ? `not JSON (${error.message})` : error.message}`);
      return 1;
    }
    throw error;
  }
  const out = options.output ?? file.replace(/(\.json)?$/i, '.html');
  const html = renderReportHtml(report);
  writeFileSync(out, html);
  io.out(
    `wrote ${out} (${(Buffer.byteLength(html) / 1024).toFixed(0)} KiB, ${report.status}, ${report.date})`,
  );
  return 0;
}

/** `logbase report sample`: a realistic sample report as JSON; returns the exit code. */
export function runSample(options: SampleOptions, io: Output = stdio): number {
  if (options.date !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(options.date)) {
    io.err(`--date must be YYYY-MM-DD, got "${options.date}"`);
    return 1;
  }
  const report = sampleReport({
    date: options.date,
    seed: options.seed,
    status: options.noEvents ? 'no_events' : 'ok',
  });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  if (options.output === undefined) {
    io.out(json.trimEnd());
    return 0;
  }
  writeFileSync(options.output, json);
  io.out(`wrote ${options.output}`);
  return 0;
}

/** Registers `logbase report render <report.json> [-o out.html]` and `logbase report sample`. */
export const registerReport: RegisterCommand = (program: Command) => {
  const report = program
    .command('report')
    .description('the daily KPI report: render its page, make a sample');
  report
    .command('render')
    .description('render a KPI report (JSON) as its one self-contained HTML page')
    .argument('<report.json>', 'a KPI report, as the batch chain writes it under reports/kpi/dt=/')
    .option('-o, --output <file>', 'the page to write (default: the report file with .html)')
    .action((file: string, options: RenderOptions) => {
      process.exitCode = runRender(file, options);
    });
  report
    .command('sample')
    .description('print (or write) a realistic sample KPI report, the same for the same seed')
    .option('-o, --output <file>', 'write it here instead of printing it')
    .option('--date <YYYY-MM-DD>', 'the report day')
    .option('--seed <seed>', 'another seed, another day')
    .option('--no-events', 'a day the lake holds no event for')
    .action((options: { output?: string; date?: string; seed?: string; events?: boolean }) => {
      process.exitCode = runSample({ ...options, noEvents: options.events === false });
    });
};
