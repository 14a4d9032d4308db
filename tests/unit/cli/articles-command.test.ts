import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Command, CommanderError } from 'commander';
import { registerArticles } from '../../../cli/commands/articles';
import { generateArticles } from '../../../cli/traffic/articles';
import { fakeArticlesApi } from './articles-server';

/** Runs `logbase articles <args>` in-process; resolves with what it printed and the exit code it set. */
async function run(args: string[]): Promise<{ out: string; err: string; exitCode: number | undefined }> {
  let out = '';
  let err = '';
  const program = new Command('logbase')
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  registerArticles(program);
  for (const sub of program.commands) for (const c of [sub, ...sub.commands]) c.exitOverride();
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'logbase', 'articles', ...args]);
    return { out, err, exitCode: process.exitCode as number | undefined };
  } catch (error) {
    if (error instanceof CommanderError) return { out, err, exitCode: error.exitCode };
    throw error;
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    process.exitCode = undefined;
  }
}

describe('logbase articles', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'logbase-articles-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('generate writes the article set of a seed as gzip JSON lines', async () => {
    // Act
    const file = join(dir, 'set.jsonl.gz');
    const { out, exitCode } = await run(['generate', '--seed', '9', '--articles', '40', '--out', file]);

    // Assess
    expect(exitCode).toBeUndefined();
    expect(out).toBe(`wrote 40 articles to ${file} (the ids of logbase send --generate --seed 9)\n`);
    const lines = gunzipSync(readFileSync(file))
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((a) => a.article_id)).toEqual(
      generateArticles({ seed: 9, articles: 40 }).map((a) => a.article_id),
    );
  });

  it('load prints the summary with the rejection reasons and exits 2 when some were rejected', async () => {
    // Prepare
    const articles: Record<string, unknown>[] = generateArticles({ seed: 2, articles: 12 }).map((a) => ({
      ...a,
    }));
    articles[3] = { ...articles[3], body: '' };
    const file = join(dir, 'crawl.jsonl');
    writeFileSync(file, `${articles.map((a) => JSON.stringify(a)).join('\n')}\nnot json\n`);
    const api = await fakeArticlesApi();

    // Act
    const { out, err, exitCode } = await run([
      'load',
      file,
      '--endpoint',
      api.url,
      '--api-key',
      'lb_test_key',
      '--no-progress',
    ]);
    await api.close();

    // Assess
    expect(exitCode).toBe(2);
    expect(out).toContain(`sending 13 articles to ${api.url}/v1/articles\n`);
    expect(out).toMatch(/ {2}articles sent +12\n {2}accepted +11\n {2}rejected +1\n/);
    expect(out).toContain('    1  /body: must not be empty');
    expect(err).toContain(`skipped line 13 of ${file}: not valid JSON`);
    expect(api.received[0]?.headers['x-api-key']).toBe('lb_test_key');
  });

  it('load exits 1 with a clear error when the file does not exist', async () => {
    const { err, exitCode } = await run(['load', join(dir, 'missing.jsonl'), '--api-key', 'k']);
    expect(exitCode).toBe(1);
    expect(err).toContain(`error: input file ${join(dir, 'missing.jsonl')} does not exist`);
  });
});
