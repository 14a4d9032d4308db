import { applyDefect, type DefectKind, type EventRecord, pickDefect } from './defects';
import {
  type Ad,
  type Article,
  buildPopulation,
  CATEGORIES,
  type Population,
  type Tab,
  type User,
} from './population';
import { Random, WeightedSampler } from './random';

/** Settings of a traffic generator; every field has a sensible default. */
export interface TrafficOptions {
  /** Same seed, same traffic (ids, sessions, defects). Default: a random seed. */
  seed?: number | string;
  /** Number of users (default 2,000). */
  users?: number;
  /** Number of articles (default 800). */
  articles?: number;
  /** Number of ad creatives (default 40). */
  ads?: number;
  /** Share of events (0..1) that are broken on purpose (default 0). */
  invalidShare?: number;
  /** Milliseconds since the epoch when an event is emitted (default Date.now). */
  clock?: () => number;
  /** Sessions in progress at once, interleaved in arrival order (default 24). */
  concurrentSessions?: number;
  /** Zipf exponent of user activity (default 1.1). */
  userSkew?: number;
  /** Zipf exponent of article popularity (default 1.0). */
  articleSkew?: number;
}

/** One generated event: valid unless `defect` names how it was broken. */
export interface GeneratedEvent {
  event: EventRecord;
  defect?: DefectKind;
}

/** Raised for generator settings that make no sense. */
export class TrafficOptionsError extends Error {
  override name = 'TrafficOptionsError';
}

const SCHEMA_VERSION = 1;
const BASE_CTR = 0.11;
const AD_EVERY = 5;
const OPEN_SOURCES = ['icon', 'push', 'deeplink', 'widget'];
const OPEN_SOURCE_SAMPLER = new WeightedSampler([0.55, 0.3, 0.1, 0.05]);
const SHARE_CHANNELS = ['line', 'x', 'copy_link', 'facebook', 'mail'];
const SHARE_CHANNEL_SAMPLER = new WeightedSampler([0.45, 0.25, 0.18, 0.08, 0.04]);

/** An event of a session before it is stamped with its id and time at emission. */
type Pending = EventRecord;

function pad(value: number, width = 2): string {
  return String(Math.abs(value)).padStart(width, '0');
}

/** RFC 3339 with milliseconds in the given UTC offset, e.g. `2025-03-01T21:30:00.123+09:00`. */
export function formatTimestamp(ms: number, offsetMinutes: number): string {
  if (offsetMinutes === 0) return new Date(ms).toISOString();
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, -1);
  const sign = offsetMinutes < 0 ? '-' : '+';
  return `${local}${sign}${pad(Math.trunc(offsetMinutes / 60))}:${pad(offsetMinutes % 60)}`;
}

/** Click-through rate of an item at `position`: falls with position, scaled by the headline's appeal. */
export function clickThroughRate(position: number, appeal: number): number {
  return Math.min(0.9, (BASE_CTR * appeal) / (1 + 0.3 * position));
}

/**
 * Realistic news-app traffic: Zipf-skewed users open sessions, scroll feeds of Zipf-popular
 * articles (impressions at positions 0..n), click some (CTR falling with position), see ads in
 * every fifth slot, share, bookmark and open the app. Several sessions run at once and their
 * events interleave in arrival order. With `invalidShare` > 0 that share of events is broken in
 * one of the DEFECT_KINDS ways. Pure: all randomness comes from the seed, all time from `clock`.
 */
export class TrafficGenerator implements Iterable<GeneratedEvent> {
  readonly population: Population;
  private readonly random: Random;
  private readonly clock: () => number;
  private readonly invalidShare: number;
  private readonly sessions: Pending[][];
  private lastTime = Number.NEGATIVE_INFINITY;
  /** The event just emitted when it was valid: what a duplicate (a client retry) copies. */
  private previousValid: EventRecord | undefined;

