import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decideArticles, jsonDocuments } from '../../../lib/domain/articles';
import { defaultVectorizer } from '../../../lib/domain/vectorizer';

/** One request the fake received. */
export interface Received {
  path: string | undefined;
  headers: IncomingHttpHeaders;
  articles: { article_id: string }[];
}

/**
 * A loopback server on a free port that answers POST /v1/articles as vectorize-article does,
 * with the real decision (no store); `fail` lists article ids to answer 503 for, once each.
 */
export async function fakeArticlesApi(fail = new Set<string>()) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const documents = jsonDocuments(body.toString('utf8'), body, 500);
      received.push({
        path: req.url,
        headers: req.headers,
        articles: documents.map((d) => d.value as never),
      });
      const decisions = decideArticles(documents, defaultVectorizer, new Date());
      const failed = documents
        .filter((d) => fail.delete((d.value as { article_id: string }).article_id))
        .map((d) => ({ index: d.index, reason: 'UnprocessedItems: DynamoDB did not write it' }));
      const rejected = decisions.rejected.map(({ index, errors }) => ({ index, errors }));
      const accepted = documents.length - rejected.length - failed.length;
      res.writeHead(failed.length > 0 ? 503 : 202, {
        'content-type': 'application/json',
        'retry-after': '0',
      });
      res.end(JSON.stringify({ accepted, rejected, failed, request_id: 'r' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
