/**
 * What the KPI page calls things, in Japanese for the team that reads it (shared by the server-side
 * HTML and the page script that draws the charts). A value with no label is shown as it is.
 */

const TABS: Record<string, string> = {
  top: 'トップ',
  entertainment: 'エンタメ',
  sports: 'スポーツ',
  tech: 'テクノロジー',
  economy: '経済',
  world: '国際',
  local: '地域',
};

const PLATFORMS: Record<string, string> = { ios: 'iOS', android: 'Android', web: 'Web' };

const EVENT_TYPES: Record<string, string> = {
  click: 'クリック',
  impression: 'インプレッション',
  ad_impression: '広告インプレッション',
  action: 'アクション',
};

const STAGES: Record<string, string> = {
  collect: '収集',
  format: '整形',
  articles: '記事ベクトル',
};

const label = (names: Record<string, string>) => (id: string) =>
  Object.hasOwn(names, id) ? (names[id] as string) : id;

export const tabLabel = label(TABS);
export const platformLabel = label(PLATFORMS);
export const eventTypeLabel = label(EVENT_TYPES);
export const stageLabel = label(STAGES);

/** A fraction as a percentage: 0.04213 -> "4.21%" (null -> "–"). */
export function percent(fraction: number | null, digits = 2): string {
  return fraction === null ? '–' : `${(fraction * 100).toFixed(digits)}%`;
}

/** An integer with thousands separators: 182345 -> "182,345". */
export function count(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** A count in Japanese units for an axis: 7_756_922 -> "775.7万", 120_000_000 -> "1.2億". */
export function compact(value: number): string {
  const trim = (n: number) => String(Number(n.toFixed(1)));
  if (Math.abs(value) >= 1e8) return `${trim(value / 1e8)}億`;
  if (Math.abs(value) >= 1e4) return `${trim(value / 1e4)}万`;
  return count(value);
}

/** A duration in Japanese units: 45 -> "45 秒", 750 -> "12 分", 11_100 -> "3 時間 5 分". */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} 秒`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} 分`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 === 0 ? `${hours} 時間` : `${hours} 時間 ${minutes % 60} 分`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days} 日` : `${days} 日 ${hours % 24} 時間`;
}
