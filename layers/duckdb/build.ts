/**
 * Builds the DuckDB Lambda layer into layers/duckdb/.build/nodejs/node_modules (what Lambda puts on
 * the module path as /opt/nodejs/node_modules): `npm ci` of this folder's lock file for linux-arm64,
 * then checks that every native file is an aarch64 ELF needing glibc <= 2.34 and GLIBCXX <= 3.4.29
 * (Amazon Linux 2023, the nodejs22.x runtime), and prints the layer's size. Run by the serverless
 * plugin beside it before `sls package`/`sls deploy`; `npx tsx layers/duckdb/build.ts` by hand.
 * A build whose lock and checks have not changed is kept.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { compareVersions, neededVersions, newestNeeded } from './elf-versions';

const HERE = resolve(__dirname);
const ROOT = resolve(HERE, '../..');
export const LAYER_DIR = join(HERE, '.build');
const MODULES = join(LAYER_DIR, 'nodejs');

/** Amazon Linux 2023 (the nodejs22.x runtime): glibc 2.34, libstdc++ of GCC 11. */
export const MAX_GLIBC = '2.34';
export const MAX_GLIBCXX = '3.4.29';
const EM_AARCH64 = 183;

/** Raised when the layer cannot be built or would not run on the Lambda runtime. */
export class LayerBuildError extends Error {
  override name = 'LayerBuildError';
}

function readJson(file: string): { dependencies?: Record<string, string> } {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Every file under a folder, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? filesUnder(path) : e.isFile() ? [path] : [];
  });
}

/** Total size in bytes of the files under a folder. */
export function folderBytes(dir: string): number {
  return filesUnder(dir).reduce((sum, f) => sum + statSync(f).size, 0);
}

/** What a native file may need: Lambda arm64 on Amazon Linux 2023 by default. */
export interface NativeLimits {
  machine: number;
  maxGlibc: string;
  maxGlibcxx: string;
}
const LAMBDA_ARM64: NativeLimits = { machine: EM_AARCH64, maxGlibc: MAX_GLIBC, maxGlibcxx: MAX_GLIBCXX };

/** The problems of one native file for the Lambda runtime (empty when it fits). */
export function nativeProblems(file: string, limits: NativeLimits = LAMBDA_ARM64): string[] {
  const problems: string[] = [];
  const machine = readFileSync(file).readUInt16LE(0x12);
  if (machine !== limits.machine)
    problems.push(
      `is not an ${limits.machine === EM_AARCH64 ? 'aarch64' : `e_machine ${limits.machine}`} ELF (e_machine ${machine})`,
    );
  const versions = neededVersions(file);
  const glibc = newestNeeded(versions, 'GLIBC_');
  const glibcxx = newestNeeded(versions, 'GLIBCXX_');
  if (glibc && compareVersions(glibc, limits.maxGlibc) > 0) {
    problems.push(`needs GLIBC_${glibc} (the runtime has ${limits.maxGlibc})`);
  }
  if (glibcxx && compareVersions(glibcxx, limits.maxGlibcxx) > 0) {
    problems.push(`needs GLIBCXX_${glibcxx} (the runtime has ${limits.maxGlibcxx})`);
  }
  return problems;
}

function stamp(): string {
  const hash = createHash('sha256');
  for (const f of ['package.json', 'package-lock.json', 'build.ts', 'elf-versions.ts'])
    hash.update(readFileSync(join(HERE, f)));
  return hash.digest('hex');
}

/** Builds (or keeps) the layer and returns its folder; throws a LayerBuildError when it would not run on Lambda. */
export function buildLayer(log: (line: string) => void = console.log): string {
  const pinned = readJson(join(ROOT, 'package.json')).dependencies?.['@duckdb/node-api'];
  const layerPin = readJson(join(HERE, 'package.json')).dependencies?.['@duckdb/node-api'];
  if (pinned !== layerPin) {
    throw new LayerBuildError(
      `layers/duckdb/package.json pins @duckdb/node-api ${layerPin}, package.json ${pinned}: make them equal and run \`npm install --package-lock-only\` in layers/duckdb`,
    );
  }
  const stampFile = join(LAYER_DIR, '.stamp');
  const wanted = stamp();
  if (!existsSync(stampFile) || readFileSync(stampFile, 'utf8') !== wanted) {
    rmSync(LAYER_DIR, { recursive: true, force: true });
    mkdirSync(MODULES, { recursive: true });
    cpSync(join(HERE, 'package.json'), join(MODULES, 'package.json'));
    cpSync(join(HERE, 'package-lock.json'), join(MODULES, 'package-lock.json'));
    log(`duckdb layer: npm ci @duckdb/node-api ${pinned} for linux-arm64`);
    execFileSync(
      'npm',
      [
        'ci',
        '--omit=dev',
        '--cpu=arm64',
        '--os=linux',
        '--libc=glibc',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
      ],
      { cwd: MODULES, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    rmSync(join(MODULES, 'package-lock.json'));
  }
  const native = filesUnder(MODULES).filter((f) => /\.(node|so)(\.\d+)*$/.test(f));
  if (!native.some((f) => f.endsWith('libduckdb.so'))) {
    throw new LayerBuildError('the layer has no libduckdb.so: the linux-arm64 bindings were not installed');
  }
  const problems = native.flatMap((f) => nativeProblems(f).map((p) => `${relative(LAYER_DIR, f)} ${p}`));
  if (problems.length > 0) {
    rmSync(LAYER_DIR, { recursive: true, force: true });
    throw new LayerBuildError(`the DuckDB layer would not load on Lambda:\n  ${problems.join('\n  ')}`);
  }
  writeFileSync(stampFile, wanted);
  for (const f of native) {
    const v = neededVersions(f);
    log(
      `duckdb layer: ${relative(LAYER_DIR, f)} aarch64, needs GLIBC_${newestNeeded(v, 'GLIBC_')} GLIBCXX_${newestNeeded(v, 'GLIBCXX_') ?? '-'} (max ${MAX_GLIBC}, ${MAX_GLIBCXX})`,
    );
  }
  log(
    `duckdb layer: ${(folderBytes(MODULES) / 2 ** 20).toFixed(1)} MiB unzipped in ${relative(ROOT, LAYER_DIR)}`,
  );
  return LAYER_DIR;
}

if (require.main === module) {
  try {
    buildLayer();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
