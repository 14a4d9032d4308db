import { existsSync } from 'node:fs';
import { SendStats, type SendSummary } from '../traffic/stats';
import { type BatchSettings, countLines, Envelope, fileBatches, type Item } from './batches';
import { routeUrl, SendSetupError } from './endpoint';
import { pacer, postBatches, type ResendOptions, type SendReporter } from './poster';

/** vectorize-article's route. */
export const ARTICLES_PATH = '/v1/articles';

/** The body of POST /v1/articles. */
export const ARTICLES_ENVELOPE = new Envelope('articles');

/** The URL to POST articles to: `/v1/articles` is appended when the endpoint has no path. */
export function articlesUrl(endpoint: string): string {
  return routeUrl(endpoint, ARTICLES_PATH);
}

/** What `sendArticles` needs; only endpoint, apiKey and input are required. */
export interface SendArticlesOptions {
  /** The API's base URL, or the full URL of the articles route. */
  endpoint: string;
  apiKey: string;
  /** A JSON-lines file of articles (.gz read as gzip), or articles in memory (the generated set). */
  input: { file: string; strict?: boolean } | { articles: readonly unknown[] };
  /** Articles per request (default 100: crawled bodies are a few KB each). */
  batchSize?: number;
  /** Largest request body before gzip (default 1 MiB, the route's limit). */
  maxBodyBytes?: number;
  gzip?: boolean;
  concurrency?: number;
  retry?: ResendOptions;
  signal?: AbortSignal;
}

async function* memoryBatches(articles: readonly unknown[], s: BatchSettings): AsyncGenerator<Item[]> {
  let batch: Item[] = [];
  let bytes = s.envelope.bytes([]);
  for (const article of articles) {
    const json = JSON.stringify(article);
    const size = Buffer.byteLength(json) + 1;
    if (batch.length > 0 && (batch.length === s.batchSize || bytes + size > s.maxBodyBytes)) {
      yield batch;
      batch = [];
      bytes = s.envelope.bytes([]);
    }
    batch.push({ json });
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}

/**
 * Posts articles to POST /v1/articles in `{"articles": [...]}` batches with the API key, through
 * the same client as `logbase send` (resending what a 503 lists in `failed`, progress, summary).
 */
export async function sendArticles(
  options: SendArticlesOptions,
  reporter: SendReporter = {},
): Promise<SendSummary> {
  const url = articlesUrl(options.endpoint);
  const input = options.input;
  if ('file' in input && !existsSync(input.file))
    throw new SendSetupError(`input file ${input.file} does not exist`);
  const stats = new SendStats();
  const startedAt = performance.now();
  const settings: BatchSettings = {
    envelope: ARTICLES_ENVELOPE,
    batchSize: options.batchSize ?? 100,
    maxBodyBytes: options.maxBodyBytes ?? 1_048_576,
    pace: pacer(undefined),
    warn: (message) => reporter.warn?.(message),
    stats,
  };
  const total = 'file' in input ? await countLines(input.file) : input.articles.length;
  reporter.start?.({ url, total });
  const source =
    'file' in input
      ? fileBatches(input.file, input.strict === true, settings)
      : memoryBatches(input.articles, settings);
  return postBatches(
    source,
    {
      url,
      apiKey: options.apiKey,
      envelope: ARTICLES_ENVELOPE,
      stats,
      total,
      startedAt,
      userAgent: 'logbase-articles',
      ...(options.gzip === undefined ? {} : { gzip: options.gzip }),
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    },
    reporter,
  );
}
