import { relative } from 'node:path';
import { type Command, Option } from 'commander';
import { EVENT_TYPES, listSchemas } from '../../lib/schemas';
import { checkCompatibility, unrecordedAdditions } from '../../lib/schemas/compat';
import { currentLock, LOCK_PATH, LockFileError, readLock, writeLock } from '../schemas-lock';
import { type Output, stdio } from '../stdio';
import type { RegisterCommand } from './register';

/** Options of `logbase schemas`. */
export interface SchemasOptions {
  json?: boolean;
  check?: boolean;
  writeLock?: boolean;
  lock?: string;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function list(type: string | undefined, options: SchemasOptions, io: Output): number {
  if (type !== undefined && !(EVENT_TYPES as readonly string[]).includes(type)) {
    io.err(`unknown event type "${type}"; known types: ${EVENT_TYPES.join(', ')}`);
    return 1;
  }
  const schemas = listSchemas().filter((s) => type === undefined || s.type === type);
  if (options.json) {
    io.out(JSON.stringify(schemas, null, 2));
    return 0;
  }
  const rows = [['TYPE', 'VERSION', 'FIELD', 'COLUMN TYPE', 'REQUIRED', 'DESCRIPTION']];
  for (const s of schemas) {
    const version = s.latest ? `${s.version} (latest)` : String(s.version);
    for (const f of s.fields) {
      rows.push([s.type, version, f.name, f.type, f.required ? 'yes' : 'no', f.description ?? '']);
    }
  }
  for (const line of table(rows)) io.out(line);
  return 0;
}

function check(options: SchemasOptions, io: Output): number {
  const path = options.lock ?? LOCK_PATH;
  const file = relative(process.cwd(), path) || path;
  const locked = readLock(path).schemas;
  const current = currentLock();
  const problems = checkCompatibility(locked, current.schemas);
  const additions = unrecordedAdditions(locked, current.schemas);
  if (problems.length > 0) {
    io.err(`${problems.length} incompatible schema change(s) against ${file}:`);
    for (const p of problems) io.err(`  - ${p}`);
    if (options.writeLock) io.err('lock not written: fix the problems above first');
    return 1;
  }
  if (options.writeLock) {
    writeLock(current, path);
    io.out(
      additions.length > 0
        ? `recorded ${additions.length} compatible change(s) in ${file}:\n${additions.map((a) => `  - ${a}`).join('\n')}`
        : `${file} is already up to date (${current.schemas.length} schemas)`,
    );
    return 0;
  }
  if (additions.length > 0) {
    io.err(`compatible, but ${file} does not record these changes yet (run logbase schemas --write-lock):`);
    for (const a of additions) io.err(`  - ${a}`);
    return 1;
  }
  io.out(`schemas are compatible with ${file} (${current.schemas.length} schemas, no unrecorded changes)`);
  return 0;
}

/** Runs `logbase schemas` and returns its exit code; the lock errors are reported, not thrown. */
export function runSchemas(type: string | undefined, options: SchemasOptions, io: Output = stdio): number {
  if (!options.check && !options.writeLock) return list(type, options, io);
  try {
    return check(options, io);
  } catch (error) {
    if (error instanceof LockFileError) {
      io.err(error.message);
      return 1;
    }
    throw error;
  }
}

/** Registers `logbase schemas [type] [--json] [--check] [--write-lock]`. */
export const registerSchemas: RegisterCommand = (program: Command) => {
  program
    .command('schemas')
    .description('list event schemas (types, versions, fields) and check them against the published lock')
    .argument('[type]', `only this event type (${EVENT_TYPES.join(', ')})`)
    .option('--json', 'print the schemas as JSON')
    .addOption(
      new Option(
        '--check',
        'exit 1 when the registry breaks a published version or the lock is stale',
      ).conflicts('writeLock'),
    )
    .option('--write-lock', 'record compatible changes in the lock; refused when a change is incompatible')
    .option(
      '--lock <file>',
      `lock file to check against or write (default: ${relative(process.cwd(), LOCK_PATH)})`,
    )
    .addHelpText(
      'after',
      '\nPublished versions are immutable: add optional fields in place, anything else in a new version.',
    )
    .action((type: string | undefined, options: SchemasOptions) => {
      process.exitCode = runSchemas(type, options);
    });
};
