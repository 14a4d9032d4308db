/**
 * Article vectorizer benchmark (a script that prints figures; not a test). Run: `npm run bench:vectorize`.
 *
 * What a POST /v1/articles of 100 generated articles costs in CPU, from the body text to the
 * BatchWriteItem inputs (jsonDocuments + decideArticles + marshalArticle), beside two references
 * measured in the same rounds: JSON.parse of the same bodies, and ICU's word segmenter alone
 * over the same titles and bodies (the tokenizer's floor). Short bodies are the generated set as
 * it is (about 200 characters); long ones repeat each body 10 times (about 2,000, a real
 * article's length). Rounds interleave the three, order alternating; medians are printed.
 * Tune with BENCH_ROUNDS, BENCH_ARTICLES.
 */

import { generateArticles } from '../cli/traffic/articles';
import { marshalArticle } from '../lib/aws/article-vectors';
import { intEnv } from '../lib/config';
import { decideArticles, jsonDocuments } from '../lib/domain/articles';
import { defaultVectorizer } from '../lib/domain/vectorizer';

const ROUNDS = intEnv('BENCH_ROUNDS', 9);
const ARTICLES = intEnv('BENCH_ARTICLES', 2000);
const PER_REQUEST = 100;
const NOW = new Date('2026-11-20T09:00:00Z');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function bodiesOf(articles: { body: string }[]): string[] {
  const bodies: string[] = [];
  for (let i = 0; i < articles.length; i += PER_REQUEST)
    bodies.push(JSON.stringify({ articles: articles.slice(i, i + PER_REQUEST) }));
  return bodies;
}

function time(run: () => void): number {
  const t0 = performance.now();
  run();
  return performance.now() - t0;
}

function measure(label: string, articles: ReturnType<typeof generateArticles>): void {
  const bodies = bodiesOf(articles);
  const buffers = bodies.map((b) => Buffer.from(b));
  const segmenter = new Intl.Segmenter('ja', { granularity: 'word' });
  let sink = 0;
  const parse = () => {
    for (const body of bodies) sink += (JSON.parse(body) as { articles: unknown[] }).articles.length;
  };
  const segment = () => {
    for (const a of articles) {
      for (const _ of segmenter.segment(a.title)) sink++;
      for (const _ of segmenter.segment(a.body)) sink++;
    }
  };
  const decide = () => {
    bodies.forEach((body, i) => {
      const decisions = decideArticles(
        jsonDocuments(body, buffers[i] as Buffer, 500),
        defaultVectorizer,
        NOW,
      );
      for (const item of decisions.items) sink += marshalArticle(item).PutRequest ? 1 : 0;
    });
  };
  const runs = { parse: [] as number[], segment: [] as number[], decide: [] as number[] };
  for (let warm = 0; warm < 2; warm++) [parse, segment, decide].forEach(time);
  for (let round = 0; round < ROUNDS; round++) {
    const order =
      round % 2 === 0 ? (['parse', 'segment', 'decide'] as const) : (['decide', 'segment', 'parse'] as const);
    for (const name of order) runs[name].push(time({ parse, segment, decide }[name]));
  }
  const chars = articles.reduce((n, a) => n + a.title.length + a.body.length, 0) / articles.length;
  const perRequest = (ms: number) => (ms / bodies.length).toFixed(2);
  const perSecond = (ms: number) => Math.round((articles.length * 1000) / ms).toLocaleString('en-US');
  const d = median(runs.decide);
  const s = median(runs.segment);
  const p = median(runs.parse);
  console.log(
    `\n${label}: ${articles.length} articles, ${Math.round(chars)} characters each on average, ${bodies.length} requests of ${PER_REQUEST}`,
  );
  console.log(`  ${'path'.padEnd(44)} ${'ms/request'.padStart(10)} ${'articles/s'.padStart(11)}`);
  console.log(
    `  ${'decide + marshal (vectorize-article CPU)'.padEnd(44)} ${perRequest(d).padStart(10)} ${perSecond(d).padStart(11)}`,
  );
  console.log(
    `  ${'Intl.Segmenter alone (tokenizer floor)'.padEnd(44)} ${perRequest(s).padStart(10)} ${perSecond(s).padStart(11)}   ${(s / d).toFixed(2)}x of the path`,
  );
  console.log(
    `  ${'JSON.parse of the bodies'.padEnd(44)} ${perRequest(p).padStart(10)} ${perSecond(p).padStart(11)}   ${(p / d).toFixed(2)}x of the path`,
  );
  if (sink === -1) console.log(sink);
}

const set = generateArticles({ seed: 'bench', articles: ARTICLES, now: NOW.getTime() });
console.log(
  `vectorize-article bench: Node ${process.version}, ICU ${process.versions.icu}, ${ROUNDS} rounds (medians), model ${defaultVectorizer.model}`,
);
measure('short bodies', set);
measure(
  'long bodies',
  set.map((a) => ({ ...a, body: a.body.repeat(10) })),
);
