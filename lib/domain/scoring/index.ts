/**
 * Batch scoring kernel: for every user of a shard, the top-K articles. Pure (no AWS imports); the
 * batch chain's score task decodes the vectors and exclusions, calls {@link scoreShard}, and writes
 * what it returns.
 *
 * The score of article j for user u (all in float32):
 *
 *     score(u, j) = weights.similarity * dot(user[u], article[j])
 *                 + weights.prior * prior[j] + weights.freshness * freshness[j]
 *
 * `prior` is the article's CTR prior (e.g. the posterior mean of its Beta), `freshness` its decay
 * (e.g. exp(-age / tau)); both are per article, so the kernel folds them into one bias per article
 * and the similarity weight into the packed article vectors. Kept per user: the K best articles
 * not in the user's exclusions, ranked by score descending, then article index ascending (the
 * tie-break, deterministic). Vectors are used as given (the stored ones are L2-normalised, so the
 * dot product is the cosine).
 *
 * Users without a vector are not the kernel's business: the caller leaves them out of `users` and
 * gives them the popular list. Exclusions are article indexes (positions in `articles`); a clicked
 * article that is not among the scored ones has no index and is simply not passed.
 *
 * Kernels (chosen once at load with `WebAssembly.validate`, or forced by `options.kernel`):
 * `relaxed-simd` (kernel.wat with f32x4.relaxed_madd: a fused multiply-add where the CPU has one,
 * as on arm64 and x86-64 with FMA3), `simd` (WebAssembly SIMD 128: multiply then add), and `js`
 * (blocked plain JavaScript). Relaxed SIMD may round the multiply-add once or twice depending on
 * the machine, so scores can differ by an ulp between an arm64 Lambda and an x86-64 laptop; on one
 * machine a run is deterministic.
 */
import { Worker } from 'node:worker_threads';
import {
  DIMENSIONS,
  type KernelJob,
  type KernelOutput,
  packArticles,
  runJsKernel,
  runWasmKernel,
  TILE,
} from './kernel';
import { RELAXED_SIMD_WASM, SIMD_WASM } from './kernel-wasm';

export type KernelName = 'relaxed-simd' | 'simd' | 'js';

/** Weights of the score's three terms (see the module comment). */
export interface ScoringWeights {
  similarity: number;
  prior: number;
  freshness: number;
}

/** One shard to score. */
export interface ScoreShardInput {
  /** n users, row-major: user u is users[u * 128 .. u * 128 + 127]. */
  users: Float32Array;
  /** Per user (n entries), the article indexes never to recommend (what the user clicked). */
  exclusions: ReadonlyArray<Iterable<number>>;
  /** m articles, row-major, 128 floats each. */
  articles: Float32Array;
  /** m CTR priors. */
  prior: Float32Array;
  /** m freshness decays. */
  freshness: Float32Array;
  weights: ScoringWeights;
  /** Articles kept per user; 20 when left out. */
  k?: number;
}

export interface ScoreShardOptions {
  /** Threads to score on: the calling thread plus threads - 1 worker threads, users split between them. 1 when left out. */
  threads?: number;
  /** Force a kernel (tests, benchmarks); the best the engine validates when left out. */
  kernel?: KernelName;
  /** Articles per cache-resident chunk of the panel (a multiple of 12 is used); 768 when left out. */
  chunkArticles?: number;
}

/**
 * Per user u, slots u * k .. u * k + k - 1 hold the kept articles best first: `indexes` (article
 * indexes, -1 past the kept ones) and `scores` (NaN there); `counts[u]` says how many are kept
 * (fewer than k only when fewer articles are left after the exclusions).
 */
export interface ScoredShard {
  k: number;
  indexes: Int32Array;
  scores: Float32Array;
  counts: Int32Array;
  kernel: KernelName;
  threads: number;
  /** WebAssembly memory taken by the run, all threads together (bytes; 0 for the JS kernel). */
  memoryBytes: number;
}

/** A shard's input that cannot be scored; the message names the field and the offending value. */
export class ScoringInputError extends RangeError {
  override name = 'ScoringInputError';
}

const BINARIES: Record<'relaxed-simd' | 'simd', Uint8Array> = {
  'relaxed-simd': Buffer.from(RELAXED_SIMD_WASM, 'base64'),
  simd: Buffer.from(SIMD_WASM, 'base64'),
};

