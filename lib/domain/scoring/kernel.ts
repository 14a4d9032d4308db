/**
 * The two kernels behind `scoreShard`: the WebAssembly one (kernel.wat, relaxed or plain SIMD) and
 * the blocked plain-JavaScript fallback. Both take a {@link KernelJob} (plain data, so a worker
 * thread can receive it) and return a {@link KernelOutput}.
 *
 * `runWasmKernel` and `runJsKernel` are self-contained: they reference nothing outside their own
 * body (no imports, no module constants), because a worker thread runs them from their source text
 * (`Function.prototype.toString`, see `./index.ts`); the unit tests run them bundled and minified as
 * the Lambda ships them.
 */

/** Floats per vector (lib/domain/vectors.ts VECTOR_DIMENSIONS; repeated inside the kernels, which must stay self-contained). */
export const DIMENSIONS = 128;

/** The tile of kernel.wat: users per block (its rows) and articles per panel block (its columns, f32x4 each 4). */
export const TILE = { users: 4, articles: 12 } as const;

/** What one kernel run scores: a slice of users against every article. */
export interface KernelJob {
  /** n rows of {@link DIMENSIONS} float32. */
  users: Float32Array;
  n: number;
  /** Articles packed by {@link packArticles}. */
  panel: Float32Array;
  bias: Float32Array;
  blocks: number;
  /** kernel.wat's tile ({@link TILE}), checked against the module's exports. */
  tileUsers: number;
  tileArticles: number;
  /** User u's excluded article indexes are exList[exOffsets[u] .. exOffsets[u + 1]), sorted ascending. */
  exOffsets: Int32Array;
  exList: Int32Array;
  k: number;
  /** Panel blocks scored by all users before moving on (the cache-resident chunk). */
  chunkBlocks: number;
}

/** Per user, k slots best first: article index (-1 past the kept ones) and score (NaN there). */
export interface KernelOutput {
  indexes: Int32Array;
  scores: Float32Array;
  counts: Int32Array;
  /** Bytes of WebAssembly memory the run took (0 for the JS kernel). */
  memoryBytes: number;
}

/**
 * Packs the articles for the tile: blocks of W = `TILE.articles` articles, dimension-major inside
 * a block (block b, dimension d, article W * b + i at (b * 128 + d) * W + i), each vector multiplied
 * by `similarity`; `bias[j]` is the article's constant part of the score, -Infinity for the
 * padding past the last article (never selected).
 */
export function packArticles(
  articles: Float32Array,
  m: number,
  similarity: number,
  biasOf: (article: number) => number,
): { panel: Float32Array; bias: Float32Array; blocks: number } {
  const w = TILE.articles;
  const blocks = Math.ceil(m / w);
  const panel = new Float32Array(blocks * w * DIMENSIONS);
  const bias = new Float32Array(blocks * w).fill(Number.NEGATIVE_INFINITY);
  for (let j = 0; j < m; j++) {
    const base = Math.floor(j / w) * w * DIMENSIONS + (j % w);
    for (let d = 0; d < DIMENSIONS; d++) {
      panel[base + d * w] = similarity * (articles[j * DIMENSIONS + d] as number);
    }
    bias[j] = biasOf(j);
  }
  return { panel, bias, blocks };
}

/**
 * Runs kernel.wat on a job. `module` is the compiled kernel (relaxed or plain SIMD); memory is
 * laid out as kernel.wat's header describes, sized for the job, and freed with the instance.
 */
