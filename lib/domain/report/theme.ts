/** Colours and fonts of the KPI page, shared by its CSS and its charts. */

/** System fonts only (the page downloads nothing): each OS's Japanese UI font, then common fallbacks. */
export const FONT_STACK =
  '-apple-system, BlinkMacSystemFont, "Segoe UI", "Hiragino Sans", "Hiragino Kaku Gothic ProN", "Yu Gothic UI", Meiryo, "Noto Sans CJK JP", "Noto Sans JP", "IPAPGothic", "IPAGothic", sans-serif';

export const CHART_COLORS = {
  text: '#374151',
  grid: '#e5e7eb',
  primary: '#2563eb',
  good: '#0d9488',
  bad: '#dc2626',
  threshold: '#b91c1c',
  newUsers: '#f59e0b',
  returningUsers: '#2563eb',
  platform: { ios: '#2563eb', android: '#16a34a', web: '#9333ea' } as Record<string, string>,
  eventType: {
    impression: '#60a5fa',
    click: '#2563eb',
    ad_impression: '#f59e0b',
    action: '#10b981',
  } as Record<string, string>,
  series: ['#2563eb', '#f59e0b', '#10b981', '#9333ea', '#ef4444', '#0891b2'],
};
