import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { HashingVectorizer, hash32, tokenize, type WordSegmenter } from '../../../lib/domain/vectorizer';
import { VECTOR_DIMENSIONS } from '../../../lib/domain/vectors';

const ROOT = resolve(__dirname, '../../..');
const vectorizer = new HashingVectorizer();

const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * (b[i] as number), 0);
const norm = (a: Float32Array) => Math.sqrt(dot(a, a));

const RATE_HIKE = {
  title: '日銀が金利を引き上げ、円相場が急騰',
  body: '日本銀行は金融政策決定会合で政策金利の引き上げを決めた。円相場は対ドルで急騰し、株価は下落した。',
  category: 'economy',
  tags: ['日銀', '金利'],
};
const RATE_HIKE_AGAIN = {
  title: '円高進む　日銀の利上げ受け株価下落',
  body: '日銀の利上げ決定を受けて円相場が上昇し、日経平均株価は大きく下落した。金融政策の転換が市場に広がる。',
  category: 'economy',
  tags: ['日銀'],
};
const FOOTBALL = {
  title: 'サッカー日本代表、ワールドカップ予選で勝利',
  body: 'サッカー日本代表はワールドカップ予選でオーストラリアに勝利し、本大会出場に近づいた。監督は守備を評価した。',
  category: 'sports',
  tags: ['サッカー'],
};

describe('Japanese tokens', () => {
  it('are the words of the text, not its characters', () => {
    // Act
    const tokens = tokenize('東京都の新しい経済政策が発表されました。');

    // Assess
    expect(tokens).toEqual(['東京', '都', '新しい', '経済', '政策', '発表']);
  });

  it('keep a katakana loanword whole and drop particles and punctuation', () => {
    expect(tokenize('サッカー日本代表がワールドカップで勝利！')).toEqual([
      'サッカー',
      '日本',
      '代表',
      'ワールドカップ',
      '勝利',
    ]);
  });

  it('fold full-width letters and half-width katakana into one spelling', () => {
    expect(tokenize('ＩＰｈｏｎｅの新機種')).toEqual(tokenize('iPhoneの新機種'));
    expect(tokenize('ﾆｭｰｽ速報')).toEqual(['ニュース', '速報']);
  });

  it('read a run the segmenter leaves longer than 10 characters as character bigrams', () => {
    // Prepare: a segmenter without a Japanese dictionary, which hands back whole runs of script.
    const noDictionary: WordSegmenter = {
      segment: (text: string) =>
        [...text.matchAll(/[\p{L}\p{N}ー]+|[^\p{L}\p{N}ー]+/gu)].map((m) => ({
          segment: m[0],
          index: m.index,
          input: text,
          isWordLike: /[\p{L}\p{N}]/u.test(m[0]),
        })) as unknown as Intl.Segments,
    };

    // Act
    const tokens = tokenize('衆議院議員選挙投票率過去最低、東京都', noDictionary);

    // Assess
    expect(tokens).toEqual([
      '衆議',
      '議院',
      '院議',
      '議員',
      '員選',
      '選挙',
      '挙投',
      '投票',
      '票率',
      '率過',
      '過去',
      '去最',
      '最低',
      '東京都',
    ]);
  });

  it('are the same on the first call of a process as on later ones', () => {
    // Prepare: ICU splits a run of "ー" one way before its Japanese dictionary is loaded, another after.
    const text = 'ーーーーーーーーーーーー';
    const script = `console.log(JSON.stringify(require('./lib/domain/vectorizer.ts').tokenize(${JSON.stringify(text)})))`;

    // Act: the first tokenize of a fresh process, then one in this process (dictionary long loaded).
    const first = JSON.parse(
      execFileSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: ROOT, encoding: 'utf8' }),
    );
    const later = tokenize(text);

    // Assess
    expect(first).toEqual(later);
  });
});

describe('The hashing vectorizer', () => {
  it('gives the same bytes for the same article, every time', () => {
    // Act
    const first = vectorizer.vectorize(RATE_HIKE);
    const second = new HashingVectorizer().vectorize(structuredClone(RATE_HIKE));

    // Assess
    expect(Buffer.from(second.buffer)).toEqual(Buffer.from(first.buffer));
  });

  it('makes 128-dimension vectors of unit length', () => {
    for (const article of [RATE_HIKE, RATE_HIKE_AGAIN, FOOTBALL]) {
      const vector = vectorizer.vectorize(article);
      expect(vector).toHaveLength(VECTOR_DIMENSIONS);
      expect(norm(vector)).toBeCloseTo(1, 6);
    }
  });

  it('puts two articles on the same story closer than an article on another subject', () => {
    // Act
    const a = vectorizer.vectorize(RATE_HIKE);
    const b = vectorizer.vectorize(RATE_HIKE_AGAIN);
    const c = vectorizer.vectorize(FOOTBALL);

    // Assess
    expect(dot(a, b)).toBeGreaterThan(0.3);
    expect(dot(a, b)).toBeGreaterThan(dot(a, c) + 0.1);
    expect(dot(a, b)).toBeGreaterThan(dot(b, c) + 0.1);
  });

  it('moves the vector when only the category or a tag changes', () => {
    const base = vectorizer.vectorize(FOOTBALL);
    expect(dot(base, vectorizer.vectorize({ ...FOOTBALL, category: 'world' }))).toBeLessThan(0.99);
    expect(dot(base, vectorizer.vectorize({ ...FOOTBALL, tags: ['代表'] }))).toBeLessThan(0.99);
  });

  it('names its model, which is stored with every vector', () => {
    expect(vectorizer.model).toBe('hash-v1');
    expect(vectorizer.dimensions).toBe(VECTOR_DIMENSIONS);
  });

  it('hashes a token to the same 32 bits on every platform', () => {
    // Fixed values: a change here changes every stored vector and needs a new model name.
    expect([hash32(''), hash32('東京'), hash32('c:sports')]).toMatchSnapshot();
  });
});
