import { scoreShard } from './lib/domain/scoring';

const n = Number(process.env.N ?? 100000),
  m = 5000,
  D = 128;
let seed = 7;
const rnd = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff - 0.5;
};
const norm = (a: Float32Array) => {
  for (let i = 0; i < a.length; i += D) {
    let s = 0;
    for (let d = 0; d < D; d++) s += a[i + d]! ** 2;
    const f = 1 / Math.sqrt(s);
    for (let d = 0; d < D; d++) a[i + d]! *= f;
  }
  return a;
};
const users = norm(Float32Array.from({ length: n * D }, rnd));
const articles = norm(Float32Array.from({ length: m * D }, rnd));
const prior = Float32Array.from({ length: m }, () => 0.05 + rnd() * 0.05);
const freshness = Float32Array.from({ length: m }, () => 0.5 + rnd());
const exclusions = Array.from({ length: n }, () =>
  Array.from({ length: 50 }, () => Math.floor((rnd() + 0.5) * m)),
);
const input = {
  users,
  articles,
  prior,
  freshness,
  exclusions,
  weights: { similarity: 1, prior: 1, freshness: 0.1 },
  k: Number(process.env.KK ?? 20),
};
(async () => {
  for (const chunk of (process.env.CHUNKS ?? '768').split(',').map(Number))
    for (const threads of [1, 2]) {
      const t = performance.now();
      const c0 = process.cpuUsage();
      await scoreShard(input, { threads, kernel: (process.env.K as any) ?? undefined, chunkArticles: chunk });
      const s = (performance.now() - t) / 1000;
      const c = process.cpuUsage(c0);
      console.log(
        `cpu ${((c.user + c.system) / 1e6).toFixed(2)} s chunk ${chunk} threads ${threads}: ${s.toFixed(2)} s, ${((n * m * D) / s / 1e9).toFixed(1)} G MAC/s`,
      );
    }
})();