export function runWasmKernel(module: WebAssembly.Module, job: KernelJob): KernelOutput {
  const n = job.n;
  const k = job.k;
  const tu = job.tileUsers;
  const tw = job.tileArticles;
  const nPad = Math.ceil(n / tu) * tu;
  const stride = 8 + 8 * k;
  const align = (bytes: number) => (bytes + 15) & ~15;
  let at = 64;
  const usersAt = at;
  at = align(at + nPad * 512);
  const panelAt = at;
  at = align(at + job.blocks * tw * 512);
  const biasAt = at;
  at = align(at + job.blocks * tw * 4);
  const statesAt = at;
  at = align(at + nPad * stride);
  const exOffsetsAt = at;
  at = align(at + (nPad + 1) * 4);
  const exListAt = at;
  at = align(at + job.exList.length * 4);
  const indexesAt = at;
  at = align(at + nPad * k * 4);
  const scoresAt = at;
  at = align(at + nPad * k * 4);
  if (at > 4 * 1024 ** 3 - 65536) {
    throw new RangeError(`a shard of ${n} users needs ${at} bytes of WebAssembly memory (4 GiB at most)`);
  }
  const pages = Math.ceil(at / 65536);
  const memory = new WebAssembly.Memory({ initial: pages });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const exports = instance.exports as {
    score: (...args: number[]) => void;
    finish: (...args: number[]) => void;
    tileUsers: { value: number };
    tileArticles: { value: number };
  };
  if (exports.tileUsers.value !== tu || exports.tileArticles.value !== tw) {
    throw new Error(
      `kernel.wat tiles ${exports.tileUsers.value} x ${exports.tileArticles.value}, the driver packed ${tu} x ${tw}`,
    );
  }
  const buffer = memory.buffer;
  new Float32Array(buffer, usersAt, n * 128).set(job.users.subarray(0, n * 128));
  new Float32Array(buffer, panelAt, job.blocks * tw * 128).set(job.panel);
  new Float32Array(buffer, biasAt, job.blocks * tw).set(job.bias);
  const view = new DataView(buffer);
  for (let u = 0; u < nPad; u++) view.setFloat32(statesAt + u * stride, Number.NEGATIVE_INFINITY, true);
  const exOffsets = new Int32Array(buffer, exOffsetsAt, nPad + 1);
  exOffsets.set(job.exOffsets.subarray(0, n + 1));
  exOffsets.fill(job.exOffsets[n] as number, n + 1);
  new Int32Array(buffer, exListAt, job.exList.length).set(job.exList);
  for (let b = 0; b < job.blocks; b += job.chunkBlocks) {
    const end = Math.min(job.blocks, b + job.chunkBlocks);
    exports.score(usersAt, nPad / tu, panelAt, biasAt, b, end, statesAt, stride, k, exOffsetsAt, exListAt);
  }
  const counts = new Int32Array(n);
  for (let u = 0; u < n; u++) counts[u] = view.getInt32(statesAt + u * stride + 4, true);
  exports.finish(statesAt, stride, k, n, indexesAt, scoresAt);
  return {
    indexes: new Int32Array(buffer.slice(indexesAt, indexesAt + n * k * 4)),
    scores: new Float32Array(buffer.slice(scoresAt, scoresAt + n * k * 4)),
    counts,
    memoryBytes: pages * 65536,
  };
}

/**
 * The fallback where WebAssembly SIMD is missing: the same algorithm in plain JavaScript (tiles of
 * 4 users x 4 articles, a heap per user with the same order and tie-break), about 8x slower.
 */