/** The kernels this engine can run, best first (the last is always `js`). */
export const AVAILABLE_KERNELS: readonly KernelName[] = [
  ...(['relaxed-simd', 'simd'] as const).filter((name) => WebAssembly.validate(BINARIES[name])),
  'js',
];

const modules = new Map<KernelName, WebAssembly.Module>();

function compiled(kernel: 'relaxed-simd' | 'simd'): WebAssembly.Module {
  let module = modules.get(kernel);
  if (module === undefined) {
    module = new WebAssembly.Module(BINARIES[kernel]);
    modules.set(kernel, module);
  }
  return module;
}

/** The top-K articles of every user of the shard; see the module comment for the score and the order. */
export async function scoreShard(
  input: ScoreShardInput,
  options: ScoreShardOptions = {},
): Promise<ScoredShard> {
  const k = input.k ?? 20;
  const { n, m } = checkInput(input, k);
  const kernel = options.kernel ?? (AVAILABLE_KERNELS[0] as KernelName);
  if (!AVAILABLE_KERNELS.includes(kernel)) {
    throw new ScoringInputError(
      `kernel ${kernel} does not validate on this engine (${AVAILABLE_KERNELS.join(', ')} do)`,
    );
  }
  const threads = Math.max(1, Math.min(Math.floor(options.threads ?? 1), Math.ceil(n / TILE.users) || 1));
  const chunkBlocks = Math.max(1, Math.round((options.chunkArticles ?? 768) / TILE.articles));
  const { weights } = input;
  const { panel, bias, blocks } = packArticles(
    input.articles,
    m,
    weights.similarity,
    (j) => weights.prior * (input.prior[j] as number) + weights.freshness * (input.freshness[j] as number),
  );
  const { offsets, list } = packExclusions(input.exclusions, m);

  // users split in contiguous slices of whole tile rows, the first one on this thread
  const per = Math.ceil(Math.ceil(n / TILE.users) / threads) * TILE.users;
  const jobs: KernelJob[] = [];
  for (let start = 0; start < n; start += per) {
    const end = Math.min(n, start + per);
    const exStart = offsets[start] as number;
    jobs.push({
      users: input.users.subarray(start * DIMENSIONS, end * DIMENSIONS),
      n: end - start,
      panel,
      bias,
      blocks,
      tileUsers: TILE.users,
      tileArticles: TILE.articles,
      exOffsets: offsets.subarray(start, end + 1).map((offset) => offset - exStart),
      exList: list.subarray(exStart, offsets[end]),
      k,
      chunkBlocks,
    });
  }
  const module = kernel === 'js' ? undefined : compiled(kernel);
  const run = (job: KernelJob) => (module === undefined ? runJsKernel(job) : runWasmKernel(module, job));
  const pending = jobs.slice(1).map((job) => inWorker(module, job));
  const outputs = jobs.length === 0 ? [] : [run(jobs[0] as KernelJob), ...(await Promise.all(pending))];

  const indexes = new Int32Array(n * k);
  const scores = new Float32Array(n * k);
  const counts = new Int32Array(n);
  outputs.forEach((output, i) => {
    indexes.set(output.indexes, i * per * k);
    scores.set(output.scores, i * per * k);
    counts.set(output.counts, i * per);
  });
  const memoryBytes = outputs.reduce((sum, output) => sum + output.memoryBytes, 0);
  return { k, indexes, scores, counts, kernel, threads: jobs.length || 1, memoryBytes };
}

/** User u's kept articles, best first. */
export function topOf(shard: ScoredShard, user: number): { indexes: number[]; scores: number[] } {
  const start = user * shard.k;
  const end = start + (shard.counts[user] as number);
  return {
    indexes: Array.from(shard.indexes.subarray(start, end)),
    scores: Array.from(shard.scores.subarray(start, end)),
  };
}

