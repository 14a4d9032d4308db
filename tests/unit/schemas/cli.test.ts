import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runSchemas, type SchemasOptions } from '../../../cli/commands/schemas';
import { currentLock, formatLock, type RegistryLock } from '../../../cli/schemas-lock';
import { listSchemas } from '../../../lib/schemas';

/** Runs `logbase schemas` in-process and captures what it prints. */
function run(type: string | undefined, options: SchemasOptions) {
  const out: string[] = [];
  const err: string[] = [];
  const code = runSchemas(type, options, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

/** The current lock with `edit` applied to the schema of (type, version). */
function lockWith(
  type: string,
  version: number,
  edit: (s: RegistryLock['schemas'][number]) => void,
): RegistryLock {
  const lock = currentLock();
  const schema = lock.schemas.find((s) => s.type === type && s.version === version);
  if (schema === undefined) throw new Error(`no ${type} v${version} in the registry`);
  edit(schema);
  return lock;
}

let dir: string;
let lockFile: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'logbase-schemas-'));
  lockFile = join(dir, 'registry.lock.json');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('logbase schemas (listing)', () => {
  it('prints a table of type, version, field, column type and required for one type', () => {
    const { code, stdout } = run('ad_impression', {});

    const lines = stdout.split('\n');
    expect(code).toBe(0);
    expect(lines[0]).toMatch(/^TYPE\s+VERSION\s+FIELD\s+COLUMN TYPE\s+REQUIRED\s+DESCRIPTION$/);
    expect(lines).toHaveLength(1 + 13);
    expect(lines).toContainEqual(
      expect.stringMatching(/^ad_impression\s+1 \(latest\)\s+campaign_id\s+string\s+no\s+/),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^ad_impression\s+1 \(latest\)\s+position\s+int\s+yes\s+/),
    );
    expect(stdout).not.toContain('click');
  });

  it('lists every type when no type is given', () => {
    const { stdout } = run(undefined, {});

    for (const type of ['click', 'impression', 'ad_impression', 'action']) {
      expect(stdout).toMatch(new RegExp(`^${type}\\s+1 \\(latest\\)\\s+event_id`, 'm'));
    }
  });

  it('prints the schemas as JSON with --json', () => {
    const { code, stdout } = run('action', { json: true });

    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(listSchemas().filter((s) => s.type === 'action'));
  });

  it('fails on an unknown type, listing the known ones', () => {
    const { code, stderr } = run('scroll', {});

    expect(code).toBe(1);
    expect(stderr).toBe('unknown event type "scroll"; known types: click, impression, ad_impression, action');
  });
});

describe('logbase schemas --check', () => {
  it('passes against the committed lock', () => {
    const { code, stdout } = run(undefined, { check: true });

    expect(code).toBe(0);
    expect(stdout).toContain('schemas are compatible with');
    expect(stdout).toContain('(4 schemas, no unrecorded changes)');
  });

  it('fails with one line per incompatible change', () => {
    writeFileSync(
      lockFile,
      formatLock(
        lockWith('click', 1, (s) => {
          for (const f of s.fields) if (f.name === 'position') f.type = 'string';
        }),
      ),
    );

    const { code, stderr } = run(undefined, { check: true, lock: lockFile });

    expect(code).toBe(1);
    expect(stderr).toContain('1 incompatible schema change(s) against');
    expect(stderr).toContain(
      '  - click v1: field "position" changed type string -> int; published versions are immutable: add click v2 instead',
    );
  });

  it('fails when the lock does not record a compatible addition yet', () => {
    writeFileSync(
      lockFile,
      formatLock(
        lockWith('ad_impression', 1, (s) => (s.fields = s.fields.filter((f) => f.name !== 'campaign_id'))),
      ),
    );

    const { code, stderr } = run(undefined, { check: true, lock: lockFile });

    expect(code).toBe(1);
    expect(stderr).toContain('run logbase schemas --write-lock');
    expect(stderr).toContain('  - ad_impression v1: new optional field "campaign_id" (string)');
  });

  it('fails with a clear message when the lock file is missing', () => {
    const { code, stderr } = run(undefined, { check: true, lock: lockFile });

    expect(code).toBe(1);
    expect(stderr).toContain(`cannot read schema lock ${lockFile}`);
    expect(stderr).toContain('create it with logbase schemas --write-lock');
  });

  it('fails with the path of the problem when the lock file is malformed', () => {
    const lock = currentLock() as unknown as { schemas: { fields: { required: unknown }[] }[] };
    const field = lock.schemas[0]?.fields[2];
    if (field) field.required = 'yes';
    writeFileSync(lockFile, JSON.stringify(lock));

    const { code, stderr } = run(undefined, { check: true, lock: lockFile });

    expect(code).toBe(1);
    expect(stderr).toContain('is malformed: /schemas/0/fields/2/required must be a boolean, got "yes"');
  });
});

describe('logbase schemas --write-lock', () => {
  it('records compatible additions and then passes --check', () => {
    const stale = currentLock();
    stale.schemas = stale.schemas.filter((s) => s.type !== 'action');
    writeFileSync(lockFile, formatLock(stale));

    const written = run(undefined, { writeLock: true, lock: lockFile });
    const checked = run(undefined, { check: true, lock: lockFile });

    expect(written.code).toBe(0);
    expect(written.stdout).toContain('recorded 1 compatible change(s)');
    expect(written.stdout).toContain('  - action v1: new version with 12 fields');
    expect(readFileSync(lockFile, 'utf8')).toBe(formatLock(currentLock()));
    expect(checked.code).toBe(0);
  });

  it('refuses to write when a change is incompatible, leaving the lock as it was', () => {
    const lock = formatLock(
      lockWith('impression', 1, (s) => s.fields.push({ name: 'gone', type: 'int', required: true })),
    );
    writeFileSync(lockFile, lock);

    const { code, stderr } = run(undefined, { writeLock: true, lock: lockFile });

    expect(code).toBe(1);
    expect(stderr).toContain('impression v1: field "gone" was removed');
    expect(stderr).toContain('lock not written');
    expect(readFileSync(lockFile, 'utf8')).toBe(lock);
  });
});

describe('the logbase binary', () => {
  // Each test starts the CLI in a new process (tsx compiles it first): seconds on a busy machine.
  jest.setTimeout(30_000);
  const exec = promisify(execFile);
  const bin = join(__dirname, '../../../bin/logbase.cjs');

  it('shows help for the schemas command', async () => {
    const { stdout } = await exec(process.execPath, [bin, 'schemas', '--help']);

    expect(stdout).toContain('Usage: logbase schemas [options] [type]');
    expect(stdout).toContain('--write-lock');
  });

  it('exits 1 from --check when the lock is incompatible', async () => {
    writeFileSync(lockFile, formatLock(lockWith('click', 1, (s) => s.fields.pop())));

    const failure = await exec(process.execPath, [bin, 'schemas', '--check', '--lock', lockFile]).catch(
      (e) => e,
    );

    expect(failure.code).toBe(1);
    expect(failure.stderr).toContain('click v1: new field "request_id" is required');
  });
});
