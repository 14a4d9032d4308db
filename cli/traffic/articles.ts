import { TrafficGenerator, type TrafficOptions } from './generator';
import type { Category } from './population';
import { Random } from './random';

/**
 * The articles the traffic generator's clicks point at, as a crawler would send them: Japanese
 * headlines and bodies per category, deterministic by seed. The ids and categories come from
 * the generator's own population (same seed, users and articles), so every article a generated
 * click names has a document here, and `logbase articles load` gives it a vector.
 */

/** A crawled article as POST /v1/articles takes it. */
export interface GeneratedArticle {
  article_id: string;
  title: string;
  body: string;
  category: string;
  published_at: string;
  tags: string[];
}

/** Options of an article set: the generator's (seed, users, articles) and when the newest was published. */
export type ArticleSetOptions = Pick<
  TrafficOptions,
  'seed' | 'users' | 'articles' | 'userSkew' | 'articleSkew'
> & {
  /** Epoch ms the set is published up to (articles spread over the 7 days before; default now). */
  now?: number;
};

/** A story: the words its articles share, on top of their category's. */
interface Story {
  subjects: string[];
  topics: string[];
  verbs: string[];
  tags: string[];
}

const STORIES: Record<Category, Story[]> = {
  entertainment: [
    {
      subjects: ['人気俳優', '主演女優', '映画監督', '新人俳優'],
      topics: ['映画', '主演', '興行収入', '撮影', '公開', '舞台挨拶', '続編'],
      verbs: ['発表', '公開', '出演'],
      tags: ['映画', '俳優'],
    },
    {
      subjects: ['アイドルグループ', '歌手', 'バンド', '作曲家'],
      topics: ['新曲', 'アルバム', 'ライブ', 'ツアー', 'ファン', 'チケット', '配信'],
      verbs: ['発売', '開催', '披露'],
      tags: ['音楽', 'ライブ'],
    },
    {
      subjects: ['人気ドラマ', '脚本家', '放送局', '声優'],
      topics: ['ドラマ', '最終回', '視聴率', 'アニメ', '放送', '原作', '配役'],
      verbs: ['放送', '決定', '制作'],
      tags: ['ドラマ', 'アニメ'],
    },
  ],
  sports: [
    {
      subjects: ['日本代表', '代表監督', 'ストライカー', 'Jリーグ'],
      topics: ['サッカー', 'ワールドカップ', '予選', 'ゴール', '得点', '守備', '試合'],
      verbs: ['勝利', '敗戦', '招集'],
      tags: ['サッカー', '日本代表'],
    },
    {
      subjects: ['エース投手', '監督', '強打者', '球団'],
      topics: ['野球', 'プロ野球', '本塁打', '投手', '打率', '優勝', '甲子園'],
      verbs: ['完封', '逆転', '契約'],
      tags: ['野球', 'プロ野球'],
    },
    {
      subjects: ['横綱', '大関', '親方', '力士'],
      topics: ['大相撲', '場所', '土俵', '取組', '番付', '優勝', '稽古'],
      verbs: ['勝ち越し', '昇進', '休場'],
      tags: ['相撲', '大相撲'],
    },
  ],
  tech: [
    {
      subjects: ['新興企業', '研究チーム', '大手IT企業', '開発者'],
      topics: ['人工知能', '生成AI', '機械学習', 'データ', 'モデル', '半導体', '計算'],
      verbs: ['開発', '発表', '導入'],
      tags: ['AI', '半導体'],
    },
    {
      subjects: ['携帯大手', 'スマートフォン', '通信会社', 'メーカー'],
      topics: ['スマートフォン', '新機種', '通信', 'アプリ', '電池', 'カメラ', '料金'],
      verbs: ['発売', '値下げ', '提供'],
      tags: ['スマホ', '通信'],
    },
    {
      subjects: ['宇宙機関', 'ロケット', '探査機', '衛星'],
      topics: ['宇宙', 'ロケット', '打ち上げ', '探査', '軌道', '月面', '観測'],
      verbs: ['成功', '延期', '着陸'],
      tags: ['宇宙', 'ロケット'],
    },
  ],
  economy: [
    {
      subjects: ['日銀', '政府', '財務省', '中央銀行'],
      topics: ['金利', '金融政策', '利上げ', '物価', '円相場', '為替', 'インフレ'],
      verbs: ['決定', '据え置き', '表明'],
      tags: ['日銀', '金利'],
    },
    {
      subjects: ['日経平均', '投資家', '証券会社', '東証'],
      topics: ['株価', '株式市場', '上場', '決算', '売買', '相場', '時価総額'],
      verbs: ['上昇', '下落', '反発'],
      tags: ['株価', '市場'],
    },
    {
      subjects: ['自動車大手', '小売り大手', '企業', '労働組合'],
      topics: ['賃上げ', '春闘', '雇用', '売上高', '業績', '工場', '輸出'],
      verbs: ['回復', '増益', '減益'],
      tags: ['企業', '雇用'],
    },
  ],
  world: [
    {
      subjects: ['米大統領', '国務長官', '議会', 'ホワイトハウス'],
      topics: ['大統領選', '選挙', '外交', '制裁', '同盟', '首脳会談', '議会'],
      verbs: ['会談', '表明', '署名'],
      tags: ['米国', '外交'],
    },
    {
      subjects: ['欧州連合', '首脳', '欧州委員会', '各国'],
      topics: ['欧州', '難民', 'エネルギー', '気候変動', '合意', '会議', '規制'],
      verbs: ['合意', '協議', '採択'],
      tags: ['欧州', '気候'],
    },
    {
      subjects: ['国連', '停戦仲介', '人道団体', '周辺国'],
      topics: ['紛争', '停戦', '人道支援', '難民', '国境', '交渉', '避難'],
      verbs: ['協議', '要請', '延長'],
      tags: ['国連', '紛争'],
    },
  ],
  local: [
    {
      subjects: ['気象台', '自治体', '消防', '住民'],
      topics: ['大雨', '台風', '避難', '警報', '土砂災害', '浸水', '停電'],
      verbs: ['発表', '警戒', '復旧'],
      tags: ['天気', '防災'],
    },
    {
      subjects: ['商店街', '観光協会', '市長', '祭り実行委員会'],
      topics: ['祭り', '観光客', '名物', '花火大会', '紅葉', '温泉', '地域'],
      verbs: ['開催', '再開', '人気'],
      tags: ['観光', '祭り'],
    },
    {
      subjects: ['県警', '警察', '容疑者', '交通'],
      topics: ['事故', '逮捕', '交通規制', '渋滞', '鉄道', '運転見合わせ', '捜査'],
      verbs: ['逮捕', '発生', '再開'],
      tags: ['事件', '交通'],
    },
  ],
};

