import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

/**
 * What `npx sls deploy --stage <stage>` would send to CloudFormation: `sls package` (offline, no AWS
 * credentials), for the deploy tests. A stage's template is a function of the checkout alone (every
 * file git tracks or would track, the lock file included), so it is packaged once per content hash and
 * kept under the temp dir: the deploy test files share one `sls package` per stage, and any edit to the
 * tree packages again.
 */
const ROOT = resolve(__dirname, '../..');
const run = promisify(execFile);

export type PackagedTemplate = { Resources: Record<string, any>; Outputs?: Record<string, any> };

let treeHash: Promise<string> | undefined;

/** A hash of every tracked and untracked-but-not-ignored file of the checkout, by path and content. */
function hashTree(): Promise<string> {
  treeHash ??= (async () => {
    const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    const hash = createHash('sha256');
    for (const path of stdout.split('\0').filter(Boolean).sort()) {
      const file = join(ROOT, path);
      hash.update(`${path}\0`);
      if (existsSync(file)) hash.update(await readFile(file));
    }
    return hash.digest('hex').slice(0, 24);
  })();
  return treeHash;
}

/** The packaged CloudFormation template of a stage. */
export async function packageStage<T = PackagedTemplate>(stage: string): Promise<T> {
  const cacheDir = join(tmpdir(), 'logbase-sls-package');
  const cached = join(cacheDir, `${stage}-${await hashTree()}.json`);
  if (existsSync(cached)) return JSON.parse(await readFile(cached, 'utf8')) as T;
  const dir = await mkdtemp(join(tmpdir(), `logbase-package-${stage}-`));
  try {
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_PROFILE: '',
      SLS_TELEMETRY_DISABLED: '1',
    };
    await run(join(ROOT, 'node_modules/.bin/sls'), ['package', '--stage', stage, '--package', dir], {
      cwd: ROOT,
      env,
      maxBuffer: 16 * 1024 * 1024,
    });
    const text = await readFile(join(dir, 'cloudformation-template-update-stack.json'), 'utf8');
    await mkdir(cacheDir, { recursive: true });
    // Written whole, then renamed: a test file reading the cache never sees half a template.
    const partial = `${cached}.${process.pid}.tmp`;
    await writeFile(partial, text);
    await rename(partial, cached);
    return JSON.parse(text) as T;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
