import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { scoreShardReference } from '../../../bench/scoring-reference';
import {
  AVAILABLE_KERNELS,
  type KernelName,
  type ScoredShard,
  type ScoreShardInput,
  ScoringInputError,
  scoreShard,
  topOf,
} from '../../../lib/domain/scoring';
import { RELAXED_SIMD_WASM, SIMD_WASM } from '../../../lib/domain/scoring/kernel-wasm';
import { normalize } from '../../../lib/domain/vectors';
import {
  compileKernels,
  KERNEL_MODULE,
  KERNEL_WAT,
  kernelModuleSource,
  withoutRelaxedSimd,
} from '../../../scripts/build-scoring-wasm';

const D = 128;
const KERNELS: KernelName[] = ['relaxed-simd', 'simd', 'js'];

/** A small deterministic generator (the tests must not depend on Math.random). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A shard whose every score is exact in float32 and float64 (components multiples of 1/16, priors
 * and freshness multiples of 1/256, power-of-two weights), so kernels and reference must agree to
 * the bit, ties included: articles 40..42 copy article 7, and every user excludes its best articles.
 */
function exactShard(n: number, m: number, k: number): ScoreShardInput {
  const next = random(n * 1000 + m);
  const q16 = () => Math.round((next() * 2 - 1) * 16) / 16;
  const users = Float32Array.from({ length: n * D }, q16);
  const articles = Float32Array.from({ length: m * D }, q16);
  const prior = Float32Array.from({ length: m }, () => Math.round(next() * 256) / 256);
  const freshness = Float32Array.from({ length: m }, () => Math.round(next() * 256) / 256);
  for (const copy of [40, 41, 42]) {
    articles.copyWithin(copy * D, 7 * D, 8 * D);
    prior[copy] = prior[7] as number;
    freshness[copy] = freshness[7] as number;
  }
  const shard: ScoreShardInput = {
    users,
    articles,
    prior,
    freshness,
    weights: { similarity: 1, prior: 0.5, freshness: 0.25 },
    exclusions: [],
    k,
  };
  // each user excludes its 3 best articles (as the reference ranks them), plus 4 random ones
  const best = scoreShardReference({ ...shard, exclusions: Array.from({ length: n }, () => []) });
  shard.exclusions = Array.from({ length: n }, (_, u) => [
    ...Array.from(best.indexes.subarray(u * k, u * k + 3)),
    ...Array.from({ length: 4 }, () => Math.floor(next() * m)),
  ]);
  return shard;
}

