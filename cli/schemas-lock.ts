import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as Tb from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { type LockedSchema, toLocked } from '../lib/schemas/compat';
import { explainValue, type FieldError } from '../lib/schemas/explain';
import { listSchemas } from '../lib/schemas/index';

/**
 * The committed snapshot of published schema shapes, beside the registry. Reading and writing it is
 * the CLI's (`logbase schemas --check | --write-lock`) and the tests' business: nothing in a Lambda
 * reads it, so this module lives under cli/, not lib/.
 */
export const LOCK_PATH = join(__dirname, '../lib/schemas/registry.lock.json');

/** Raised when the lock file is missing, not JSON, or not shaped like a lock. */
export class LockFileError extends Error {
  override name = 'LockFileError';
}

/** The lock file's content. */
export interface RegistryLock {
  comment: string;
  schemas: LockedSchema[];
}

const COMMENT =
  'Published event schema shapes. Written by `logbase schemas --write-lock`; checked by `logbase schemas --check` and the unit tests. Do not edit by hand.';

const LockFileSchema = Tb.Object(
  {
    comment: Tb.String(),
    schemas: Tb.Array(
      Tb.Object(
        {
          type: Tb.String({ minLength: 1 }),
          version: Tb.Integer({ minimum: 1 }),
          fields: Tb.Array(
            Tb.Object(
              {
                name: Tb.String({ minLength: 1 }),
                type: Tb.Union(
                  (
                    [
                      'string',
                      'int',
                      'bigint',
                      'double',
                      'boolean',
                      'timestamp',
                      'map<string,string>',
                    ] as const
                  ).map((t) => Tb.Literal(t)),
                ),
                required: Tb.Boolean(),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
const checkLockFile = TypeCompiler.Compile(LockFileSchema);

/** The registry as it is now, in lock form. */
export function currentLock(): RegistryLock {
  return { comment: COMMENT, schemas: toLocked(listSchemas()) };
}

/** Reads and checks a lock file; throws a LockFileError that names the file and the problem. */
export function readLock(file: string = LOCK_PATH): RegistryLock {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new LockFileError(
      `cannot read schema lock ${file}: ${reason} (create it with logbase schemas --write-lock)`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new LockFileError(`schema lock ${file} is not valid JSON: ${reason}`);
  }
  if (!checkLockFile.Check(parsed)) {
    const errors: FieldError[] = [];
    explainValue(LockFileSchema, parsed, '', errors);
    const detail = errors.slice(0, 5).map((e) => `${e.path || '(root)'} ${e.message}`);
    throw new LockFileError(`schema lock ${file} is malformed: ${detail.join('; ')}`);
  }
  return parsed;
}

/** Serialises a lock: one field per line, so diffs show exactly which field changed. */
export function formatLock(lock: RegistryLock): string {
  const schemas = lock.schemas.map((s) => {
    const fields = s.fields.map(
      (f) =>
        `        { "name": ${JSON.stringify(f.name)}, "type": ${JSON.stringify(f.type)}, "required": ${f.required} }`,
    );
    return `    {\n      "type": ${JSON.stringify(s.type)},\n      "version": ${s.version},\n      "fields": [\n${fields.join(',\n')}\n      ]\n    }`;
  });
  return `{\n  "comment": ${JSON.stringify(lock.comment)},\n  "schemas": [\n${schemas.join(',\n')}\n  ]\n}\n`;
}

/** Writes a lock file. */
export function writeLock(lock: RegistryLock, file: string = LOCK_PATH): void {
  writeFileSync(file, formatLock(lock));
}