export function runJsKernel(job: KernelJob): KernelOutput {
  const { users, n, panel, bias, blocks, exOffsets, exList, k } = job;
  const w = job.tileArticles;
  const heapScores = new Float32Array(n * k);
  const heapIndexes = new Int32Array(n * k);
  const counts = new Int32Array(n);
  const threshold = new Float32Array(n).fill(Number.NEGATIVE_INFINITY);
  // entry a ranks below entry b (absolute positions in the heap arrays)
  const worse = (a: number, b: number) =>
    (heapScores[a] as number) < (heapScores[b] as number) ||
    (heapScores[a] === heapScores[b] && (heapIndexes[a] as number) > (heapIndexes[b] as number));
  const swap = (a: number, b: number) => {
    const s = heapScores[a] as number;
    heapScores[a] = heapScores[b] as number;
    heapScores[b] = s;
    const i = heapIndexes[a] as number;
    heapIndexes[a] = heapIndexes[b] as number;
    heapIndexes[b] = i;
  };
  const siftDown = (base: number, count: number) => {
    let c = 0;
    for (;;) {
      let w = c;
      const l = 2 * c + 1;
      if (l < count && worse(base + l, base + w)) w = l;
      if (l + 1 < count && worse(base + l + 1, base + w)) w = l + 1;
      if (w === c) return;
      swap(base + c, base + w);
      c = w;
    }
  };
  const offer = (u: number, score: number, index: number) => {
    let lo = exOffsets[u] as number;
    let hi = exOffsets[u + 1] as number;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const v = exList[mid] as number;
      if (v === index) return;
      if (v < index) lo = mid + 1;
      else hi = mid;
    }
    const base = u * k;
    const count = counts[u] as number;
    if (count < k) {
      let c = count;
      heapScores[base + c] = score;
      heapIndexes[base + c] = index;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!worse(base + c, base + p)) break;
        swap(base + c, base + p);
        c = p;
      }
      counts[u] = count + 1;
      if (count + 1 === k) threshold[u] = heapScores[base] as number;
    } else {
      heapScores[base] = score;
      heapIndexes[base] = index;
      siftDown(base, k);
      threshold[u] = heapScores[base] as number;
    }
  };
  const acc = new Float64Array(16);
  for (let u0 = 0; u0 < n; u0 += 4) {
    const rows = Math.min(4, n - u0);
    const r0 = u0 * 128;
    const r1 = (u0 + Math.min(1, rows - 1)) * 128;
    const r2 = (u0 + Math.min(2, rows - 1)) * 128;
    const r3 = (u0 + Math.min(3, rows - 1)) * 128;
    for (let b = 0; b < blocks; b++) {
      for (let g = 0; g < w; g += 4) {
        let c00 = 0,
          c01 = 0,
          c02 = 0,
          c03 = 0,
          c10 = 0,
          c11 = 0,
          c12 = 0,
          c13 = 0;
        let c20 = 0,
          c21 = 0,
          c22 = 0,
          c23 = 0,
          c30 = 0,
          c31 = 0,
          c32 = 0,
          c33 = 0;
        let q = b * 128 * w + g;
        for (let d = 0; d < 128; d++, q += w) {
          const a0 = panel[q] as number;
          const a1 = panel[q + 1] as number;
          const a2 = panel[q + 2] as number;
          const a3 = panel[q + 3] as number;
          const x0 = users[r0 + d] as number;
          const x1 = users[r1 + d] as number;
          const x2 = users[r2 + d] as number;
          const x3 = users[r3 + d] as number;
          c00 += x0 * a0;
          c01 += x0 * a1;
          c02 += x0 * a2;
          c03 += x0 * a3;
          c10 += x1 * a0;
          c11 += x1 * a1;
          c12 += x1 * a2;
          c13 += x1 * a3;
          c20 += x2 * a0;
          c21 += x2 * a1;
          c22 += x2 * a2;
          c23 += x2 * a3;
          c30 += x3 * a0;
          c31 += x3 * a1;
          c32 += x3 * a2;
          c33 += x3 * a3;
        }
        acc[0] = c00;
        acc[1] = c01;
        acc[2] = c02;
        acc[3] = c03;
        acc[4] = c10;
        acc[5] = c11;
        acc[6] = c12;
        acc[7] = c13;
        acc[8] = c20;
        acc[9] = c21;
        acc[10] = c22;
        acc[11] = c23;
        acc[12] = c30;
        acc[13] = c31;
        acc[14] = c32;
        acc[15] = c33;
        const j0 = b * w + g;
        for (let r = 0; r < rows; r++) {
          const u = u0 + r;
          for (let i = 0; i < 4; i++) {
            const score = Math.fround(Math.fround(acc[r * 4 + i] as number) + (bias[j0 + i] as number));
            if (score > (threshold[u] as number)) offer(u, score, j0 + i);
          }
        }
      }
    }
  }
  const indexes = new Int32Array(n * k).fill(-1);
  const scores = new Float32Array(n * k).fill(Number.NaN);
  for (let u = 0; u < n; u++) {
    const base = u * k;
    for (let count = counts[u] as number; count > 0; ) {
      count--;
      indexes[base + count] = heapIndexes[base] as number;
      scores[base + count] = heapScores[base] as number;
      heapScores[base] = heapScores[base + count] as number;
      heapIndexes[base] = heapIndexes[base + count] as number;
      siftDown(base, count);
    }
  }
  return { indexes, scores, counts, memoryBytes: 0 };
}
