import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join, resolve } from 'node:path';
import { ServiceConfigError } from './errors';

/** The part of `sls print --format json` output the local stack reads (everything else is kept, untyped). */
export interface PrintedService {
  service: string;
  provider: { stage?: string; region?: string; environment?: Record<string, unknown> } & Record<
    string,
    unknown
  >;
  custom?: Record<string, unknown>;
  functions?: Record<string, PrintedFunction>;
  resources?: { Resources?: Record<string, PrintedResource> } & Record<string, unknown>;
  [key: string]: unknown;
}

/** One entry of `functions:` after osls resolved it (`name` is `<service>-<stage>-<key>`). */
export interface PrintedFunction {
  name?: string;
  handler?: string;
  environment?: Record<string, unknown>;
  events?: Record<string, unknown>[];
  [key: string]: unknown;
}

/** One CloudFormation resource of `resources.Resources`. */
export interface PrintedResource {
  Type: string;
  Properties?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface LoadServiceConfigOptions {
  /** Folder holding serverless.yml. */
  serviceDir: string;
  stage: string;
  region?: string;
  /** Reuse a print cached on disk under `<serviceDir>/.logbase/cache/` while its inputs are unchanged (default true). */
  diskCache?: boolean;
}

const memoryCache = new Map<string, Promise<PrintedService>>();
const SLS_PACKAGE_DIR = dirname(require.resolve('serverless/package.json'));
/** node_modules/.bin of the install that provides osls: put first on PATH so `sls` runs on the project's Node. */
export const NODE_BIN_DIR = resolve(SLS_PACKAGE_DIR, '..', '.bin');

/**
 * Resolves serverless.yml for a stage exactly as `sls deploy` would see it, through `sls print --format json`.
 * Cached per (dir, stage, region) in this process, and on disk keyed by a hash of serverless.yml, the files it
 * includes with `${file(...)}` and the osls version, so a second process skips the ~4 s print.
 */
export function loadServiceConfig(options: LoadServiceConfigOptions): Promise<PrintedService> {
  const serviceDir = resolve(options.serviceDir);
  const key = JSON.stringify([serviceDir, options.stage, options.region ?? '']);
  let cached = memoryCache.get(key);
  if (!cached) {
    cached = loadUncached({ ...options, serviceDir });
    cached.catch(() => memoryCache.delete(key));
    memoryCache.set(key, cached);
  }
  return cached;
}

async function loadUncached(options: LoadServiceConfigOptions): Promise<PrintedService> {
  const { serviceDir, stage, region } = options;
  const configPath = join(serviceDir, 'serverless.yml');
  if (!existsSync(configPath)) throw new ServiceConfigError(`no serverless.yml in ${serviceDir}`);
  const useDisk = options.diskCache ?? true;
  const cacheFile = useDisk
    ? join(serviceDir, '.logbase', 'cache', `sls-print-${stage}-${await inputsHash(options)}.json`)
    : '';
  if (useDisk && existsSync(cacheFile)) {
    try {
      return parsePrinted(await readFile(cacheFile, 'utf8'), configPath);
    } catch {
      // A truncated cache file is simply printed again.
    }
  }
  const printed = await runPrint(serviceDir, stage, region);
  const config = parsePrinted(printed, configPath);
  if (useDisk) {
    await mkdir(dirname(cacheFile), { recursive: true });
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(config));
    await rename(tmp, cacheFile);
  }
  return config;
}

async function inputsHash({ serviceDir, stage, region }: LoadServiceConfigOptions): Promise<string> {
  const hash = createHash('sha256');
  const slsVersion = JSON.parse(await readFile(join(SLS_PACKAGE_DIR, 'package.json'), 'utf8'))
    .version as string;
  hash.update(JSON.stringify([stage, region ?? '', slsVersion]));
  const yml = await readFile(join(serviceDir, 'serverless.yml'), 'utf8');
  hash.update(yml);
  for (const match of yml.matchAll(/\$\{file\(([^)]+)\)/g)) {
    const included = join(serviceDir, (match[1] ?? '').trim().replace(/^['"]|['"]$/g, ''));
    hash.update(included);
    hash.update(existsSync(included) ? await readFile(included) : 'missing');
    // An included script's own modules beside it (catalog/*.ts: the datasets' declarations, the Glue tables).
    if (/\.c?js$/.test(included)) {
      const dir = dirname(included);
      for (const file of (await readdir(dir)).filter((f) => f.endsWith('.ts')).sort()) {
        hash.update(await readFile(join(dir, file)));
      }
    }
  }
  return hash.digest('hex').slice(0, 16);
}

function runPrint(serviceDir: string, stage: string, region?: string): Promise<string> {
  const args = ['print', '--stage', stage, '--format', 'json', ...(region ? ['--region', region] : [])];
  const env = {
    ...process.env,
    PATH: `${NODE_BIN_DIR}${delimiter}${process.env.PATH ?? ''}`,
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
  };
  return new Promise((resolvePrint, reject) => {
    execFile(
      join(NODE_BIN_DIR, 'sls'),
      args,
      { cwd: serviceDir, env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error) {
          const detail = `${stderr}\n${stdout}`.trim().split('\n').slice(-15).join('\n');
          reject(new ServiceConfigError(`sls print --stage ${stage} failed in ${serviceDir}:\n${detail}`));
        } else {
          resolvePrint(stdout);
        }
      },
    );
  });
}

function parsePrinted(text: string, configPath: string): PrintedService {
  const start = text.indexOf('{');
  let parsed: unknown;
  try {
    parsed = JSON.parse(start >= 0 ? text.slice(start) : text);
  } catch (error) {
    throw new ServiceConfigError(
      `sls print for ${configPath} did not print JSON: ${(error as Error).message}`,
    );
  }
  const config = parsed as Partial<PrintedService>;
  if (
    typeof config !== 'object' ||
    config === null ||
    typeof config.service !== 'string' ||
    !config.provider
  ) {
    throw new ServiceConfigError(`sls print for ${configPath} printed no service/provider`);
  }
  return config as PrintedService;
}
