import type { Command } from 'commander';
import { DEFAULT_ENDPOINT, resolveApiKey, SendSetupError } from '../client/endpoint';
import { cliReporter } from '../client/progress';
import { sendArticles } from '../client/send-articles';
import { writeJsonLines } from '../client/send-events';
import { generateArticles } from '../traffic/articles';
import { formatSummary } from '../traffic/stats';
import { positiveInt, seedOf } from './arguments';
import type { RegisterCommand } from './register';

/** Options of `logbase articles load`. */
interface LoadOptions {
  endpoint: string;
  apiKey?: string;
  batchSize: number;
  gzip?: boolean;
  concurrency: number;
  progress: boolean;
  strict?: boolean;
}

/** Options of `logbase articles generate`. */
interface GenerateOptions {
  out: string;
  seed: string;
  users?: number;
  articles?: number;
}

/** The exit code of a load: 1 when it stopped early or articles could not be stored, 2 when some were rejected or skipped. */
function loadExitCode(summary: {
  stoppedBy?: string;
  failed: number;
  rejected: number;
  skipped: number;
}): number {
  if (summary.stoppedBy !== undefined || summary.failed > 0) return 1;
  return summary.rejected > 0 || summary.skipped > 0 ? 2 : 0;
}

async function runLoad(file: string, o: LoadOptions): Promise<number> {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\ninterrupted: finishing the requests in flight (Ctrl-C again to quit now)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const reporter = cliReporter(o.progress, 'articles');
  try {
    const summary = await sendArticles(
      {
        endpoint: o.endpoint,
        apiKey: resolveApiKey(o.apiKey),
        input: { file, strict: o.strict === true },
        batchSize: o.batchSize,
        gzip: o.gzip === true,
        concurrency: o.concurrency,
        signal: controller.signal,
      },
      reporter,
    );
    reporter.close();
    process.stdout.write(`${formatSummary(summary, 'articles').join('\n')}\n`);
    return loadExitCode(summary);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Registers `logbase articles load` and `logbase articles generate`. */
export const registerArticles: RegisterCommand = (program: Command) => {
  const articles = program
    .command('articles')
    .description('crawled articles: load them into ArticleVectors (POST /v1/articles), or generate a set');

  articles
    .command('load')
    .description('post a JSON-lines file of articles to /v1/articles, with a progress bar and a summary')
    .argument('<file>', 'JSON-lines file, one article per line (.gz read as gzip)')
    .option('--endpoint <url>', 'API URL; /v1/articles is appended when it has no path', DEFAULT_ENDPOINT)
    .option('--api-key <key>', 'API key (default: $LOGBASE_API_KEY, else the local key in serverless.yml)')
    .option('--batch-size <n>', 'articles per request', positiveInt('--batch-size', 500), 100)
    .option('--gzip', 'gzip request bodies')
    .option('--concurrency <n>', 'requests in flight at once', positiveInt('--concurrency', 64), 4)
    .option('--strict', 'stop at the first line that cannot be sent instead of skipping it')
    .option('--no-progress', 'no progress bar or progress lines')
    .addHelpText(
      'after',
      `
An article: {"article_id", "title", "body", "category", "published_at", "tags"?}. Sending an
article again replaces its vector. Rejected articles are listed by reason and kept under
quarantine/articles/ in the bucket.

Exit codes: 0 every article stored; 1 the run stopped early or articles could not be stored;
2 some articles were rejected or lines skipped.`,
    )
    .action(async (file: string, options: LoadOptions, command: Command) => {
      try {
        process.exitCode = await runLoad(file, options);
      } catch (error) {
        if (error instanceof SendSetupError) command.error(`error: ${error.message}`, { exitCode: 1 });
        throw error;
      }
    });

  articles
    .command('generate')
    .description(
      "write the articles of the traffic generator's population (the ids its clicks name) as JSON lines",
    )
    .requiredOption('--out <file>', 'JSON-lines file to write (.gz: gzip)')
    .option('--seed <s>', 'the seed `logbase send --generate` is given: same seed, same article ids', '1')
    .option('--users <u>', 'as given to logbase send (default 2000)', positiveInt('--users'))
    .option('--articles <a>', 'as given to logbase send (default 800)', positiveInt('--articles'))
    .action(async (o: GenerateOptions) => {
      const set = generateArticles({
        seed: seedOf(o.seed) as number | string,
        ...(o.users === undefined ? {} : { users: o.users }),
        ...(o.articles === undefined ? {} : { articles: o.articles }),
      });
      await writeJsonLines(o.out, set);
      process.stdout.write(
        `wrote ${set.length} articles to ${o.out} (the ids of logbase send --generate --seed ${o.seed})\n`,
      );
    });
};
