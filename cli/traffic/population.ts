import { type Random, WeightedSampler, zipfWeights } from './random';

/** The feed tabs of the news app; `top` mixes every category, the others are one category each. */
export const TABS = ['top', 'entertainment', 'sports', 'tech', 'economy', 'world', 'local'] as const;
export type Tab = (typeof TABS)[number];
export type Category = Exclude<Tab, 'top'>;
export const CATEGORIES = TABS.filter((t): t is Category => t !== 'top');

export type Platform = 'ios' | 'android' | 'web';

/** One app user: a stable id, a device, and habits. */
export interface User {
  id: string;
  platform: Platform;
  appVersion: string;
  /** Minutes east of UTC the client formats its timestamps in (0 prints `Z`). */
  utcOffsetMinutes: number;
  /** The category this user opens most after `top`. */
  favouriteCategory: Category;
  /** Mean number of items scrolled past in one feed view. */
  scrollDepth: number;
}

/** One article: its category and how attractive its headline is (scales its click-through rate). */
export interface Article {
  id: string;
  category: Category;
  appeal: number;
}

/** One ad creative, usually part of a campaign. */
export interface Ad {
  id: string;
  campaignId?: string;
}

/** A feed's article pool with its popularity sampler. */
export interface Feed {
  articles: Article[];
  sampler: WeightedSampler;
}

/** Everything the sessions draw from: users by activity, articles by popularity per tab, ads. */
export interface Population {
  users: User[];
  userSampler: WeightedSampler;
  feeds: Record<Tab, Feed>;
  ads: Ad[];
  adSampler: WeightedSampler;
}

/** Sizes and skews of a population. */
export interface PopulationOptions {
  users: number;
  articles: number;
  ads: number;
  /** Zipf exponent of user activity: higher means a few users make more of the traffic. */
  userSkew: number;
  /** Zipf exponent of article popularity. */
  articleSkew: number;
}

const PLATFORMS = new WeightedSampler([0.47, 0.4, 0.13]);
const PLATFORM_NAMES: Platform[] = ['ios', 'android', 'web'];
// Most users run the latest release; a tail never updates.
const VERSIONS: Record<Platform, { names: string[]; sampler: WeightedSampler }> = {
  ios: {
    names: ['5.12.0', '5.11.2', '5.10.1', '4.9.8'],
    sampler: new WeightedSampler([0.62, 0.22, 0.1, 0.06]),
  },
  android: {
    names: ['5.12.1', '5.12.0', '5.11.0', '4.8.3'],
    sampler: new WeightedSampler([0.48, 0.27, 0.17, 0.08]),
  },
  web: { names: ['2025.03.1', '2025.02.4'], sampler: new WeightedSampler([0.8, 0.2]) },
};
// Mostly Japan (+09:00); some clients print UTC.
const OFFSETS = [540, 0, -300];
const OFFSET_SAMPLER = new WeightedSampler([0.75, 0.2, 0.05]);
// Category sizes: entertainment and sports publish the most.
const CATEGORY_SAMPLER = new WeightedSampler([0.24, 0.2, 0.14, 0.14, 0.16, 0.12]);

function shuffle<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

function makeUser(random: Random): User {
  const platform = PLATFORM_NAMES[PLATFORMS.sample(random)] as Platform;
  const versions = VERSIONS[platform];
  return {
    id: `u_${random.hex(12)}`,
    platform,
    appVersion: versions.names[versions.sampler.sample(random)] as string,
    utcOffsetMinutes: OFFSETS[OFFSET_SAMPLER.sample(random)] as number,
    favouriteCategory: CATEGORIES[CATEGORY_SAMPLER.sample(random)] as Category,
    scrollDepth: 6 + random.int(20),
  };
}

/** Builds users, articles and ads; ranks (and so popularity) are assigned at random, not by id. */
export function buildPopulation(random: Random, options: PopulationOptions): Population {
  for (const [name, value] of Object.entries({ users: options.users, articles: options.articles })) {
    if (!Number.isInteger(value) || value < 1)
      throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  const users = Array.from({ length: options.users }, () => makeUser(random));
  const userSampler = new WeightedSampler(shuffle(zipfWeights(users.length, options.userSkew), random));

  const articles: Article[] = Array.from({ length: options.articles }, () => ({
    id: `art_${random.hex(10)}`,
    category: CATEGORIES[CATEGORY_SAMPLER.sample(random)] as Category,
    // Log-normal-ish headline appeal around 1.
    appeal: Math.exp((random.next() + random.next() + random.next() - 1.5) * 0.8),
  }));
  const popularity = shuffle(zipfWeights(articles.length, options.articleSkew), random);
  const weightOf = new Map(articles.map((a, i) => [a, popularity[i] as number]));
  const feed = (pool: Article[]): Feed => ({
    articles: pool,
    sampler: new WeightedSampler(pool.map((a) => weightOf.get(a) as number)),
  });
  const feeds = { top: feed(articles) } as Record<Tab, Feed>;
  for (const category of CATEGORIES) {
    const pool = articles.filter((a) => a.category === category);
    // A tiny population may leave a category empty: its tab then shows the whole pool.
    feeds[category] = pool.length > 0 ? feed(pool) : feeds.top;
  }

  const campaigns = Array.from(
    { length: Math.max(1, Math.ceil(options.ads / 4)) },
    () => `cmp_${random.hex(8)}`,
  );
  const ads: Ad[] = Array.from({ length: Math.max(1, options.ads) }, () => {
    const id = `ad_${random.hex(10)}`;
    // House ads and direct deals carry no campaign.
    return random.chance(0.85) ? { id, campaignId: random.pick(campaigns) } : { id };
  });
  const adSampler = new WeightedSampler(zipfWeights(ads.length, 0.8));
  return { users, userSampler, feeds, ads, adSampler };
}
