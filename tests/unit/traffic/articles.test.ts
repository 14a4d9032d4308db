import { generateArticles } from '../../../cli/traffic/articles';
import { TrafficGenerator } from '../../../cli/traffic/generator';
import { validateArticle } from '../../../lib/schemas/article';

describe('The generated article set', () => {
  it('has a document for every article the traffic of the same seed clicks on, in its category', () => {
    // Prepare
    const options = { seed: 21, users: 300, articles: 150 };
    const set = new Map(generateArticles(options).map((a) => [a.article_id, a]));
    const traffic = new TrafficGenerator(options);

    // Act
    const clicks = Array.from({ length: 5000 }, () => traffic.next().event as Record<string, unknown>).filter(
      (e) => e.event_type === 'click',
    );

    // Assess
    expect(clicks.length).toBeGreaterThan(50);
    for (const click of clicks) {
      const article = set.get(click.article_id as string);
      expect(article).toBeDefined();
      if (click.tab !== 'top') expect(article?.category).toBe(click.tab);
    }
  });

  it('is the same for the same seed and another for another seed', () => {
    const now = Date.parse('2026-11-20T09:00:00Z');
    expect(generateArticles({ seed: 5, articles: 20, now })).toEqual(
      generateArticles({ seed: 5, articles: 20, now }),
    );
    expect(generateArticles({ seed: 6, articles: 20, now })[0]?.article_id).not.toBe(
      generateArticles({ seed: 5, articles: 20, now })[0]?.article_id,
    );
  });

  it('passes the article schema, Japanese headlines and bodies published in the week before', () => {
    const now = Date.parse('2026-11-20T09:00:00Z');
    for (const article of generateArticles({ seed: 8, articles: 200, now })) {
      expect(validateArticle(article)).toEqual({ ok: true, article });
      expect(article.title).toMatch(/\p{Script=Han}|\p{Script=Katakana}/u);
      const published = Date.parse(article.published_at);
      expect(published).toBeLessThanOrEqual(now);
      expect(published).toBeGreaterThan(now - 7 * 24 * 3600 * 1000);
    }
  });
});