const PLACES = ['東京', '大阪', '名古屋', '札幌', '福岡', '横浜', '京都', '仙台', '広島', '神戸'];
const OPENINGS = ['関係者によると', '発表によると', '取材によると', '同日'];
const CLOSINGS = [
  '今後の動向が注目される。',
  '詳しい経緯を調べている。',
  '影響の広がりが懸念される。',
  '関係者は対応を急いでいる。',
];

/** One sentence of a story; only the first names a source ("関係者によると"), as a lead does. */
function sentence(random: Random, story: Story, first: boolean): string {
  const subject = random.pick(story.subjects);
  const a = random.pick(story.topics);
  const b = random.pick(story.topics.filter((t) => t !== a));
  const verb = random.pick(story.verbs);
  if (first)
    return `${random.pick(OPENINGS)}、${random.pick(PLACES)}で${subject}が${a}と${b}について${verb}した。`;
  return `${subject}は${a}の${b}を${verb}した。`;
}

/** The document of one generated article, from the set's seed and the article's id alone. */
function articleDocument(
  id: string,
  category: Category,
  seed: number | string,
  newest: number,
): GeneratedArticle {
  const random = new Random(`${seed}:${id}`);
  const story = random.pick(STORIES[category]);
  const sentences = Array.from({ length: 3 + random.int(4) }, (_, i) => sentence(random, story, i === 0));
  const title = `${random.pick(story.subjects)}、${random.pick(story.topics)}で${random.pick(story.verbs)}`;
  const published = newest - random.int(7 * 24 * 3600) * 1000;
  return {
    article_id: id,
    title,
    body: `${sentences.join('')}${random.pick(CLOSINGS)}`,
    category,
    published_at: new Date(Math.floor(published / 1000) * 1000).toISOString(),
    tags: random.chance(0.8) ? [random.pick(story.tags)] : [],
  };
}

/**
 * Every article of the generator's population for these options, in the population's order.
 * `seed` is required: without one the generator draws a random seed, and the ids would match
 * nothing sent.
 */
export function generateArticles(options: ArticleSetOptions & { seed: number | string }): GeneratedArticle[] {
  const { now, ...traffic } = options;
  const newest = now ?? Date.now();
  const population = new TrafficGenerator({ ...traffic, concurrentSessions: 1 }).population;
  return population.feeds.top.articles.map((a) => articleDocument(a.id, a.category, options.seed, newest));
}
