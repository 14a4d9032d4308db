import { VECTOR_DIMENSIONS } from './vectors';

/**
 * Article vectors without a model: feature hashing of the article's words. Pure, deterministic,
 * no download, no AWS import. Behind {@link Vectorizer}, so an embedding model can replace it
 * (docs/ARCHITECTURE.md, "Article vectors").
 */

/** What a vectorizer reads of an article. */
export interface ArticleText {
  title: string;
  body: string;
  category: string;
  tags?: readonly string[];
}

/**
 * Turns an article into a unit vector. `model` is stored with every vector (the `model`
 * attribute of ArticleVectors): vectors of different models are never compared.
 */
export interface Vectorizer {
  readonly model: string;
  readonly dimensions: number;
  vectorize(article: ArticleText): Float32Array;
}

/** Weight of one occurrence of a token per field, before the sublinear tf (1 + ln tf). */
export const FIELD_WEIGHTS = { title: 2, body: 1, category: 1.5, tag: 1.5 } as const;

/** A word-like segment longer than this many characters of Japanese script is read as character bigrams. */
export const LONGEST_WORD = 10;

/** The part of Intl.Segmenter tokenize uses (a test hands in one that behaves like a runtime without ICU's Japanese dictionary). */
export type WordSegmenter = Pick<Intl.Segmenter, 'segment'>;

const segmenter = new Intl.Segmenter('ja', { granularity: 'word' });
// ICU loads its Japanese dictionary on the first text that needs it, and splits some runs
// differently afterwards (measured, Node 22 / ICU 78: twelve "ー" are one word before, twelve
// after). Loading it now makes every article's tokens the same, first call of a container or not.
for (const _ of segmenter.segment('日本語の辞書')) void _;
/** Han, hiragana, katakana (and the prolonged sound mark): Japanese script. */
const JAPANESE = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}ー々〆]+$/u;
/** One or two hiragana: particles and inflections (の, が, を, した, ます, ...), which say nothing of the topic. */
const SHORT_KANA = /^\p{Script=Hiragana}{1,2}$/u;

/** Character bigrams of a run: 衆議院議員選挙 → 衆議, 議院, 院議, 議員, 員選, 選挙. */
function bigrams(run: string, out: string[]): void {
  const chars = [...run];
  for (let i = 0; i + 1 < chars.length; i++) out.push(`${chars[i]}${chars[i + 1]}`);
}

/**
 * The words of a text, for hashing: NFKC-folded (full-width letters and digits become ASCII),
 * lower-cased, split by ICU's word segmenter (`Intl.Segmenter('ja')`, a dictionary for Japanese,
 * spaces and punctuation for the rest). Punctuation and words of one or two hiragana are dropped; a run of
 * Japanese script the segmenter left longer than {@link LONGEST_WORD} characters becomes its
 * character bigrams: the fallback for a runtime whose ICU has no Japanese dictionary (small-icu
 * builds hand back whole runs). Node 22's full ICU splits even unknown compounds into known
 * words or single characters, so there it seldom fires.
 */
export function tokenize(text: string, words: WordSegmenter = segmenter): string[] {
  const out: string[] = [];
  for (const { segment, isWordLike } of words.segment(text.normalize('NFKC').toLowerCase())) {
    if (!isWordLike || SHORT_KANA.test(segment)) continue;
    if (segment.length > LONGEST_WORD && JAPANESE.test(segment)) bigrams(segment, out);
    else out.push(segment);
  }
  return out;
}

/** 32-bit FNV-1a of a string's UTF-16 code units, finished with murmur3's fmix32 so every bit mixes. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Signed feature hashing into `dimensions` (a power of two): each distinct token adds
 * `weight * (1 + ln tf)` to one dimension, with a sign from another bit of its hash, so that
 * collisions cancel out on average instead of piling up. Title and body words share features (the
 * same word in both counts in both); category and tags get their own (`c:`, `t:` prefixes). The
 * sum is L2-normalised (float64, then stored as float32).
 */
export class HashingVectorizer implements Vectorizer {
  readonly model = 'hash-v1';
  readonly dimensions: number;
  private readonly mask: number;
  private readonly shift: number;

  constructor(dimensions = VECTOR_DIMENSIONS) {
    if (!Number.isInteger(Math.log2(dimensions)))
      throw new RangeError(`dimensions must be a power of two, got ${dimensions}`);
    this.dimensions = dimensions;
    this.mask = dimensions - 1;
    this.shift = Math.log2(dimensions);
  }

  vectorize(article: ArticleText): Float32Array {
    const sums = new Float64Array(this.dimensions);
    this.addField(sums, tokenize(article.title), '', FIELD_WEIGHTS.title);
    this.addField(sums, tokenize(article.body), '', FIELD_WEIGHTS.body);
    this.addField(sums, [article.category.normalize('NFKC').toLowerCase()], 'c:', FIELD_WEIGHTS.category);
    const tags = (article.tags ?? []).map((t) => t.normalize('NFKC').toLowerCase());
    this.addField(sums, tags, 't:', FIELD_WEIGHTS.tag);
    let norm = 0;
    for (const v of sums) norm += v * v;
    const out = new Float32Array(this.dimensions);
    if (norm === 0) return out;
    const scale = 1 / Math.sqrt(norm);
    for (let i = 0; i < this.dimensions; i++) out[i] = (sums[i] as number) * scale;
    return out;
  }

  private addField(sums: Float64Array, tokens: readonly string[], prefix: string, weight: number): void {
    const counts = new Map<string, number>();
    for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
    for (const [token, tf] of counts) {
      const h = hash32(prefix + token);
      const sign = (h >>> this.shift) & 1 ? -1 : 1;
      sums[h & this.mask] = (sums[h & this.mask] as number) + sign * weight * (1 + Math.log(tf));
    }
  }
}

/** The vectorizer the platform runs today. */
export const defaultVectorizer: Vectorizer = new HashingVectorizer();