  constructor(options: TrafficOptions = {}) {
    const invalidShare = options.invalidShare ?? 0;
    if (!(invalidShare >= 0 && invalidShare <= 1)) {
      throw new TrafficOptionsError(`invalidShare must be between 0 and 1, got ${invalidShare}`);
    }
    const concurrent = options.concurrentSessions ?? 24;
    if (!Number.isInteger(concurrent) || concurrent < 1) {
      throw new TrafficOptionsError(`concurrentSessions must be a positive integer, got ${concurrent}`);
    }
    this.random = new Random(options.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.clock = options.clock ?? Date.now;
    this.invalidShare = invalidShare;
    try {
      this.population = buildPopulation(this.random, {
        users: options.users ?? 2000,
        articles: options.articles ?? 800,
        ads: options.ads ?? 40,
        userSkew: options.userSkew ?? 1.1,
        articleSkew: options.articleSkew ?? 1.0,
      });
    } catch (error) {
      throw new TrafficOptionsError(error instanceof Error ? error.message : String(error));
    }
    this.sessions = Array.from({ length: concurrent }, () => this.newSession());
  }

  /** The next event in arrival order. */
  next(): GeneratedEvent {
    const slot = this.random.int(this.sessions.length);
    let session = this.sessions[slot] as Pending[];
    while (session.length === 0) {
      session = this.newSession();
      this.sessions[slot] = session;
    }
    const pending = session.shift() as Pending;
    const user = pending.user as User;
    const now = this.clock();
    // Clients send a little after the fact; arrival order keeps times non-decreasing.
    const at = Math.max(this.lastTime, now - this.random.int(1500));
    this.lastTime = at;
    const { user: _user, ...fields } = pending;
    const event: EventRecord = {
      event_id: this.random.uuidV4(),
      event_type: fields.event_type,
      schema_version: SCHEMA_VERSION,
      user_id: user.id,
      occurred_at: formatTimestamp(at, user.utcOffsetMinutes),
      ...fields,
    };

    if (this.invalidShare === 0 || !this.random.chance(this.invalidShare)) {
      this.previousValid = event;
      return { event };
    }
    const original = this.previousValid;
    this.previousValid = undefined;
    const kind = pickDefect(this.random, event, original !== undefined);
    if (kind === 'duplicate_event_id') {
      // A client retry: the event just sent, again, byte for byte. Collect drops the copy when
      // both are in one request, so a sender must not cut a batch between the two.
      return { event: structuredClone(original) as EventRecord, defect: kind };
    }
    applyDefect(this.random, kind, event, now, (ms) => formatTimestamp(ms, user.utcOffsetMinutes));
    return { event, defect: kind };
  }

  /** The next `count` events. */
  take(count: number): GeneratedEvent[] {
    return Array.from({ length: count }, () => this.next());
  }

  *[Symbol.iterator](): Iterator<GeneratedEvent> {
    for (;;) yield this.next();
  }

  private pickArticle(tab: Tab, seen: Set<Article>): Article {
    const feed = this.population.feeds[tab];
    let article = feed.articles[feed.sampler.sample(this.random)] as Article;
    // A feed rarely shows the same article twice; a few redraws keep the popularity skew.
    for (let tries = 0; seen.has(article) && tries < 4; tries++) {
      article = feed.articles[feed.sampler.sample(this.random)] as Article;
    }
    seen.add(article);
    return article;
  }

  private newSession(): Pending[] {
    const random = this.random;
    const { users, userSampler, ads, adSampler } = this.population;
    const user = users[userSampler.sample(random)] as User;
    const device = { platform: user.platform, app_version: user.appVersion };
    const events: Pending[] = [];

    if (random.chance(0.4)) {
      const coldStart = random.chance(0.6);
      events.push({
        user,
        event_type: 'action',
        action: 'open_app',
        properties: {
          source: OPEN_SOURCES[OPEN_SOURCE_SAMPLER.sample(random)] as string,
          cold_start: coldStart,
          launch_ms: coldStart ? random.between(600, 3500) : random.between(80, 600),
        },
        ...device,
      });
    }

    const views = 1 + random.geometric(0.7);
    let previousTab: Tab | undefined;
    for (let view = 0; view < views; view++) {
      const tab: Tab =
        view === 0 && random.chance(0.6)
          ? 'top'
          : random.chance(0.65)
            ? user.favouriteCategory
            : random.pick(CATEGORIES);
      if (previousTab !== undefined && previousTab !== tab) {
        events.push({
          user,
          event_type: 'action',
          action: 'tab_switch',
          properties: { from: previousTab, to: tab },
          ...device,
        });
      }
      previousTab = tab;
      const depth = Math.min(80, 3 + random.geometric(user.scrollDepth));
      const seen = new Set<Article>();
      for (let position = 0; position < depth; position++) {
        if (position % AD_EVERY === AD_EVERY - 1 && random.chance(0.7)) {
          const ad = ads[adSampler.sample(random)] as Ad;
          events.push({
            user,
            event_type: 'ad_impression',
            ad_id: ad.id,
            ...(ad.campaignId === undefined ? {} : { campaign_id: ad.campaignId }),
            tab,
            position,
            ...device,
          });
          continue;
        }
        const article = this.pickArticle(tab, seen);
        const item = { article_id: article.id, tab, position, ...device };
        events.push({ user, event_type: 'impression', ...item });
        if (!random.chance(clickThroughRate(position, article.appeal))) continue;
        events.push({ user, event_type: 'click', ...item });
        if (random.chance(0.05)) {
          events.push({
            user,
            event_type: 'action',
            action: 'share',
            properties: { channel: SHARE_CHANNELS[SHARE_CHANNEL_SAMPLER.sample(random)] as string },
            article_id: article.id,
            ...device,
          });
        }
        if (random.chance(0.07)) {
          events.push({
            user,
            event_type: 'action',
            action: 'bookmark',
            properties: { tab, position },
            article_id: article.id,
            ...device,
          });
        }
      }
    }
    return events;
  }
}

/** The first `count` events of a generator built with `options`. */
export function generateTraffic(count: number, options: TrafficOptions = {}): GeneratedEvent[] {
  return new TrafficGenerator(options).take(count);
}

/**
 * A simulated clock for files written ahead of time: each call advances by 1000/eventsPerSecond ms,
 * starting at `startMs`.
 */
export function steadyClock(startMs: number, eventsPerSecond: number): () => number {
  if (!(eventsPerSecond > 0))
    throw new TrafficOptionsError(`eventsPerSecond must be > 0, got ${eventsPerSecond}`);
  let calls = 0;
  return () => startMs + (calls++ * 1000) / eventsPerSecond;
}
