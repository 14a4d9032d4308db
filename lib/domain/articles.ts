import { type ArticleDocument, validateArticle } from '../schemas/article';
import type { FieldError } from '../schemas/explain';
import { dateTimeMillis } from '../schemas/formats';
import { MalformedBodyError, PayloadTooLargeError } from './http-body';
import type { Vectorizer } from './vectorizer';
import { encodeVector } from './vectors';

/**
 * Crawled articles in, ArticleVectors items and rejections out, with no I/O: what
 * `vectorize-article` decides for a POST /v1/articles body or an object under `articles/`.
 */

/** One ArticleVectors item (lib/domain/vectors.ts lists the attributes), before marshalling. */
export interface ArticleVectorItem {
  article_id: string;
  vector: Uint8Array;
  model: string;
  category: string;
  published_at: string;
  title: string;
  updated_at: string;
}

/** A document that could not be vectorized: where it was, why, and exactly what was sent. */
export interface ArticleRejection {
  /** 0-based position among the documents of the request or object. */
  index: number;
  /** 1-based line, for JSON lines. */
  line?: number;
  article_id?: string;
  errors: FieldError[];
  raw: string;
}

/** The outcome of one request or object. */
export interface ArticleDecisions {
  /** One item per distinct article_id, the last document of an id winning (a re-send replaces). */
  items: ArticleVectorItem[];
  /** For each item, the positions of the documents it stands for (several when an id repeats). */
  sources: number[][];
  rejected: ArticleRejection[];
  /** Documents read (accepted + rejected). */
  documents: number;
}

/** One document as read from the input: its position, line, value (undefined when it is not JSON) and raw text. */
export interface RawDocument {
  index: number;
  line?: number;
  raw: string;
  value?: unknown;
  parseError?: string;
}

/** Reads `{"articles": [...]}` (the JSON body of POST /v1/articles) into documents; throws MalformedBodyError. */
export function jsonDocuments(text: string, body: Buffer, maxDocuments: number): RawDocument[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new MalformedBodyError(`body is not valid JSON: ${(error as Error).message}`, body);
  }
  const articles = (parsed as { articles?: unknown } | null)?.articles;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Array.isArray(articles)) {
    throw new MalformedBodyError('body must be a JSON object {"articles": [...]}', body);
  }
  if (articles.length > maxDocuments) throw tooMany(articles.length, maxDocuments);
  return articles.map((value, index) => ({ index, value, raw: JSON.stringify(value) ?? 'undefined' }));
}

/** Reads JSON lines (an NDJSON body or an object under articles/) into documents; a bad line is a document that failed to parse. */
export function jsonLineDocuments(text: string, maxDocuments = Number.POSITIVE_INFINITY): RawDocument[] {
  const out: RawDocument[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).replace(/\r$/, '');
    if (raw.trim() === '') continue;
    const document: RawDocument = { index: out.length, line: i + 1, raw };
    try {
      document.value = JSON.parse(raw);
    } catch (error) {
      document.parseError = (error as Error).message;
    }
    out.push(document);
    if (out.length > maxDocuments) throw tooMany(lines.filter((l) => l.trim() !== '').length, maxDocuments);
  }
  return out;
}

function tooMany(count: number, max: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`request holds ${count} articles; the limit is ${max} per request`);
}

function articleIdOf(value: unknown): string | undefined {
  const id = (value as { article_id?: unknown } | null)?.article_id;
  return typeof value === 'object' && typeof id === 'string' ? id : undefined;
}

/** The item stored for a valid article: its vector by `vectorizer`, `published_at` in toISOString form. */
export function articleItem(article: ArticleDocument, vectorizer: Vectorizer, now: Date): ArticleVectorItem {
  return {
    article_id: article.article_id,
    vector: encodeVector(vectorizer.vectorize(article)),
    model: vectorizer.model,
    category: article.category,
    published_at: new Date(dateTimeMillis(article.published_at)).toISOString(),
    title: article.title,
    updated_at: now.toISOString(),
  };
}

/** Validates and vectorizes documents; an id sent twice is stored once, from its last document. */
export function decideArticles(
  documents: readonly RawDocument[],
  vectorizer: Vectorizer,
  now: Date,
): ArticleDecisions {
  const rejected: ArticleRejection[] = [];
  const byId = new Map<string, { item: ArticleVectorItem; sources: number[] }>();
  for (const d of documents) {
    const where = d.line === undefined ? {} : { line: d.line };
    if (d.parseError !== undefined) {
      rejected.push({
        index: d.index,
        ...where,
        errors: [{ path: '', message: `not valid JSON: ${d.parseError}` }],
        raw: d.raw,
      });
      continue;
    }
    const result = validateArticle(d.value);
    if (!result.ok) {
      const id = articleIdOf(d.value);
      rejected.push({
        index: d.index,
        ...where,
        ...(id === undefined ? {} : { article_id: id }),
        errors: result.errors,
        raw: d.raw,
      });
      continue;
    }
    const item = articleItem(result.article, vectorizer, now);
    const earlier = byId.get(item.article_id);
    // Deleting first puts the id where its last document was.
    byId.delete(item.article_id);
    byId.set(item.article_id, { item, sources: [...(earlier?.sources ?? []), d.index] });
  }
  const entries = [...byId.values()];
  return {
    items: entries.map((e) => e.item),
    sources: entries.map((e) => e.sources),
    rejected,
    documents: documents.length,
  };
}

/** Where a quarantined article came from. */
export type ArticleSource =
  | { kind: 'http'; request_id: string; ip: string | null; user_agent: string | null }
  | { kind: 's3'; bucket: string; key: string; version_id?: string };

/** One line of an articles quarantine object. */
export interface ArticleQuarantineLine {
  received_at: string;
  /** The document's position; null when the whole input was refused (not gzip, UTF-8 or JSON). */
  index: number | null;
  line?: number;
  article_id: string | null;
  errors: FieldError[];
  /**
   * What was sent: the line as it came for JSON lines; for a `{"articles": [...]}` body, the
   * document as JSON.stringify writes it; for a refused input, its bytes.
   */
  raw: string;
  /** Present when `raw` is base64 (an input that is not UTF-8). */
  raw_encoding?: 'base64';
  source: ArticleSource;
}

/** The quarantine lines of rejected documents. */
export function articleQuarantineLines(
  rejected: readonly ArticleRejection[],
  source: ArticleSource,
  receivedAt: Date,
): ArticleQuarantineLine[] {
  const received_at = receivedAt.toISOString();
  return rejected.map((r) => ({
    received_at,
    index: r.index,
    ...(r.line === undefined ? {} : { line: r.line }),
    article_id: r.article_id ?? null,
    errors: r.errors,
    raw: r.raw,
    source,
  }));
}

/**
 * The S3 key of the quarantine object for one request or one input object:
 * quarantine/articles/dt=YYYY-MM-DD/hour=HH/<name>.jsonl.gz, where the name is the request id or
 * the input key (slashes as `_`, its .jsonl[.gz] dropped), so a retried request or a replayed object overwrites its own.
 */
export function articleQuarantineKey(name: string, receivedAt: Date): string {
  const iso = receivedAt.toISOString();
  const safe = name.replace(/\.(jsonl|ndjson|json)(\.gz)?$/, '').replace(/[^A-Za-z0-9._=-]/g, '_');
  return `quarantine/articles/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/${safe}.jsonl.gz`;
}