function checkInput(input: ScoreShardInput, k: number): { n: number; m: number } {
  const { users, articles, prior, freshness, exclusions, weights } = input;
  if (!Number.isInteger(k) || k < 1 || k > 1000)
    throw new ScoringInputError(`k is an integer from 1 to 1000, not ${k}`);
  if (users.length % DIMENSIONS !== 0) {
    throw new ScoringInputError(
      `users holds rows of ${DIMENSIONS} floats; its length ${users.length} is not a multiple`,
    );
  }
  if (articles.length % DIMENSIONS !== 0) {
    throw new ScoringInputError(
      `articles holds rows of ${DIMENSIONS} floats; its length ${articles.length} is not a multiple`,
    );
  }
  const n = users.length / DIMENSIONS;
  const m = articles.length / DIMENSIONS;
  if (prior.length !== m) throw new ScoringInputError(`prior has ${prior.length} values for ${m} articles`);
  if (freshness.length !== m)
    throw new ScoringInputError(`freshness has ${freshness.length} values for ${m} articles`);
  if (exclusions.length !== n)
    throw new ScoringInputError(`exclusions has ${exclusions.length} entries for ${n} users`);
  for (const name of ['similarity', 'prior', 'freshness'] as const) {
    if (!Number.isFinite(weights[name]))
      throw new ScoringInputError(`weights.${name} is not a finite number`);
  }
  const finite = (values: Float32Array, what: string, perRow: number) => {
    // x * 0 is 0 for a finite x and NaN for NaN or an infinity: one fast pass, the offender only on failure
    let probe = 0;
    for (let i = 0; i < values.length; i++) probe += (values[i] as number) * 0;
    if (probe === 0) return;
    const i = values.findIndex((value) => !Number.isFinite(value));
    throw new ScoringInputError(`${what} ${Math.floor(i / perRow)} holds ${values[i]}`);
  };
  finite(users, 'the vector of user', DIMENSIONS);
  finite(articles, 'the vector of article', DIMENSIONS);
  finite(prior, 'the prior of article', 1);
  finite(freshness, 'the freshness of article', 1);
  return { n, m };
}

/** The exclusions as sorted, deduplicated runs: user u's are list[offsets[u] .. offsets[u + 1]). */
function packExclusions(
  exclusions: ReadonlyArray<Iterable<number>>,
  m: number,
): { offsets: Int32Array; list: Int32Array } {
  const offsets = new Int32Array(exclusions.length + 1);
  let list = new Int32Array(Math.max(16, exclusions.length * 8));
  let at = 0;
  const refuse = (u: number, index: unknown) => {
    throw new ScoringInputError(`exclusions[${u}] holds ${index}, not an article index (0 to ${m - 1})`);
  };
  for (let u = 0; u < exclusions.length; u++) {
    const excluded = exclusions[u] as Iterable<number>;
    const values = Array.isArray(excluded) ? (excluded as readonly number[]) : Array.from(excluded);
    if (at + values.length > list.length) {
      const grown = new Int32Array(Math.max(list.length * 2, at + values.length));
      grown.set(list);
      list = grown;
    }
    const start = at;
    for (let i = 0; i < values.length; i++) {
      const index = values[i] as number;
      if (!(index >= 0 && index < m && Number.isInteger(index))) refuse(u, index);
      list[at++] = index;
    }
    list.subarray(start, at).sort();
    let kept = start;
    for (let i = start; i < at; i++)
      if (kept === start || list[i] !== list[kept - 1]) list[kept++] = list[i] as number;
    at = kept;
    offsets[u + 1] = at;
  }
  return { offsets, list: list.subarray(0, at) };
}

let workerSource: string | undefined;

/** Runs one job on a new worker thread, from the kernels' own source text (nothing to ship beside the bundle). */
function inWorker(module: WebAssembly.Module | undefined, job: KernelJob): Promise<KernelOutput> {
  // __name: esbuild's keepNames (tsx uses it) wraps inner functions in calls to a helper of the bundle
  workerSource ??= `
const { parentPort, workerData } = require('node:worker_threads');
var __name = (target) => target;
const runWasmKernel = ${runWasmKernel.toString()};
const runJsKernel = ${runJsKernel.toString()};
const { module, job } = workerData;
const out = module === undefined ? runJsKernel(job) : runWasmKernel(module, job);
parentPort.postMessage(out, [out.indexes.buffer, out.scores.buffer, out.counts.buffer]);
`;
  // the worker's own copy of its users, so the whole shard is not cloned into every worker
  const own = {
    ...job,
    users: job.users.slice(),
    exOffsets: job.exOffsets.slice(),
    exList: job.exList.slice(),
  };
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerSource as string, {
      eval: true,
      workerData: { module, job: own },
      transferList: [own.users.buffer, own.exOffsets.buffer, own.exList.buffer],
    });
    worker.once('message', (out: KernelOutput) => {
      resolve(out);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) =>
      reject(new Error(`scoring worker exited with code ${code} before answering`)),
    );
  });
}
