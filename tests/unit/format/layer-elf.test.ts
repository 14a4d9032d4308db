import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { nativeProblems } from '../../../layers/duckdb/build';
import { compareVersions, neededVersions, newestNeeded } from '../../../layers/duckdb/elf-versions';

const LOCAL_LIB = resolve(__dirname, '../../../node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so');

function hasObjdump(): boolean {
  try {
    execFileSync('objdump', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('The layer build native-file check', () => {
  (hasObjdump() ? it : it.skip)('reads the same glibc and GLIBCXX versions as objdump -T', () => {
    // Prepare
    const dump = execFileSync('objdump', ['-T', LOCAL_LIB], { maxBuffer: 256 * 1024 * 1024 }).toString();
    const byObjdump = (prefix: string) =>
      [...dump.matchAll(new RegExp(`\\b${prefix}([0-9.]+)\\b`, 'g'))]
        .map((m) => m[1] as string)
        .sort(compareVersions)
        .at(-1);
    // Act
    const versions = neededVersions(LOCAL_LIB);
    // Assess
    expect(newestNeeded(versions, 'GLIBC_')).toBe(byObjdump('GLIBC_'));
    expect(newestNeeded(versions, 'GLIBCXX_')).toBe(byObjdump('GLIBCXX_'));
  });

  it('refuses a native file built for another machine than Lambda arm64', () => {
    expect(nativeProblems(LOCAL_LIB)).toEqual([expect.stringMatching(/is not an aarch64 ELF/)]);
  });

  it('refuses a native file that needs a newer glibc or GLIBCXX than the runtime has, saying which', () => {
    // Prepare: the local build needs GLIBC_2.25 and GLIBCXX_3.4.22; pretend the runtime is older.
    const x86_64 = 62;
    // Act
    const problems = nativeProblems(LOCAL_LIB, { machine: x86_64, maxGlibc: '2.24', maxGlibcxx: '3.4.21' });
    // Assess
    expect(problems).toEqual([
      'needs GLIBC_2.25 (the runtime has 2.24)',
      'needs GLIBCXX_3.4.22 (the runtime has 3.4.21)',
    ]);
    expect(nativeProblems(LOCAL_LIB, { machine: x86_64, maxGlibc: '2.34', maxGlibcxx: '3.4.29' })).toEqual(
      [],
    );
  });

  it('compares versions numerically (2.34 is newer than 2.4)', () => {
    expect(compareVersions('2.34', '2.4')).toBeGreaterThan(0);
    expect(compareVersions('3.4.29', '3.4.30')).toBeLessThan(0);
  });
});
