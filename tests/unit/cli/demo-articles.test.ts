import { loadDemoArticles } from '../../../cli/commands/dev';
import { buildProgram } from '../../../cli/main';
import { generateArticles } from '../../../cli/traffic/articles';
import type { LocalStack } from '../../../local/stack';
import { fakeArticlesApi } from './articles-server';

describe('npm start -- --demo', () => {
  it('loads the article set of the seed its traffic will use, before any click', async () => {
    // Prepare
    const api = await fakeArticlesApi();
    const stack = {
      endpoints: { http: api.url },
      config: { functions: { vectorizeArticle: {} } },
    } as unknown as Pick<LocalStack, 'endpoints' | 'config'>;
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);

    // Act
    const summary = await loadDemoArticles(stack, 'lb_local_key', 4242, new AbortController().signal);
    await api.close();
    log.mockRestore();

    // Assess
    expect(summary).toMatchObject({ sent: 800, accepted: 800, rejected: 0, failed: 0 });
    // Four requests in flight: compare the ids sent, not their order.
    expect(api.received.flatMap((r) => r.articles.map((a) => a.article_id)).sort()).toEqual(
      generateArticles({ seed: 4242 })
        .map((a) => a.article_id)
        .sort(),
    );
  });

  it('skips the articles when the stack has no vectorize-article function', async () => {
    const stack = { endpoints: { http: 'http://127.0.0.1:1' }, config: { functions: {} } } as unknown as Pick<
      LocalStack,
      'endpoints' | 'config'
    >;
    expect(await loadDemoArticles(stack, 'k', 1, new AbortController().signal)).toBeUndefined();
  });
});

describe('logbase --help', () => {
  it('lists the articles command, with load and generate under it', () => {
    const articles = buildProgram().commands.find((c) => c.name() === 'articles');
    expect(articles?.commands.map((c) => c.name())).toEqual(['load', 'generate']);
  });
});

describe('logbase dev arguments', () => {
  async function dev(args: string[]): Promise<{ err: string; exitCode: number | undefined }> {
    let err = '';
    const program = buildProgram()
      .exitOverride()
      .configureOutput({ writeOut: () => undefined, writeErr: (s) => (err += s) });
    for (const c of program.commands) c.exitOverride().configureOutput({ writeErr: (s) => (err += s) });
    try {
      await program.parseAsync(['node', 'logbase', 'dev', ...args]);
      return { err, exitCode: undefined };
    } catch (error) {
      return { err, exitCode: (error as { exitCode?: number }).exitCode };
    }
  }

  it.each([
    [['--http-port', '70000'], 'must be a port number (0-65535)'],
    [['--demo', '0'], 'must be a whole number of events >= 1'],
    [['--demo', '--no-offline'], '--demo sends through the HTTP API, which runs on serverless-offline'],
  ])('refuses %j before starting anything: %s', async (args, message) => {
    const { err, exitCode } = await dev(args);
    expect(exitCode).toBe(1);
    expect(err).toContain(message);
  });
});
