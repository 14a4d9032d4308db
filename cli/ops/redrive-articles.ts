import { gunzipSync } from 'node:zlib';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { writeArticleVectors } from '../../lib/aws/article-vectors';
import {
  type ArticleDecisions,
  type ArticleQuarantineLine,
  decideArticles,
  jsonDocuments,
  jsonLineDocuments,
  type RawDocument,
} from '../../lib/domain/articles';
import { decodeUtf8 } from '../../lib/domain/http-body';
import type { Vectorizer } from '../../lib/domain/vectorizer';
import type { Hour } from './lake';
import {
  addCount,
  formatQuarantineCounts,
  type QuarantineCounts,
  quarantineObjectsOf,
  readJsonLines,
  reasonOf,
  settleQuarantineObject,
} from './redrive-quarantine';

/**
 * `logbase redrive articles`: re-validates vectorize-article's quarantine (quarantine/articles/, one
 * object per request or input object) with this checkout's article schema, and vectorizes what
 * passes now into ArticleVectors through the function's own decideArticles and writeArticleVectors
 * (a put per article_id: a second write of the same article replaces it, never duplicates).
 */

export const ARTICLES_QUARANTINE = 'quarantine/articles/';

export interface ArticlesRedriveSummary extends QuarantineCounts {
  objects: number;
  /** Articles written to ArticleVectors. */
  written: number;
  failed: { key: string; error: string }[];
}

export interface ArticlesRedriveOptions {
  s3: S3Client;
  dynamodb: DynamoDBClient;
  bucket: string;
  table: string;
  vectorizer: Vectorizer;
  hours?: readonly Hour[];
  dryRun?: boolean;
  startedAt: string;
  now?: () => Date;
}

/** The documents of an input refused whole, read again as the function reads a body or an object. */
function wholeInputDocuments(line: ArticleQuarantineLine): RawDocument[] | undefined {
  try {
    let bytes = Buffer.from(line.raw, line.raw_encoding === 'base64' ? 'base64' : 'utf8');
    const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b;
    if (gzipped) bytes = gunzipSync(bytes);
    const text = decodeUtf8(bytes, gzipped);
    if (line.source.kind === 'http' && /^\s*\{/.test(text) && !/\}\s*\n\s*\{/.test(text))
      return jsonDocuments(text, bytes, Number.POSITIVE_INFINITY);
    return jsonLineDocuments(text);
  } catch {
    // Still not gzip, UTF-8 or JSON (MalformedBodyError, a zlib error): it stays as it is.
    return undefined;
  }
}

/** Per quarantine line: whether it passes now, and the decisions of the passing documents. */
export function decideArticleLines(
  lines: readonly ArticleQuarantineLine[],
  vectorizer: Vectorizer,
  now: Date,
): { passes: boolean[]; decisions?: ArticleDecisions; extra: ArticleQuarantineLine[] } {
  const passes = lines.map(() => false);
  const whole = lines.findIndex((l) => l.index === null);
  if (whole >= 0) {
    const line = lines[whole] as ArticleQuarantineLine;
    const documents = wholeInputDocuments(line);
    if (documents === undefined) return { passes, extra: [] };
    const decisions = decideArticles(documents, vectorizer, now);
    if (decisions.items.length === 0) return { passes, extra: [] };
    passes[whole] = true;
    const extra: ArticleQuarantineLine[] = decisions.rejected.map((r) => ({
      received_at: line.received_at,
      index: r.index,
      ...(r.line === undefined ? {} : { line: r.line }),
      article_id: r.article_id ?? null,
      errors: r.errors,
      raw: r.raw,
      source: line.source,
    }));
    return { passes, decisions, extra };
  }
  // One document per line (a JSON line as sent, or a body's document as JSON.stringify wrote it).
  const documents = jsonLineDocuments(lines.map((l) => l.raw.replace(/\r?\n/g, ' ')).join('\n'));
  const decisions = decideArticles(documents, vectorizer, now);
  const rejected = new Set(decisions.rejected.map((r) => r.index));
  for (let i = 0; i < lines.length; i++) passes[i] = !rejected.has(i);
  return { passes, decisions, extra: [] };
}

/** Re-validates every quarantined article of the hours and vectorizes the ones that pass now. */
export async function redriveArticles(o: ArticlesRedriveOptions): Promise<ArticlesRedriveSummary> {
  const summary: ArticlesRedriveSummary = {
    objects: 0,
    read: {},
    redriven: {},
    stayed: {},
    written: 0,
    failed: [],
  };
  const now = o.now ?? (() => new Date());
  for (const q of await quarantineObjectsOf(o.s3, o.bucket, ARTICLES_QUARANTINE, o.hours)) {
    summary.objects += 1;
    const lines = await readJsonLines<ArticleQuarantineLine>(o.s3, o.bucket, q.key);
    for (const l of lines) addCount(summary.read, reasonOf(l.errors));
    const { passes, decisions, extra } = decideArticleLines(lines, o.vectorizer, now());
    const stayAll = () => {
      for (const l of lines) addCount(summary.stayed, reasonOf(l.errors));
    };
    if (decisions === undefined || decisions.items.length === 0) {
      stayAll();
      continue;
    }
    if (!o.dryRun) {
      const write = await writeArticleVectors(o.dynamodb, o.table, decisions.items, {});
      if (write.failed.length > 0) {
        const f = write.failed[0] as (typeof write.failed)[number];
        summary.failed.push({
          key: q.key,
          error: `${write.failed.length} article(s) not stored (${f.reason})`,
        });
        summary.written += write.written.length;
        stayAll();
        continue;
      }
      summary.written += write.written.length;
    }
    const moved = lines.filter((_, i) => passes[i]);
    const stay = [...lines.filter((_, i) => !passes[i]), ...extra];
    for (const l of moved) addCount(summary.redriven, reasonOf(l.errors));
    for (const l of lines.filter((_, i) => !passes[i])) addCount(summary.stayed, reasonOf(l.errors));
    if (!o.dryRun) await settleQuarantineObject(o.s3, o.bucket, q.key, moved, stay, o.startedAt);
  }
  return summary;
}

/** The summary as printed: the counts per reason, what was written, what failed. */
export function formatArticlesLines(s: ArticlesRedriveSummary, table: string, dryRun: boolean): string[] {
  const lines = formatQuarantineCounts(s, table, dryRun);
  if (!dryRun) lines.push(`wrote ${s.written} article(s) to ${table}`);
  for (const f of s.failed) lines.push(`failed: ${f.key}: ${f.error}`);
  return lines;
}
