import { type Command, InvalidArgumentError } from 'commander';
import { DEFAULT_ENDPOINT, resolveApiKey, SendSetupError } from '../client/endpoint';
import { cliReporter } from '../client/progress';
import { exitCodeOf, type SendInput, sendEvents, writeGenerated } from '../client/send-events';
import type { TrafficOptions } from '../traffic/generator';
import { formatSummary } from '../traffic/stats';
import { positiveInt, seedOf } from './arguments';
import type { RegisterCommand } from './register';

/**
 * `logbase send`: the command line over the HTTP client in cli/client (endpoint and key
 * resolution, batches, posting with retries, the progress reporter).
 */

/** Options of `logbase send` as commander parses them. */
export interface SendCliOptions {
  generate?: number;
  rate?: number;
  invalidShare?: number;
  seed?: string;
  users?: number;
  articles?: number;
  endpoint: string;
  apiKey?: string;
  batchSize: number;
  gzip?: boolean;
  concurrency: number;
  out?: string;
  progress: boolean;
  strict?: boolean;
}

function positiveNumber(name: string) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) {
      throw new InvalidArgumentError(`${name} must be a number > 0, got "${raw}"`);
    }
    return value;
  };
}

function share(raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new InvalidArgumentError(`--invalid-share must be a number from 0 to 1 (e.g. 0.05), got "${raw}"`);
  }
  return value;
}

/** Checks the combination of arguments; returns the problem or undefined. */
export function checkSendArguments(file: string | undefined, o: SendCliOptions): string | undefined {
  if (file !== undefined && o.generate !== undefined)
    return 'give either a <file> or --generate <n>, not both';
  if (file === undefined && o.generate === undefined) {
    return 'nothing to send: give a JSON-lines <file> or --generate <n> (see logbase send --help)';
  }
  if (file !== undefined) {
    const generatorOnly = (['invalidShare', 'seed', 'users', 'articles', 'out'] as const).filter(
      (k) => o[k] !== undefined,
    );
    if (generatorOnly.length > 0) {
      const flags = generatorOnly.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
      return `${flags.join(', ')} only ${flags.length === 1 ? 'applies' : 'apply'} with --generate`;
    }
  }
  if (o.generate !== undefined && o.strict) return '--strict only applies to a <file>';
  return undefined;
}

async function runSend(file: string | undefined, o: SendCliOptions, command: Command): Promise<number> {
  const traffic: TrafficOptions = {};
  if (o.invalidShare !== undefined) traffic.invalidShare = o.invalidShare;
  const seed = seedOf(o.seed);
  if (seed !== undefined) traffic.seed = seed;
  if (o.users !== undefined) traffic.users = o.users;
  if (o.articles !== undefined) traffic.articles = o.articles;

  if (o.out !== undefined && o.generate !== undefined) {
    const defects = await writeGenerated(o.out, o.generate, traffic, o.rate ?? 100);
    const broken = Object.values(defects).reduce((a, b) => a + (b ?? 0), 0);
    const kinds = Object.entries(defects)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    process.stdout.write(
      `wrote ${o.generate} events to ${o.out} (${broken} broken on purpose${kinds ? `: ${kinds}` : ''})\n`,
    );
    return 0;
  }

  // With a rate and no explicit --batch-size, smaller batches keep the flow smooth (about 4 requests/s).
  const batchSize =
    o.rate !== undefined && command.getOptionValueSource('batchSize') === 'default'
      ? Math.max(1, Math.min(o.batchSize, Math.ceil(o.rate / 4)))
      : o.batchSize;
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\ninterrupted: finishing the requests in flight (Ctrl-C again to quit now)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const reporter = cliReporter(o.progress);
  try {
    const input: SendInput =
      o.generate !== undefined
        ? { generate: o.generate, traffic }
        : { file: file as string, strict: o.strict === true };
    const summary = await sendEvents(
      {
        endpoint: o.endpoint,
        apiKey: resolveApiKey(o.apiKey),
        input,
        batchSize,
        gzip: o.gzip === true,
        concurrency: o.concurrency,
        ...(o.rate === undefined ? {} : { rate: o.rate }),
        signal: controller.signal,
      },
      reporter,
    );
    reporter.close();
    process.stdout.write(`${formatSummary(summary).join('\n')}\n`);
    return exitCodeOf(summary, o.generate !== undefined);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Registers `logbase send`. */
export const registerSend: RegisterCommand = (program: Command) => {
  program
    .command('send')
    .description('send events to collect: a JSON-lines file, or realistic generated news-app traffic')
    .argument('[file]', 'JSON-lines file of events, one per line (.gz read as gzip)')
    .option(
      '--generate <n>',
      'generate n events of realistic traffic instead of reading a file',
      positiveInt('--generate'),
    )
    .option('--rate <r>', 'send at most r events per second (token bucket)', positiveNumber('--rate'))
    .option('--invalid-share <share>', 'with --generate: share of events broken on purpose, 0..1', share)
    .option('--seed <s>', 'with --generate: seed, so the same seed sends the same traffic')
    .option('--users <u>', 'with --generate: number of users (default 2000)', positiveInt('--users'))
    .option('--articles <a>', 'with --generate: number of articles (default 800)', positiveInt('--articles'))
    .option('--endpoint <url>', 'collect URL; /v1/events is appended when it has no path', DEFAULT_ENDPOINT)
    .option('--api-key <key>', 'API key (default: $LOGBASE_API_KEY, else the local key in serverless.yml)')
    .option('--batch-size <n>', 'events per request', positiveInt('--batch-size', 10_000), 500)
    .option('--gzip', 'gzip request bodies')
    .option('--concurrency <n>', 'requests in flight at once', positiveInt('--concurrency', 256), 4)
    .option(
      '--out <file>',
      'with --generate: write the events to this JSON-lines file (.gz: gzip) instead of sending',
    )
    .option('--strict', 'with a <file>: stop at the first line that cannot be sent instead of skipping it')
    .option('--no-progress', 'no progress bar or progress lines')
    .addHelpText(
      'after',
      `
Examples:
  logbase send --generate 10000 --invalid-share 0.05 --seed 7
  logbase send --generate 100000 --rate 2000 --gzip --concurrency 8
  logbase send events/collect/sample.jsonl --strict
  logbase send --generate 50000 --out traffic.jsonl.gz

Retries: a 503 resends only the events listed in its "failed" (429/500/502/504 and network
errors resend the batch) with exponential backoff, up to 6 attempts. 400, 401, 413 and 415 stop
the run with the server's message.

Exit codes:
  0  every event was accepted (--generate: the server judged every event as generated)
  1  bad arguments, the run stopped early (refused, unreachable, --strict), or events could
     not be stored after retries
  2  a <file>: some events were rejected or lines skipped; --generate: a valid event was
     rejected or a broken one accepted (rejections of the --invalid-share events are expected)`,
    )
    .action(async (file: string | undefined, options: SendCliOptions, command: Command) => {
      const problem = checkSendArguments(file, options);
      if (problem !== undefined)
        command.error(`error: ${problem}`, { exitCode: 1, code: 'logbase.send.arguments' });
      try {
        process.exitCode = await runSend(file, options, command);
      } catch (error) {
        if (error instanceof SendSetupError) command.error(`error: ${error.message}`, { exitCode: 1 });
        throw error;
      }
    });
};