/** L2-normalised random vectors, as stored, with realistic priors and decays. */
function realisticShard(n: number, m: number, k: number, seed: number): ScoreShardInput {
  const next = random(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const rows = (count: number) => {
    const out = new Float32Array(count * D);
    for (let i = 0; i < count; i++) {
      out.set(normalize(Float32Array.from({ length: D }, gauss)), i * D);
    }
    return out;
  };
  return {
    users: rows(n),
    articles: rows(m),
    prior: Float32Array.from({ length: m }, () => 0.01 + next() * 0.09),
    freshness: Float32Array.from({ length: m }, () => Math.exp(-next() * 3)),
    weights: { similarity: 1, prior: 2, freshness: 0.1 },
    exclusions: Array.from({ length: n }, () => Array.from({ length: 50 }, () => Math.floor(next() * m))),
    k,
  };
}

function lists(shard: Pick<ScoredShard, 'k' | 'indexes' | 'scores' | 'counts'>, n: number) {
  return Array.from({ length: n }, (_, u) => topOf(shard as ScoredShard, u));
}

/** Score of article j for user u, in float64, as the reference defines it. */
function exactScore(input: ScoreShardInput, u: number, j: number): number {
  let dot = 0;
  for (let d = 0; d < D; d++)
    dot += (input.users[u * D + d] as number) * (input.articles[j * D + d] as number);
  const { weights } = input;
  return (
    weights.similarity * dot +
    weights.prior * (input.prior[j] as number) +
    weights.freshness * (input.freshness[j] as number)
  );
}

describe('scoreShard', () => {
  test('this engine (Node 22, as on Lambda nodejs22.x) validates relaxed SIMD, SIMD and the JS fallback', () => {
    // Assess
    expect(AVAILABLE_KERNELS).toEqual(KERNELS);
  });

  describe.each(KERNELS)('with the %s kernel', (kernel) => {
    test.each([1, 2])(
      'returns exactly the reference top 20 on %i thread(s), ties by index, excluded best articles left out, 37 users and 101 articles (off the tile)',
      async (threads) => {
        // Prepare
        const input = exactShard(37, 101, 20);
        const expected = scoreShardReference(input);

        // Act
        const got = await scoreShard(input, { kernel, threads, chunkArticles: 24 });

        // Assess
        expect(got.kernel).toBe(kernel);
        expect(got.threads).toBe(threads);
        expect(Array.from(got.counts)).toEqual(Array.from(expected.counts));
        expect(Array.from(got.indexes)).toEqual(Array.from(expected.indexes));
        expect(Array.from(got.scores)).toEqual(Array.from(expected.scores));
      },
    );

    test('matches the reference within 1e-5 on normalised vectors with 50 exclusions per user', async () => {
      // Prepare
      const input = realisticShard(23, 1000, 20, 42);
      const expected = lists(scoreShardReference(input), 23);

      // Act
      const got = lists(await scoreShard(input, { kernel, threads: 2 }), 23);

      // Assess: same scores position by position; a different index only where the reference
      // has a tie within the tolerance (the float32 kernel may order a near-tie either way)
      got.forEach((list, u) => {
        const want = expected[u] as { indexes: number[]; scores: number[] };
        expect(list.indexes).toHaveLength(20);
        list.indexes.forEach((index, i) => {
          expect(Math.abs((list.scores[i] as number) - (want.scores[i] as number))).toBeLessThanOrEqual(1e-5);
          expect(Math.abs(exactScore(input, u, index) - (want.scores[i] as number))).toBeLessThanOrEqual(
            1e-5,
          );
          expect([...(input.exclusions[u] as number[])]).not.toContain(index);
        });
        expect(new Set(list.indexes).size).toBe(20);
      });
    });

    test('keeps every article left when k is larger, best first, and pads the rest with -1 and NaN', async () => {
      // Prepare: 7 articles, user 0 excludes two, user 1 none
      const input = exactShard(2, 7, 10);
      input.exclusions = [[3, 5], []];
      const expected = scoreShardReference(input);

      // Act
      const got = await scoreShard(input, { kernel });

      // Assess
      expect(Array.from(got.counts)).toEqual([5, 7]);
      expect(topOf(got, 0).indexes).toEqual(Array.from(expected.indexes.subarray(0, 5)));
      expect(Array.from(got.indexes.subarray(5, 10))).toEqual([-1, -1, -1, -1, -1]);
      expect(Array.from(got.scores.subarray(5, 10)).every(Number.isNaN)).toBe(true);
      expect(topOf(got, 1).indexes.sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    });

    test('ranks articles of equal score by index, lowest first, also where the tie straddles the k-th place', async () => {
      // Prepare: articles 9, 2, 11, 5 and 7 are the same vector, the best for the user; k = 3
      const input = exactShard(1, 14, 3);
      input.exclusions = [[]];
      input.prior.fill(0);
      input.freshness.fill(0);
      input.articles.fill(0);
      for (const j of [9, 2, 11, 5, 7]) input.articles[j * D] = 1;
      input.users.fill(0);
      input.users[0] = 1;

      // Act
      const got = await scoreShard(input, { kernel });

      // Assess
      expect(topOf(got, 0)).toEqual({ indexes: [2, 5, 7], scores: [1, 1, 1] });
    });
  });

  test('splitting a shard across 3 threads gives the bits one thread gives', async () => {
    // Prepare
    const input = realisticShard(101, 300, 20, 7);

    // Act
    const one = await scoreShard(input, { threads: 1 });
    const three = await scoreShard(input, { threads: 3 });

    // Assess
    expect(three.threads).toBe(3);
    expect(Array.from(three.indexes)).toEqual(Array.from(one.indexes));
    expect(Array.from(three.scores)).toEqual(Array.from(one.scores));
  });

  test('an empty shard gives empty results', async () => {
    // Prepare
    const input = { ...realisticShard(0, 30, 20, 3), exclusions: [] };

    // Act
    const got = await scoreShard(input, { threads: 2 });

    // Assess
    expect(got.indexes).toHaveLength(0);
    expect(got.counts).toHaveLength(0);
  });

  test.each([
    [
      'a user vector holding NaN',
      (i: ScoreShardInput) => i.users.fill(Number.NaN, 3 * D + 5, 3 * D + 6),
      /user 3 holds NaN/,
    ],
    [
      'an exclusion outside the articles',
      (i: ScoreShardInput) => (i.exclusions as number[][])[1]?.push(30),
      /exclusions\[1\] holds 30/,
    ],
    [
      'priors for fewer articles',
      (i: ScoreShardInput) => Object.assign(i, { prior: new Float32Array(29) }),
      /prior has 29 values for 30 articles/,
    ],
    [
      'a user row cut short',
      (i: ScoreShardInput) => Object.assign(i, { users: new Float32Array(130) }),
      /not a multiple/,
    ],
    ['k of 0', (i: ScoreShardInput) => Object.assign(i, { k: 0 }), /k is an integer from 1 to 1000, not 0/],
  ])('refuses %s with a message that names it', async (_, spoil, message) => {
    // Prepare
    const input = realisticShard(4, 30, 5, 11);
    spoil(input);

    // Act
    const scoring = scoreShard(input);

    // Assess
    await expect(scoring).rejects.toThrow(ScoringInputError);
    await expect(scoring).rejects.toThrow(message);
  });
});

describe('the kernel build', () => {
  test('kernel-wasm.ts holds exactly the bytes kernel.wat compiles to, in the form the build writes', async () => {
    // Act
    const binaries = await compileKernels(readFileSync(KERNEL_WAT, 'utf8'));

    // Assess
    expect(Buffer.from(RELAXED_SIMD_WASM, 'base64').equals(binaries.relaxed)).toBe(true);
    expect(Buffer.from(SIMD_WASM, 'base64').equals(binaries.simd)).toBe(true);
    expect(readFileSync(KERNEL_MODULE, 'utf8')).toBe(kernelModuleSource(binaries));
  });

  test('the plain SIMD binary has no relaxed instruction, so it loads where relaxed SIMD does not', () => {
    // Prepare
    const wat = readFileSync(KERNEL_WAT, 'utf8');

    // Act
    const plain = withoutRelaxedSimd(wat);

    // Assess
    expect(wat).toMatch(/f32x4\.relaxed_madd/);
    expect(plain.split('\n').filter((line) => !line.trim().startsWith(';;'))).not.toContainEqual(
      expect.stringMatching(/relaxed/),
    );
  });

  test('bundled and minified as a Lambda ships it, the kernel scores on worker threads', async () => {
    // Prepare: an entry that scores a shard on 2 threads and prints the first user's list
    const dir = mkdtempSync(join(tmpdir(), 'logbase-scoring-'));
    try {
      const entry = join(dir, 'entry.ts');
      writeFileSync(
        entry,
        `import { scoreShard, topOf } from ${JSON.stringify(resolve(__dirname, '../../../lib/domain/scoring'))};
const D = 128, n = 9, m = 30;
const users = new Float32Array(n * D).map((_, i) => Math.sin(i));
const articles = new Float32Array(m * D).map((_, i) => Math.cos(i * 0.7));
scoreShard({ users, articles, prior: new Float32Array(m), freshness: new Float32Array(m),
  weights: { similarity: 1, prior: 0, freshness: 0 }, exclusions: Array.from({ length: n }, () => [1]), k: 5 },
  { threads: 2 }).then((s) => console.log(JSON.stringify({ threads: s.threads, last: topOf(s, n - 1).indexes })));
`,
      );
      await build({
        entryPoints: [entry],
        bundle: true,
        minify: true,
        platform: 'node',
        target: 'node22',
        format: 'cjs',
        outfile: join(dir, 'entry.js'),
        logLevel: 'silent',
      });
      const n = 9;
      const users = new Float32Array(n * D).map((_, i) => Math.sin(i));
      const articles = new Float32Array(30 * D).map((_, i) => Math.cos(i * 0.7));
      const inProcess = await scoreShard({
        users,
        articles,
        prior: new Float32Array(30),
        freshness: new Float32Array(30),
        weights: { similarity: 1, prior: 0, freshness: 0 },
        exclusions: Array.from({ length: n }, () => [1]),
        k: 5,
      });

      // Act
      const run = spawnSync(process.execPath, [join(dir, 'entry.js')], { encoding: 'utf8' });

      // Assess
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout)).toEqual({ threads: 2, last: topOf(inProcess, n - 1).indexes });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
